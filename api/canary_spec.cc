#include "api/canary_spec.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>
#include <stdexcept>

#include "core/duration.h"
#include "core/url.h"

namespace sluice::api {
namespace {

using json = nlohmann::json;

// Reads an optional integer field; a present value of the wrong type is an error.
struct Reader {
  const json& obj;
  std::string path;
  std::optional<SpecError>& error;

  const json* Get(const char* key) const {
    if (!obj.is_object() || !obj.contains(key) || obj[key].is_null()) return nullptr;
    return &obj[key];
  }
  void Fail(const std::string& field, const std::string& message) const {
    if (!error) error = SpecError{path + "." + field, message};
  }
  void FailAt(const SpecError& e) const {
    if (!error) error = e;
  }
  int Int(const char* key, int def, int min, int max) const {
    const json* v = Get(key);
    if (!v) return def;
    if (!v->is_number_integer()) {
      Fail(key, "must be an integer, got " + v->dump());
      return def;
    }
    long long n = v->get<long long>();
    if (n < min || n > max) {
      Fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " +
                    std::to_string(n));
      return def;
    }
    return static_cast<int>(n);
  }
  bool Bool(const char* key, bool def) const {
    const json* v = Get(key);
    if (!v) return def;
    if (!v->is_boolean()) {
      Fail(key, "must be true or false, got " + v->dump());
      return def;
    }
    return v->get<bool>();
  }
  std::string String(const char* key, const std::string& def = "") const {
    const json* v = Get(key);
    if (!v) return def;
    if (!v->is_string()) {
      Fail(key, "must be a string, got " + v->dump());
      return def;
    }
    return v->get<std::string>();
  }
  Reader Child(const char* key) const {
    static const json kEmpty = json::object();
    const json* v = Get(key);
    if (v && !v->is_object()) Fail(key, "must be an object");
    return Reader{v && v->is_object() ? *v : kEmpty, path + "." + key, error};
  }
};

void ParseTarget(const Reader& spec, CanarySpec& out) {
  Reader target = spec.Child("targetRef");
  if (!spec.Get("targetRef")) return spec.Fail("targetRef", "is required: the Deployment to roll out");
  std::string kind = target.String("kind");
  std::string api_version = target.String("apiVersion");
  if (kind != "Deployment" || (api_version != "apps/v1" && !api_version.empty()))
    target.Fail("kind", "must be Deployment (apps/v1), got " + (api_version.empty() ? "" : api_version + " ") +
                            (kind.empty() ? "nothing" : kind));
  out.target_name = target.String("name");
  if (out.target_name.empty()) target.Fail("name", "is required: the name of the target Deployment");
}

void ParseService(const Reader& spec, CanarySpec& out) {
  if (!spec.Get("service")) return spec.Fail("service", "is required: at least service.port");
  Reader svc = spec.Child("service");
  out.service_name = svc.String("name", out.target_name);
  out.service_port = svc.Int("port", 0, 1, 65535);
  if (!svc.Get("port")) svc.Fail("port", "is required: the port the Services expose (1-65535)");
}

void ParseStepWeights(const Reader& analysis, AnalysisSpec& a) {
  const json* steps = analysis.Get("stepWeights");
  if (!steps) return;
  if (!steps->is_array()) return analysis.Fail("stepWeights", "must be a list of weights (1-100)");
  int previous = 0;
  for (size_t i = 0; i < steps->size(); ++i) {
    const json& w = (*steps)[i];
    std::string field = "stepWeights[" + std::to_string(i) + "]";
    if (!w.is_number_integer() || w.get<long long>() < 1 || w.get<long long>() > 100)
      return analysis.Fail(field, "must be an integer between 1 and 100, got " + w.dump());
    int weight = w.get<int>();
    if (weight <= previous)
      return analysis.Fail(field, "must be greater than the previous entry (" + std::to_string(previous) +
                                      "), got " + std::to_string(weight));
    previous = weight;
    a.step_weights.push_back(weight);
  }
}

void ParseAnalysis(const Reader& spec, CanarySpec& out) {
  Reader analysis = spec.Child("analysis");
  AnalysisSpec& a = out.analysis;
  std::string interval = analysis.String("interval", "60s");
  auto parsed = core::ParseDuration(interval);
  if (!parsed || *parsed < Millis(1000))
    analysis.Fail("interval", "must be a duration of at least 1s such as 30s or 1m, got \"" + interval + "\"");
  else
    a.interval = *parsed;
  a.threshold = analysis.Int("threshold", 5, 1, 1000);
  a.max_weight = analysis.Int("maxWeight", 0, 1, 100);
  a.step_weight = analysis.Int("stepWeight", 0, 1, 100);
  a.step_weight_promotion = analysis.Int("stepWeightPromotion", 0, 1, 100);
  a.iterations = analysis.Int("iterations", 0, 1, 100000);
  a.mirror = analysis.Bool("mirror", false);
  a.mirror_weight = analysis.Int("mirrorWeight", 0, 0, 100);
  ParseStepWeights(analysis, a);
  if (a.step_weight > 0 && !a.step_weights.empty())
    analysis.Fail("stepWeights", "cannot be set together with stepWeight: choose one schedule");
  if (!a.step_weights.empty() && a.max_weight > 0 && a.step_weights.back() > a.max_weight)
    analysis.Fail("maxWeight", "must be at least the last stepWeights entry (" +
                                   std::to_string(a.step_weights.back()) + ")");
  const json* match = analysis.Get("match");
  a.has_match = match && match->is_array() && !match->empty();
  if (a.has_match && a.iterations == 0)
    analysis.Fail("iterations", "is required with analysis.match (A/B testing runs for a number of iterations)");
  bool progressive = a.iterations == 0 && out.provider_weighted;
  if (progressive && a.step_weight == 0 && a.step_weights.empty())
    analysis.Fail("stepWeight", "is required for a progressive canary (or set stepWeights, or iterations for blue/green)");
  if (!out.provider_weighted && a.iterations == 0)
    analysis.Fail("iterations", "is required with provider " + out.provider +
                                    " (it cannot split traffic by weight: blue/green switches after the iterations)");
  if (const json* metrics = analysis.Get("metrics")) {
    auto parsed = ParseMetrics(*metrics, analysis.path + ".metrics");
    if (auto* e = std::get_if<SpecError>(&parsed)) return analysis.FailAt(*e);
    a.metrics = std::get<std::vector<MetricSpec>>(std::move(parsed));
  }
  if (const json* hooks = analysis.Get("webhooks")) {
    auto parsed = ParseWebhooks(*hooks, analysis.path + ".webhooks");
    if (auto* e = std::get_if<SpecError>(&parsed)) return analysis.FailAt(*e);
    a.webhooks = std::get<std::vector<WebhookSpec>>(std::move(parsed));
  }
  if (const json* alerts = analysis.Get("alerts")) {
    auto parsed = ParseAlerts(*alerts, analysis.path + ".alerts");
    if (auto* e = std::get_if<SpecError>(&parsed)) return analysis.FailAt(*e);
    a.alerts = std::get<std::vector<AlertSpec>>(std::move(parsed));
  }
}

// A duration field of at least `min`; absent gives nullopt.
std::optional<Millis> Duration(const Reader& r, const char* key, Millis min, const char* example) {
  const json* v = r.Get(key);
  if (!v) return std::nullopt;
  auto parsed = v->is_string() ? core::ParseDuration(v->get<std::string>()) : std::nullopt;
  if (!parsed || *parsed < min) {
    r.Fail(key, std::string("must be a duration of at least ") + core::FormatDuration(min) + " such as " + example +
                    ", got " + v->dump());
    return std::nullopt;
  }
  return parsed;
}

std::optional<double> Bound(const Reader& range, const char* key) {
  const json* v = range.Get(key);
  if (!v) return std::nullopt;
  if (!v->is_number()) {
    range.Fail(key, "must be a number, got " + v->dump());
    return std::nullopt;
  }
  return v->get<double>();
}

MetricSpec ParseMetric(const Reader& m) {
  MetricSpec out;
  out.name = m.String("name");
  if (out.name.empty()) m.Fail("name", "is required: a name unique among the Canary's metrics");
  out.interval = Duration(m, "interval", Millis(1000), "30s or 1m");
  if (m.Get("thresholdRange")) {
    Reader range = m.Child("thresholdRange");
    out.min = Bound(range, "min");
    out.max = Bound(range, "max");
    if (out.min && out.max && *out.min > *out.max)
      range.Fail("min", "must not be greater than max (" + range.Get("max")->dump() + "), got " +
                            range.Get("min")->dump());
  }
  if (m.Get("templateRef")) {
    Reader ref = m.Child("templateRef");
    out.template_name = ref.String("name");
    out.template_namespace = ref.String("namespace");
    if (out.template_name.empty()) ref.Fail("name", "is required: the MetricTemplate's name");
  }
  out.query = m.String("query");
  if (!out.template_name.empty() && !out.query.empty())
    m.Fail("query", "cannot be set together with templateRef: choose one");
  if (const json* vars = m.Get("templateVariables")) {
    if (!vars->is_object()) m.Fail("templateVariables", "must be an object of strings");
    else
      for (const auto& [k, v] : vars->items()) {
        if (!v.is_string()) m.Fail("templateVariables." + k, "must be a string, got " + v.dump());
        else out.template_variables[k] = v.get<std::string>();
      }
  }
  if (const json* compare = m.Get("compare")) {
    if (!compare->is_object()) m.Fail("compare", "must be an object");
    else out.compare = *compare;
  }
  return out;
}

WebhookSpec ParseWebhook(const Reader& h) {
  WebhookSpec out;
  out.name = h.String("name");
  if (out.name.empty()) h.Fail("name", "is required: a name unique among the Canary's webhooks");
  out.type = h.String("type", "rollout");
  if (std::find(std::begin(kWebhookTypes), std::end(kWebhookTypes), out.type) == std::end(kWebhookTypes))
    h.Fail("type", "must be one of confirm-rollout, pre-rollout, rollout, confirm-traffic-increase, "
                   "confirm-promotion, post-rollout, rollback, event, got \"" + out.type + "\"");
  out.url = h.String("url");
  try {
    core::SplitUrl(out.url);
  } catch (const std::exception& e) {
    h.Fail("url", std::string("must be an http:// or https:// URL with a host: ") + e.what());
  }
  out.timeout = Duration(h, "timeout", Millis(1), "10s or 500ms");
  if (h.Get("retries")) out.retries = h.Int("retries", 0, 0, 10);
  if (const json* metadata = h.Get("metadata")) {
    if (!metadata->is_object()) h.Fail("metadata", "must be an object of strings");
    else out.metadata = *metadata;
  }
  return out;
}

AlertSpec ParseAlert(const Reader& a) {
  AlertSpec out;
  out.name = a.String("name");
  if (out.name.empty()) a.Fail("name", "is required: a name unique among the Canary's alerts");
  out.severity = a.String("severity", out.severity);
  if (std::find(std::begin(kAlertSeverities), std::end(kAlertSeverities), out.severity) == std::end(kAlertSeverities))
    a.Fail("severity", "must be one of info, warn, error, got \"" + out.severity + "\"");
  Reader ref = a.Child("providerRef");
  out.provider_name = ref.String("name");
  if (out.provider_name.empty()) ref.Fail("name", "is required: the AlertProvider to send through");
  out.provider_namespace = ref.String("namespace");
  return out;
}

// Parses each entry of a list with `one`, refusing a name used twice.
template <typename T, typename Fn>
std::variant<std::vector<T>, SpecError> ParseNamedList(const json& list, const std::string& path, Fn one) {
  if (!list.is_array()) return SpecError{path, "must be a list"};
  std::optional<SpecError> error;
  std::vector<T> out;
  std::set<std::string> names;
  for (size_t i = 0; i < list.size() && !error; ++i) {
    std::string at = path + "[" + std::to_string(i) + "]";
    if (!list[i].is_object()) return SpecError{at, "must be an object"};
    T item = one(Reader{list[i], at, error});
    if (!error && !names.insert(item.name).second)
      error = SpecError{at + ".name", "\"" + item.name + "\" is used by an earlier entry; names must be unique"};
    out.push_back(std::move(item));
  }
  if (error) return *error;
  return out;
}

// A string field of one status entry, or the fallback when it is absent or not a string: a
// status edited by hand or left by another version must not stop the controller.
std::string StringOr(const json& entry, const char* key, const char* fallback) {
  auto it = entry.find(key);
  return it != entry.end() && it->is_string() ? it->get<std::string>() : fallback;
}

}  // namespace

