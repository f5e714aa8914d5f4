#include "analysis/metric_checks.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "analysis/builtin_metrics.h"
#include "analysis/comparison.h"
#include "analysis/query_template.h"
#include "api/canary_spec.h"
#include "core/duration.h"

namespace sluice::analysis {
namespace {

namespace asio = boost::asio;
using nlohmann::json;

constexpr std::chrono::milliseconds kDefaultInterval{60000};

struct ResolvedMetric {
  std::string template_name;  // names the template in render errors
  std::string query_template;
  PrometheusOptions provider;
};

std::string CanaryName(const json& canary) {
  const json& m = canary.value("metadata", json::object());
  return m.value("namespace", "default") + "/" + m.value("name", "");
}

std::string StringField(const json& object, const std::string& key, const std::string& where) {
  if (!object.contains(key)) return "";
  if (!object[key].is_string() || object[key].get<std::string>().empty())
    throw std::invalid_argument(where + "." + key + " must be a non-empty string");
  return object[key].get<std::string>();
}

PrometheusOptions DefaultProvider(const MetricCheckerOptions& options, const std::string& where) {
  if (options.default_address.empty())
    throw std::invalid_argument(where + ": no Prometheus address: set spec.metricsServer, use a templateRef to a "
                                        "MetricTemplate with spec.provider.address, or start the controller with "
                                        "--prometheus-address");
  PrometheusOptions p;
  p.address = options.default_address;
  return p;
}

ResolvedMetric FromTemplate(const json& canary, const json& ref, const analysis::ObjectLookup& lookup,
                            const MetricCheckerOptions& options, const std::string& where) {
  if (!ref.is_object()) throw std::invalid_argument(where + ".templateRef must be an object with a name");
  std::string name = StringField(ref, "name", where + ".templateRef");
  if (name.empty()) throw std::invalid_argument(where + ".templateRef.name is required");
  std::string ns = StringField(ref, "namespace", where + ".templateRef");
  if (ns.empty()) ns = canary.value("metadata", json::object()).value("namespace", "default");
  std::string template_id = "MetricTemplate " + ns + "/" + name;
  kube::ObjectPtr tmpl = lookup ? lookup("MetricTemplate", ns, name) : nullptr;
  if (!tmpl) throw std::invalid_argument(where + ": " + template_id + " not found");
  const json& spec = tmpl->value("spec", json::object());
  if (!spec.contains("query") || !spec["query"].is_string() || spec["query"].get<std::string>().empty())
    throw std::invalid_argument(template_id + ": spec.query must be a non-empty string");
  if (!spec.contains("provider")) throw std::invalid_argument(template_id + ": spec.provider is required");
  const json& provider = spec["provider"];
  kube::ObjectPtr secret;
  if (provider.is_object() && provider.contains("secretRef")) {
    const json& sref = provider["secretRef"];
    std::string secret_name = sref.is_object() ? sref.value("name", "") : "";
    if (secret_name.empty()) throw std::invalid_argument(template_id + ": spec.provider.secretRef.name is required");
    secret = lookup ? lookup("Secret", ns, secret_name) : nullptr;
    if (!secret)
      throw std::invalid_argument(template_id + ": spec.provider.secretRef: Secret " + ns + "/" + secret_name +
                                  " not found");
  }
  ResolvedMetric r;
  r.template_name = template_id;
  r.query_template = spec["query"].get<std::string>();
  r.provider = PrometheusOptionsFromSpec(provider, secret.get(), options.default_address, template_id);
  return r;
}

ResolvedMetric Resolve(const json& canary, const json& metric, const analysis::ObjectLookup& lookup,
                       const MetricCheckerOptions& controller_options, const std::string& where) {
  // spec.metricsServer (as the peers call it) overrides the controller's --prometheus-address
  // for this Canary's builtin and inline queries and for templates without an address.
  MetricCheckerOptions options = controller_options;
  std::string server = StringField(canary.value("spec", json::object()), "metricsServer",
                                   "Canary " + CanaryName(canary) + " spec");
  if (!server.empty()) options.default_address = server;
  bool has_ref = metric.contains("templateRef");
  std::string inline_query = StringField(metric, "query", where);
  if (has_ref && !inline_query.empty())
    throw std::invalid_argument(where + ": set one of templateRef and query, not both");
  ResolvedMetric r;
  if (has_ref) {
    r = FromTemplate(canary, metric["templateRef"], lookup, options, where);
  } else if (!inline_query.empty()) {
    r.template_name = where + ".query";
    r.query_template = inline_query;
    r.provider = DefaultProvider(options, where);
  } else {
    std::string name = metric.value("name", "");
    std::string provider = canary.value("spec", json::object()).value("provider", "gatewayapi");
    auto builtin = BuiltinQuery(name, provider);
    if (!builtin) {
      std::string known;
      for (const auto& n : BuiltinMetricNames()) known += (known.empty() ? "" : ", ") + n;
      throw std::invalid_argument(where + ": \"" + name + "\" is not a builtin metric (builtins: " + known +
                                  "); give a templateRef or a query");
    }
    r.template_name = "builtin " + name + " (" + provider + ")";
    r.query_template = *builtin;
    r.provider = DefaultProvider(options, where);
  }
  r.provider.timeout = options.query_timeout;
  return r;
}

std::optional<double> Bound(const json& range, const char* key, const std::string& where) {
  if (!range.contains(key)) return std::nullopt;
  if (!range[key].is_number()) throw std::invalid_argument(where + ".thresholdRange." + key + " must be a number");
  return range[key].get<double>();
}

void ValidateThreshold(const json& metric, const std::string& where) {
  if (!metric.contains("thresholdRange")) return;
  const json& range = metric["thresholdRange"];
  if (!range.is_object()) throw std::invalid_argument(where + ".thresholdRange must be an object with min and/or max");
  auto min = Bound(range, "min", where);
  auto max = Bound(range, "max", where);
  if (min && max && *min > *max)
    throw std::invalid_argument(where + ".thresholdRange: min " + FormatValue(*min) + " is greater than max " +
                                FormatValue(*max));
}

std::chrono::milliseconds MetricInterval(const json& metric) {
  if (!metric.contains("interval") || !metric["interval"].is_string()) return kDefaultInterval;
  auto parsed = core::ParseDuration(metric["interval"].get<std::string>());
  return parsed && parsed->count() > 0 ? *parsed : kDefaultInterval;
}

// spec.analysis.metrics, or nullptr; a pointer into `canary`, so no copy lives in a coroutine frame.
const json* MetricList(const json& canary) {
  auto spec = canary.find("spec");
  if (spec == canary.end() || !spec->is_object()) return nullptr;
  auto analysis = spec->find("analysis");
  if (analysis == spec->end() || !analysis->is_object()) return nullptr;
  auto metrics = analysis->find("metrics");
  if (metrics == analysis->end() || !metrics->is_array()) return nullptr;
  return &*metrics;
}

api::MetricResult ErrorResult(api::MetricResult r, const std::string& message) {
  r.value.reset();
  r.verdict = "Error";
  r.message = message;
  return r;
}

}  // namespace

std::string FormatValue(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", value);
  return buf;
}

void ApplyThreshold(const json& threshold_range, std::optional<double> value, api::MetricResult& result) {
  result.value = value;
  std::optional<double> min, max;
  if (threshold_range.is_object()) {
    if (threshold_range.contains("min") && threshold_range["min"].is_number()) min = threshold_range["min"].get<double>();
    if (threshold_range.contains("max") && threshold_range["max"].is_number()) max = threshold_range["max"].get<double>();
  }
  result.min = min;
  result.max = max;
  if (!value) {
    result.verdict = "NoData";
    result.message = "no data: the query returned no series or NaN (is the canary getting traffic?)";
    return;
  }
  std::string v = FormatValue(*value);
  if (min && *value < *min) {
    result.verdict = "Fail";
    result.message = v + " is below the minimum " + FormatValue(*min);
  } else if (max && *value > *max) {
    result.verdict = "Fail";
    result.message = v + " is above the maximum " + FormatValue(*max);
  } else {
    result.verdict = "Pass";
    if (min && max)
      result.message = v + " is within [" + FormatValue(*min) + ", " + FormatValue(*max) + "]";
    else if (min)
      result.message = v + " is at least the minimum " + FormatValue(*min);
    else if (max)
      result.message = v + " is at most the maximum " + FormatValue(*max);
    else
      result.message = v + " (no thresholdRange: any value passes)";
  }
}

std::shared_ptr<PrometheusMetricChecker> PrometheusMetricChecker::Create(asio::any_io_executor executor,
                                                                         MetricCheckerOptions options) {
  ProviderFactory factory = [executor](const PrometheusOptions& o) { return MakePrometheusProvider(executor, o); };
  return std::make_shared<PrometheusMetricChecker>(std::move(options), std::move(factory));
}

PrometheusMetricChecker::PrometheusMetricChecker(MetricCheckerOptions options, ProviderFactory factory)
    : options_(std::move(options)), factory_(std::move(factory)) {}

std::shared_ptr<MetricProvider> PrometheusMetricChecker::ProviderFor(const PrometheusOptions& options) {
  std::string key = options.CacheKey();
  if (auto it = providers_.find(key); it != providers_.end()) return it->second;
  auto provider = factory_(options);
  providers_[key] = provider;
  provider_order_.push_back(key);
  // Rotated credentials make new keys; the oldest providers are dropped so the map stays small.
  while (providers_.size() > options_.max_cached_providers && !provider_order_.empty()) {
    providers_.erase(provider_order_.front());
    provider_order_.pop_front();
  }
  return provider;
}

asio::awaitable<void> PrometheusMetricChecker::Check(const json& canary, const api::CanaryStatus& status,
                                                     const analysis::ObjectLookup& lookup,
                                                     analysis::AnalysisOutcome& outcome) {
  core::TimePoint now = options_.clock->Now();
  size_t first = outcome.metrics.size();
  auto check = CheckAt(canary, lookup, now, outcome);
  co_await std::move(check);
  ExcuseWarmingComparisons(canary, status, now, first, outcome);
}

// The judge needs samples of the canary's own traffic over its whole window: until the
// rollout is that old, "no data" from a comparison is expected, so it is shown in status but
// not counted as a failed check (otherwise a short threshold rolls back every new canary).
void PrometheusMetricChecker::ExcuseWarmingComparisons(const json& canary, const api::CanaryStatus& status,
                                                       core::TimePoint now, size_t first,
                                                       analysis::AnalysisOutcome& outcome) {
  const json* metrics = MetricList(canary);
  if (!metrics) return;
  auto age = now - status.last_transition;
  outcome.check_failure.reset();
  for (size_t i = first; i < outcome.metrics.size(); ++i) {
    api::MetricResult& result = outcome.metrics[i];
    size_t index = i - first;
    const json* metric = index < metrics->size() ? &(*metrics)[index] : nullptr;
    bool compare = metric && metric->is_object() && metric->contains("compare");
    if (compare && result.verdict == "NoData") {
      auto window = SamplingForInterval(MetricInterval(*metric)).window;
      if (age < window) {
        result.message += " (warming up: the rollout is younger than the judge's " +
                          std::to_string(std::chrono::duration_cast<std::chrono::seconds>(window).count()) +
                          " s window, so this does not count as a failed check)";
        continue;
      }
    }
    if (result.verdict != "Pass" && !outcome.check_failure)
      outcome.check_failure = "metric " + result.name + ": " + result.message;
  }
}

asio::awaitable<void> PrometheusMetricChecker::CheckAt(const json& canary, const analysis::ObjectLookup& lookup,
                                                       core::TimePoint at, analysis::AnalysisOutcome& outcome) {
  const json* metrics = MetricList(canary);
  size_t count = metrics ? metrics->size() : 0;
  for (size_t i = 0; i < count; ++i) {
    auto eval = Evaluate(canary, i, lookup, at);
    api::MetricResult result = co_await std::move(eval);
    if (result.verdict != "Pass" && !outcome.check_failure)
      outcome.check_failure = "metric " + result.name + ": " + result.message;
    outcome.metrics.push_back(std::move(result));
  }
}

asio::awaitable<api::MetricResult> PrometheusMetricChecker::Evaluate(const json& canary, size_t index,
                                                                        const analysis::ObjectLookup& lookup,
                                                                        core::TimePoint at) {
  api::MetricResult result;
  result.time = at;
  const json* metrics = MetricList(canary);
  std::string where = "Canary " + CanaryName(canary) + " spec.analysis.metrics[" + std::to_string(index) + "]";
  result.name = "metrics[" + std::to_string(index) + "]";
  if (!metrics || index >= metrics->size()) co_return ErrorResult(result, where + " does not exist");
  const json& metric = (*metrics)[index];
  if (!metric.is_object()) co_return ErrorResult(result, where + " must be an object");
  if (metric.contains("name") && metric["name"].is_string()) result.name = metric["name"].get<std::string>();

  std::shared_ptr<MetricProvider> provider;
  std::string query;
  std::string primary_query;
  bool compare = metric.contains("compare");
  JudgeOptions judge;
  try {
    if (!metric.contains("name") || !metric["name"].is_string() || metric["name"].get<std::string>().empty())
      throw std::invalid_argument(where + ".name must be a non-empty string");
    ValidateThreshold(metric, where);
    ResolvedMetric resolved = Resolve(canary, metric, lookup, options_, where);
    TemplateContext context = ContextForMetric(canary, metric);
    query = RenderQuery(resolved.template_name, resolved.query_template, context);
    if (compare) {
      judge = ParseCompareSpec(metric["compare"], where + ".compare");
      primary_query = RenderQuery(resolved.template_name, resolved.query_template, context.ForPrimary());
    }
    provider = ProviderFor(resolved.provider);
  } catch (const std::exception& e) {
    co_return ErrorResult(result, e.what());
  }

  if (compare) {
    // One sample per rate window, so consecutive samples share no request (docs/judge.md).
    CompareSampling sampling = SamplingForInterval(MetricInterval(metric));
    std::chrono::milliseconds window = sampling.window;
    std::chrono::milliseconds step = sampling.step;
    std::string name = result.name;
    try {
      auto judged = CompareCanary(*provider, name, query, primary_query, at, window, step, judge);
      api::MetricResult r = co_await std::move(judged);
      co_return r;
    } catch (const std::exception& e) {
      result.message = e.what();
    }
    co_return ErrorResult(result, result.message);
  }

  std::optional<double> value;
  try {
    auto q = provider->QueryScalar(query, at);
    value = co_await std::move(q);
  } catch (const std::exception& e) {
    result.message = e.what();
    result.verdict = "Error";
  }
  if (result.verdict == "Error") co_return ErrorResult(result, result.message);
  ApplyThreshold(metric.value("thresholdRange", json::object()), value, result);
  co_return result;
}

}  // namespace sluice::analysis
