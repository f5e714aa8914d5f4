#include "analysis/builtin_metrics.h"

#include <map>
#include <utility>
#include <vector>

namespace sluice::analysis {
namespace {

// Each selector picks one variant's traffic; the success rate divides non-5xx by all
// requests, so no traffic at all is 0/0 = NaN, which is "no data" and never a pass.
std::string SuccessRate(const std::string& series, const std::string& selector, const std::string& code_label) {
  std::string all = "sum(rate(" + series + "{" + selector + "}[{{ interval }}]))";
  std::string good = "sum(rate(" + series + "{" + selector + "," + code_label + "!~\"5..\"}[{{ interval }}]))";
  return good + " / " + all + " * 100";
}

std::string P99(const std::string& bucket_series, const std::string& selector, const std::string& scale) {
  return "histogram_quantile(0.99, sum by (le) (rate(" + bucket_series + "{" + selector + "}[{{ interval }}])))" +
         scale;
}

struct Provider {
  std::string requests;
  std::string buckets;
  std::string selector;
  std::string code_label;
  std::string to_ms;  // "" when the histogram is in milliseconds already
};

const std::map<std::string, Provider>& Providers() {
  static const std::map<std::string, Provider> providers = {
      // Contour names an upstream cluster <namespace>_<service>_<port>; ours are the
      // -canary and -primary Services.
      {"gatewayapi",
       {"envoy_cluster_upstream_rq", "envoy_cluster_upstream_rq_time_bucket",
        "envoy_cluster_name=\"{{ namespace }}_{{ service }}-{{ variant }}_{{ port }}\"", "envoy_response_code", ""}},
      {"istio",
       {"istio_requests_total", "istio_request_duration_milliseconds_bucket",
        "reporter=\"destination\",destination_workload_namespace=\"{{ namespace }}\",destination_workload=\"{{ workload }}\"",
        "response_code", ""}},
      // The ingress label is the user's Ingress name, which need not be the service's, so the
      // backend Service alone selects the variant.
      {"nginx",
       {"nginx_ingress_controller_requests", "nginx_ingress_controller_request_duration_seconds_bucket",
        "namespace=\"{{ namespace }}\",service=\"{{ service }}-{{ variant }}\"", "status", " * 1000"}},
      // Pods of a Deployment are named <deployment>-<replicaset hash>-<pod hash>; the hashes
      // hold no '-', so "podinfo" never matches the pods of "podinfo-primary".
      {"kubernetes",
       {"http_requests_total", "http_request_duration_seconds_bucket",
        "namespace=\"{{ namespace }}\",pod=~\"{{ workload }}-[a-z0-9]+-[a-z0-9]+\"", "code", " * 1000"}},
  };
  return providers;
}

}  // namespace

std::optional<std::string> BuiltinQuery(const std::string& metric, const std::string& provider) {
  auto it = Providers().find(provider);
  if (it == Providers().end()) return std::nullopt;
  const Provider& p = it->second;
  if (metric == "request-success-rate") return SuccessRate(p.requests, p.selector, p.code_label);
  if (metric == "request-duration") return P99(p.buckets, p.selector, p.to_ms);
  return std::nullopt;
}

std::vector<std::string> BuiltinMetricNames() { return {"request-success-rate", "request-duration"}; }

std::vector<std::string> BuiltinProviders() {
  std::vector<std::string> out;
  for (const auto& [name, p] : Providers()) out.push_back(name);
  return out;
}

}  // namespace sluice::analysis