std::variant<std::vector<MetricSpec>, SpecError> ParseMetrics(const json& metrics, const std::string& path) {
  return ParseNamedList<MetricSpec>(metrics, path, ParseMetric);
}

std::variant<std::vector<WebhookSpec>, SpecError> ParseWebhooks(const json& webhooks, const std::string& path) {
  return ParseNamedList<WebhookSpec>(webhooks, path, ParseWebhook);
}

std::variant<std::vector<AlertSpec>, SpecError> ParseAlerts(const json& alerts, const std::string& path) {
  return ParseNamedList<AlertSpec>(alerts, path, ParseAlert);
}

std::variant<CanarySpec, SpecError> ParseCanarySpec(const json& canary, const std::vector<ProviderInfo>& providers) {
  std::optional<SpecError> error;
  static const json kEmpty = json::object();
  const json& spec_obj = canary.contains("spec") && canary["spec"].is_object() ? canary["spec"] : kEmpty;
  Reader spec{spec_obj, "spec", error};
  if (!canary.contains("spec")) return SpecError{"spec", "is required"};
  CanarySpec out;
  out.provider = spec.String("provider", kDefaultProvider);
  auto known = std::find_if(providers.begin(), providers.end(), [&](const auto& p) { return p.name == out.provider; });
  if (known == providers.end()) {
    std::string names;
    for (const auto& p : providers) names += (names.empty() ? "" : ", ") + p.name;
    spec.Fail("provider", "unknown provider \"" + out.provider + "\"; supported: " + names);
  } else {
    out.provider_weighted = known->weighted;
  }
  ParseTarget(spec, out);
  ParseService(spec, out);
  ParseAnalysis(spec, out);
  out.metrics_server = spec.String("metricsServer");
  if (!out.metrics_server.empty()) {
    try {
      core::SplitUrl(out.metrics_server);
    } catch (const std::exception& e) {
      spec.Fail("metricsServer", std::string("must be the http:// or https:// address of Prometheus: ") + e.what());
    }
  }
  out.progress_deadline = std::chrono::seconds(spec.Int("progressDeadlineSeconds", 600, 1, 86400 * 7));
  out.skip_analysis = spec.Bool("skipAnalysis", false);
  out.suspend = spec.Bool("suspend", false);
  out.revert_on_deletion = spec.Bool("revertOnDeletion", false);
  if (error) return *error;
  return out;
}

