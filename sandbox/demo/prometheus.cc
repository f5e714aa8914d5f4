#include "sandbox/demo/prometheus.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace sluice::demo {

std::string PrometheusConfig(const std::vector<ScrapeTarget>& targets) {
  std::ostringstream out;
  // One-second scrapes keep rate() windows of a few seconds meaningful for short intervals.
  out << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
      << "scrape_configs:\n";
  for (const auto& t : targets)
    out << "  - job_name: " << t.job << "\n    static_configs:\n      - targets: ['" << t.address << "']\n";
  return out.str();
}

std::unique_ptr<ChildProcess> StartPrometheus(const std::string& dir, const std::string& host, uint16_t port,
                                              const std::vector<ScrapeTarget>& targets) {
  std::string binary = FindOnPath("prometheus");
  if (binary.empty())
    throw std::runtime_error(
        "Prometheus is not installed (no `prometheus` on PATH): install Debian's package with "
        "`sudo apt-get install prometheus` (scripts/install-deps.sh does it)");
  std::string config = dir + "/prometheus.yml";
  std::ofstream(config) << PrometheusConfig(targets);
  std::string data = dir + "/prometheus-data";
  std::filesystem::create_directories(data);
  return ChildProcess::Start("prometheus",
                             {binary, "--config.file=" + config, "--storage.tsdb.path=" + data,
                              "--web.listen-address=" + host + ":" + std::to_string(port),
                              "--storage.tsdb.retention.time=1d", "--log.level=warn"},
                             dir + "/prometheus.log");
}

}  // namespace sluice::demo
