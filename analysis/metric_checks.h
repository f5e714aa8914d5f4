// spec.analysis.metrics evaluated by their metric providers: each metric is a builtin (by name, for
// the Canary's routing provider), a MetricTemplate (templateRef) or an inline query; it is
// rendered, queried at the evaluation time and held against its thresholdRange, or judged
// against the primary when it has `compare`. The evaluation time is a parameter, so
// `sluice analyze` replays past windows with the same code the controller runs.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>

#include "analysis/metric_provider.h"
#include "analysis/prometheus.h"
#include "analysis/runner.h"
#include "core/clock.h"

namespace sluice::analysis {

struct MetricCheckerOptions {
  std::string default_address;  // --prometheus-address: for builtins, inline queries and templates without one
  std::chrono::milliseconds query_timeout{10000};
  const core::Clock* clock = &core::SystemClock::Instance();
  size_t max_cached_providers = 64;
};

// Each metric is answered by the provider its MetricTemplate names (any type in the metric
// provider registry); builtin and inline queries by the Canary's or the controller's
// Prometheus. Providers are cached by their connection settings.
class QueryMetricChecker final : public analysis::MetricChecker {
 public:
  // Providers talk through clients on `executor` (the controller's io executor).
  static std::shared_ptr<QueryMetricChecker> Create(boost::asio::any_io_executor executor,
                                                    MetricCheckerOptions options);
  QueryMetricChecker(boost::asio::any_io_executor executor, MetricCheckerOptions options);

  boost::asio::awaitable<void> Check(const nlohmann::json& canary, const api::CanarySpec& spec,
                                     const api::CanaryStatus& status, const analysis::ObjectLookup& lookup,
                                     analysis::AnalysisOutcome& outcome) override;

  // Every metric evaluated as of `at`: results appended to outcome.metrics, check_failure set
  // for the first that does not pass.
  boost::asio::awaitable<void> CheckAt(const nlohmann::json& canary, const api::CanarySpec& spec,
                                       const analysis::ObjectLookup& lookup, core::TimePoint at,
                                       analysis::AnalysisOutcome& outcome);

  // One metric of spec.analysis.metrics; never throws: what only shows at evaluation (a
  // missing MetricTemplate, a provider error) is verdict Error with the cause in the message.
  boost::asio::awaitable<api::MetricResult> Evaluate(const nlohmann::json& canary, const api::CanarySpec& spec,
                                                     const api::MetricSpec& metric, const analysis::ObjectLookup& lookup,
                                                     core::TimePoint at);

  size_t cached_providers() const { return providers_.size(); }

 private:
  std::shared_ptr<MetricProvider> ProviderFor(const ProviderHandle& handle);
  void ExcuseWarmingComparisons(const api::CanarySpec& spec, const api::CanaryStatus& status, core::TimePoint now,
                                size_t first, analysis::AnalysisOutcome& outcome);

  boost::asio::any_io_executor executor_;
  MetricCheckerOptions options_;
  std::map<std::string, std::shared_ptr<MetricProvider>> providers_;  // by ProviderHandle::cache_key
  std::list<std::string> provider_order_;                             // oldest first, for eviction
};

// The value held against thresholdRange {min, max} (either may be absent). nullopt value is
// NoData. Sets verdict (Pass, Fail, NoData) and message on `result`.
void ApplyThreshold(std::optional<double> min, std::optional<double> max, std::optional<double> value,
                    api::MetricResult& result);

// A number as status and tables show it: up to 6 significant digits ("99.5", "0.000123").
std::string FormatValue(double value);

}  // namespace sluice::analysis