json StatusToJson(const CanaryStatus& s) {
  json out = {{"phase", ToString(s.phase)},
              {"canaryWeight", s.canary_weight},
              {"failedChecks", s.failed_checks},
              {"iterations", s.iterations},
              {"stepIndex", s.step_index},
              {"lastAppliedSpec", s.last_applied_spec},
              {"lastPromotedSpec", s.last_promoted_spec},
              {"observedGeneration", s.observed_generation}};
  auto put_time = [&](const char* key, TimePoint t) {
    if (t != TimePoint{}) out[key] = core::FormatMicroTime(t);
  };
  put_time("lastTransitionTime", s.last_transition);
  put_time("lastStepTime", s.last_step);
  put_time("canaryWaitStartedTime", s.canary_wait_started);
  if (!s.tracked_configs.empty()) out["trackedConfigs"] = s.tracked_configs;
  json conditions = json::array();
  for (const auto& c : s.conditions)
    conditions.push_back({{"type", c.type},
                          {"status", c.status},
                          {"reason", c.reason},
                          {"message", c.message},
                          {"observedGeneration", s.observed_generation},
                          {"lastTransitionTime", core::FormatTime(c.last_transition)}});
  out["conditions"] = conditions;
  if (!s.requests.empty()) {
    json requests = json::object();
    for (const auto& [kind, r] : s.requests)
      requests[kind] = {{"value", r.value}, {"outcome", r.outcome}, {"time", core::FormatTime(r.time)}};
    out["requests"] = requests;
  }
  if (!s.metrics.empty()) {
    json metrics = json::array();
    for (const auto& m : s.metrics) {
      json entry = {{"name", m.name}, {"verdict", m.verdict}, {"message", m.message}};
      if (m.value) entry["value"] = *m.value;
      if (m.min) entry["min"] = *m.min;
      if (m.max) entry["max"] = *m.max;
      if (m.time != TimePoint{}) entry["time"] = core::FormatTime(m.time);
      metrics.push_back(entry);
    }
    out["metrics"] = metrics;
  }
  json alerts = json::array();
  for (const auto& a : s.pending_alerts)
    alerts.push_back({{"severity", a.severity}, {"reason", a.reason}, {"message", a.message}});
  out["pendingAlerts"] = alerts;  // always written, so that delivering the last one clears the list
  return out;
}

