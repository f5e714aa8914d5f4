// The metrics every Canary may name without a MetricTemplate: `request-success-rate`
// (percent of non-5xx requests, 0..100) and `request-duration` (p99 latency in milliseconds),
// one query template per routing provider, written against the series each real data plane
// exports (docs/builtin-metrics.md lists them). The templates select the canary side through
// {{ variant }} / {{ workload }}, so the judge renders the primary side from the same text.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace sluice::analysis {

// The query template of a builtin metric for a routing provider; nullopt when there is none.
std::optional<std::string> BuiltinQuery(const std::string& metric, const std::string& provider);
// "request-success-rate", "request-duration".
std::vector<std::string> BuiltinMetricNames();
// "gatewayapi", "istio", "nginx", "kubernetes".
std::vector<std::string> BuiltinProviders();

}  // namespace sluice::analysis
