// A metric judged against the primary instead of a fixed threshold: range-queries the same
// metric for the canary and for the primary over one window and hands both sample sets to the
// Mann-Whitney judge (analysis/judge.h). The method and its limits are in docs/judge.md.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <string>

#include "analysis/judge.h"
#include "analysis/metric_provider.h"
#include "api/canary_types.h"
#include "core/clock.h"

namespace sluice::analysis {

// Reads a metric's `compare` object (crds/sluice.dev_canaries.yaml): confidence (default
// 0.95, in [0.5, 0.9999]), allowedIncrease and allowedDecrease (percent, >= 0). A direction
// that is not mentioned is not judged (its *_unbounded flag is set), except when neither is
// mentioned: then both directions are judged with no tolerance. `where` names the field for
// messages (e.g. "Canary shop/web: spec.analysis.metrics[1].compare"). Throws
// std::invalid_argument naming `where`, the field and what is expected.
JudgeOptions ParseCompareSpec(const nlohmann::json& compare, const std::string& where);

// Where the judge's samples come from: one per rate window. A query over `rate(...[I])`
// sampled every `step` < I counts the same requests in several samples; the rank test takes
// them for independent evidence and reports differences between identical distributions as
// significant far more often than 1 - confidence (docs/judge.md has the measurement). With
// step = I consecutive samples share no request.
struct CompareSampling {
  std::chrono::milliseconds window{0};  // end - window is the first sample
  std::chrono::milliseconds step{0};
};
// `samples` samples (window = (samples - 1) * interval, step = interval) of a metric whose
// rate window is `interval` (its {{ interval }}). Throws std::invalid_argument when the
// interval is not positive or samples < 2.
CompareSampling SamplingForInterval(std::chrono::milliseconds interval, int samples = 10);

// Range-queries `canary_query` and `primary_query` over [end - window, end] every `step` and
// judges the canary against the primary. The result carries `name`, time = `end`, verdict
// Pass | High | Low | NoData (from JudgeVerdict) and value = the canary's median (nullopt on
// NoData). A MetricError from either query gives verdict "Error", no value, and a message
// naming the metric, the side (canary or primary) and the provider's words. A window or step
// that is not positive is verdict "Error" without querying.
// `step` should be at least the scrape interval and the query's rate window: see
// SamplingForInterval.
boost::asio::awaitable<api::MetricResult> CompareCanary(MetricProvider& provider, std::string name,
                                                           std::string canary_query, std::string primary_query,
                                                           core::TimePoint end, std::chrono::milliseconds window,
                                                           std::chrono::milliseconds step, JudgeOptions options);

}  // namespace sluice::analysis