CanaryStatus StatusFromJson(const json& in) {
  CanaryStatus s;
  if (!in.is_object()) return s;
  auto str = [&](const char* key) { return in.contains(key) && in[key].is_string() ? in[key].get<std::string>() : ""; };
  auto num = [&](const char* key) { return in.contains(key) && in[key].is_number_integer() ? in[key].get<int64_t>() : 0; };
  auto time = [&](const char* key) { return core::ParseTime(str(key)).value_or(TimePoint{}); };
  s.phase = ParsePhase(str("phase")).value_or(Phase::kInitializing);
  s.canary_weight = static_cast<int>(num("canaryWeight"));
  s.failed_checks = static_cast<int>(num("failedChecks"));
  s.iterations = static_cast<int>(num("iterations"));
  s.step_index = static_cast<int>(num("stepIndex"));
  s.observed_generation = num("observedGeneration");
  s.last_applied_spec = str("lastAppliedSpec");
  s.last_promoted_spec = str("lastPromotedSpec");
  s.last_transition = time("lastTransitionTime");
  s.last_step = time("lastStepTime");
  s.canary_wait_started = time("canaryWaitStartedTime");
  if (in.contains("trackedConfigs") && in["trackedConfigs"].is_object())
    for (const auto& [k, v] : in["trackedConfigs"].items())
      if (v.is_string()) s.tracked_configs[k] = v.get<std::string>();
  if (in.contains("conditions") && in["conditions"].is_array())
    for (const auto& c : in["conditions"]) {
      if (!c.is_object() || !c.contains("type") || !c["type"].is_string()) continue;
      s.conditions.push_back({c["type"].get<std::string>(), StringOr(c, "status", "Unknown"),
                              StringOr(c, "reason", ""), StringOr(c, "message", ""),
                              core::ParseTime(StringOr(c, "lastTransitionTime", "")).value_or(TimePoint{})});
    }
  if (in.contains("pendingAlerts") && in["pendingAlerts"].is_array())
    for (const auto& a : in["pendingAlerts"])
      if (a.is_object())
        s.pending_alerts.push_back(
            {StringOr(a, "severity", "info"), StringOr(a, "reason", ""), StringOr(a, "message", "")});
  if (in.contains("requests") && in["requests"].is_object())
    for (const auto& [k, r] : in["requests"].items())
      if (r.is_object())
        s.requests[k] = {StringOr(r, "value", ""), StringOr(r, "outcome", ""),
                         core::ParseTime(StringOr(r, "time", "")).value_or(TimePoint{})};
  if (in.contains("metrics") && in["metrics"].is_array())
    for (const auto& m : in["metrics"]) {
      if (!m.is_object() || !m.contains("name") || !m["name"].is_string()) continue;
      MetricResult r{m["name"].get<std::string>(), std::nullopt, StringOr(m, "verdict", ""),
                     StringOr(m, "message", ""), core::ParseTime(StringOr(m, "time", "")).value_or(TimePoint{})};
      if (m.contains("value") && m["value"].is_number()) r.value = m["value"].get<double>();
      if (m.contains("min") && m["min"].is_number()) r.min = m["min"].get<double>();
      if (m.contains("max") && m["max"].is_number()) r.max = m["max"].get<double>();
      s.metrics.push_back(r);
    }
  return s;
}

}  // namespace sluice::api
