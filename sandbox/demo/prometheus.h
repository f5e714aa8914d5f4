// The sandbox's Prometheus: Debian's `prometheus` binary with a temporary config that scrapes
// the traffic simulator and the controller every second, and a temporary data dir.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sandbox/demo/process.h"

namespace sluice::demo {

struct ScrapeTarget {
  std::string job;      // e.g. "traffic", "sluice-controller"
  std::string address;  // host:port
};

// prometheus.yml text: global 1 s scrape and evaluation intervals, one job per target.
std::string PrometheusConfig(const std::vector<ScrapeTarget>& targets);

// Writes the config into `dir` and starts Prometheus on host:port with its data in
// dir/prometheus-data. Throws std::runtime_error with what to do when the binary is missing.
std::unique_ptr<ChildProcess> StartPrometheus(const std::string& dir, const std::string& host, uint16_t port,
                                              const std::vector<ScrapeTarget>& targets);

}  // namespace sluice::demo
