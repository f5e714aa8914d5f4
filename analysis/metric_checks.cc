#include "analysis/metric_checks.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "analysis/builtin_metrics.h"
#include "analysis/comparison.h"
#include "analysis/query_template.h"
#include "api/canary_spec.h"
#include "api/metric_template.h"
#include "api/spec_error.h"
#include "core/duration.h"

namespace sluice::analysis {
namespace {

namespace asio = boost::asio;
using nlohmann::json;

constexpr std::chrono::milliseconds kDefaultInterval{60000};

struct ResolvedMetric {
  std::string template_name;  // names the template in render errors
  std::string query_template;
  ProviderHandle provider;
};

std::string CanaryName(const json& canary) {
  const json& m = canary.value("metadata", json::object());
  return m.value("namespace", "default") + "/" + m.value("name", "");
}

// Builtin and inline queries are PromQL: they go to the Canary's or the controller's Prometheus.
ProviderHandle DefaultProvider(const MetricCheckerOptions& options, const std::string& where) {
  if (options.default_address.empty())
    throw std::invalid_argument(where + ": no Prometheus address: set spec.metricsServer, use a templateRef to a "
                                        "MetricTemplate with spec.provider.address, or start the controller with "
                                        "--prometheus-address");
  PrometheusOptions p;
  p.address = options.default_address;
  p.timeout = options.query_timeout;
  return PrometheusHandle(p);
}

// The MetricTemplate ns/name from the cache, with its provider's credentials.
ResolvedMetric TemplateResolved(const std::string& ns, const std::string& name, const analysis::ObjectLookup& lookup,
                                const MetricCheckerOptions& options, const std::string& where) {
  std::string template_id = "MetricTemplate " + ns + "/" + name;
  kube::ObjectPtr tmpl = lookup ? lookup("MetricTemplate", ns, name) : nullptr;
  if (!tmpl) throw std::invalid_argument(where + ": " + template_id + " not found");
  api::MetricTemplateSpec spec;
  try {
    spec = api::ParseMetricTemplateSpec(*tmpl);
  } catch (const api::InvalidSpec& e) {
    throw std::invalid_argument(template_id + ": " + e.what());
  }
  kube::ObjectPtr secret;
  if (!spec.secret_name.empty()) {
    secret = lookup ? lookup("Secret", ns, spec.secret_name) : nullptr;
    if (!secret)
      throw std::invalid_argument(template_id + ": spec.provider.secretRef: Secret " + ns + "/" + spec.secret_name +
                                  " not found");
  }
  ResolvedMetric r;
  r.template_name = template_id;
  r.query_template = spec.query;
  r.provider = MetricProviderRegistry::Builtin().Resolve(
      {spec.provider, secret.get(), options.default_address, options.query_timeout, template_id});
  return r;
}

ResolvedMetric FromTemplate(const json& canary, const api::MetricSpec& metric, const analysis::ObjectLookup& lookup,
                            const MetricCheckerOptions& options, const std::string& where) {
  std::string ns = metric.template_namespace;
  if (ns.empty()) ns = canary.value("metadata", json::object()).value("namespace", "default");
  return TemplateResolved(ns, metric.template_name, lookup, options, where);
}

ResolvedMetric Resolve(const json& canary, const api::CanarySpec& spec, const api::MetricSpec& metric,
                       const analysis::ObjectLookup& lookup, const MetricCheckerOptions& controller_options,
                       const std::string& where) {
  // spec.metricsServer (as the peers call it) overrides the controller's --prometheus-address
  // for this Canary's builtin and inline queries and for templates without an address.
  MetricCheckerOptions options = controller_options;
  if (!spec.metrics_server.empty()) options.default_address = spec.metrics_server;
  ResolvedMetric r;
  if (!metric.template_name.empty()) {
    r = FromTemplate(canary, metric, lookup, options, where);
  } else if (!metric.query.empty()) {
    r.template_name = where + ".query";
    r.query_template = metric.query;
    r.provider = DefaultProvider(options, where);
  } else {
    auto builtin = BuiltinQuery(metric.name, spec.provider);
    if (!builtin) {
      std::string known;
      for (const auto& n : BuiltinMetricNames()) known += (known.empty() ? "" : ", ") + n;
      throw std::invalid_argument(where + ": \"" + metric.name + "\" is not a builtin metric (builtins: " + known +
                                  "); give a templateRef or a query");
    }
    r.template_name = "builtin " + metric.name + " (" + spec.provider + ")";
    r.query_template = *builtin;
    r.provider = DefaultProvider(options, where);
  }
  return r;
}

// "[2]" when `metric` is an entry of spec.analysis.metrics (the field as the user wrote it).
std::string MetricIndex(const api::CanarySpec& spec, const api::MetricSpec& metric) {
  const auto& all = spec.analysis.metrics;
  for (size_t i = 0; i < all.size(); ++i)
    if (&all[i] == &metric) return "[" + std::to_string(i) + "]";
  return "[name=" + metric.name + "]";
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

void ApplyThreshold(std::optional<double> min, std::optional<double> max, std::optional<double> value,
                    api::MetricResult& result) {
  result.value = value;
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

std::shared_ptr<QueryMetricChecker> QueryMetricChecker::Create(asio::any_io_executor executor,
                                                                         MetricCheckerOptions options) {
  return std::make_shared<QueryMetricChecker>(std::move(executor), std::move(options));
}

QueryMetricChecker::QueryMetricChecker(asio::any_io_executor executor, MetricCheckerOptions options)
    : executor_(std::move(executor)), options_(std::move(options)) {}

std::shared_ptr<MetricProvider> QueryMetricChecker::ProviderFor(const ProviderHandle& handle) {
  const std::string& key = handle.cache_key;
  if (auto it = providers_.find(key); it != providers_.end()) return it->second;
  auto provider = handle.make(executor_);
  providers_[key] = provider;
  provider_order_.push_back(key);
  // Rotated credentials make new keys; the oldest providers are dropped so the map stays small.
  while (providers_.size() > options_.max_cached_providers && !provider_order_.empty()) {
    providers_.erase(provider_order_.front());
    provider_order_.pop_front();
  }
  return provider;
}

asio::awaitable<void> QueryMetricChecker::Check(const json& canary, const api::CanarySpec& spec,
                                                     const api::CanaryStatus& status,
                                                     const analysis::ObjectLookup& lookup,
                                                     analysis::AnalysisOutcome& outcome) {
  core::TimePoint now = options_.clock->Now();
  size_t first = outcome.metrics.size();
  auto check = CheckAt(canary, spec, lookup, now, outcome);
  co_await std::move(check);
  ExcuseWarmingComparisons(spec, status, now, first, outcome);
}

// The judge needs samples of the canary's own traffic over its whole window: until the
// rollout is that old, "no data" from a comparison is expected, so it is shown in status but
// not counted as a failed check (otherwise a short threshold rolls back every new canary).
void QueryMetricChecker::ExcuseWarmingComparisons(const api::CanarySpec& spec, const api::CanaryStatus& status,
                                                       core::TimePoint now, size_t first,
                                                       analysis::AnalysisOutcome& outcome) {
  const auto& metrics = spec.analysis.metrics;
  auto age = now - status.last_transition;
  outcome.check_failure.reset();
  for (size_t i = first; i < outcome.metrics.size(); ++i) {
    api::MetricResult& result = outcome.metrics[i];
    size_t index = i - first;
    const api::MetricSpec* metric = index < metrics.size() ? &metrics[index] : nullptr;
    bool compare = metric && !metric->compare.is_null();
    if (compare && result.verdict == "NoData") {
      auto window = SamplingForInterval(metric->interval.value_or(kDefaultInterval)).window;
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

asio::awaitable<void> QueryMetricChecker::CheckAt(const json& canary, const api::CanarySpec& spec,
                                                       const analysis::ObjectLookup& lookup, core::TimePoint at,
                                                       analysis::AnalysisOutcome& outcome) {
  for (const api::MetricSpec& metric : spec.analysis.metrics) {
    auto eval = Evaluate(canary, spec, metric, lookup, at);
    api::MetricResult result = co_await std::move(eval);
    if (result.verdict != "Pass" && !outcome.check_failure)
      outcome.check_failure = "metric " + result.name + ": " + result.message;
    outcome.metrics.push_back(std::move(result));
  }
}

asio::awaitable<api::MetricResult> QueryMetricChecker::Evaluate(const json& canary, const api::CanarySpec& spec,
                                                                     const api::MetricSpec& metric,
                                                                     const analysis::ObjectLookup& lookup,
                                                                     core::TimePoint at) {
  api::MetricResult result;
  result.time = at;
  result.name = metric.name;
  std::string where = "Canary " + CanaryName(canary) + " spec.analysis.metrics" + MetricIndex(spec, metric);

  std::shared_ptr<MetricProvider> provider;
  std::string query;
  std::string primary_query;
  bool compare = !metric.compare.is_null();
  JudgeOptions judge;
  try {
    ResolvedMetric resolved = Resolve(canary, spec, metric, lookup, options_, where);
    TemplateContext context = ContextForMetric(canary, spec, metric);
    query = RenderQuery(resolved.template_name, resolved.query_template, context);
    if (compare) {
      judge = ParseCompareSpec(metric.compare, where + ".compare");
      primary_query = RenderQuery(resolved.template_name, resolved.query_template, context.ForPrimary());
    }
    provider = ProviderFor(resolved.provider);
  } catch (const std::exception& e) {
    co_return ErrorResult(result, e.what());
  }

  if (compare) {
    // One sample per rate window, so consecutive samples share no request (docs/judge.md).
    CompareSampling sampling = SamplingForInterval(metric.interval.value_or(kDefaultInterval));
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
  ApplyThreshold(metric.min, metric.max, value, result);
  co_return result;
}

}  // namespace sluice::analysis
