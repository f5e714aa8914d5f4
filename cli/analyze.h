// `sluice analyze CANARY --from T1 --to T2`: the Canary's metric analysis replayed against
// what Prometheus stored for a past window (cli/analyze.cc).
#pragma once

#include <string>

namespace sluice::cli {

struct AnalyzeFlags {
  std::string canary;
  std::string from;
  std::string to = "now";
  std::string step;  // default: the Canary's analysis interval
  std::string ns;
  std::string kubeconfig;
  std::string context;
  std::string prometheus_address;
  int query_timeout_seconds = 10;
};

// Prints one row per metric and step, then when the rollout would have rolled back; returns
// the exit code (2: bad flags, 1: the cluster or the Canary refused).
int Analyze(const AnalyzeFlags& flags);

}  // namespace sluice::cli
