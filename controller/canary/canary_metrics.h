// The controller's own Prometheus metrics (prometheus-cpp core), served on /metrics by the
// controller's HTTP port. Names are documented in docs/metrics.md.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "api/canary_types.h"
#include "core/clock.h"

namespace prometheus {
class Registry;
}

namespace sluice::canary {

class ControllerMetrics {
 public:
  // Registers its families in `registry` (the Manager's; a registry of its own when null).
  explicit ControllerMetrics(std::shared_ptr<prometheus::Registry> registry = nullptr,
                             const core::Clock& clock = core::SystemClock::Instance());
  ~ControllerMetrics();

  // After each reconcile: weight, phase, the last value and verdict of every analysis metric,
  // and a finished rollout's outcome and duration.
  void ObserveCanary(const std::string& ns, const std::string& name, const api::CanaryStatus& status,
                     api::Strategy strategy);
  void ReconcileError();
  void SetQueueDepth(size_t depth);
  // Its registry in the text exposition format.
  std::string Serialize() const;

 private:
  struct Families;
  void ObserveMetrics(const std::map<std::string, std::string>& id, const std::string& key,
                      const api::CanaryStatus& status);
  struct Seen {
    api::Phase phase;
    core::TimePoint started{};
  };
  const core::Clock& clock_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Families> f_;
  std::map<std::string, Seen> seen_;
  // Metric names each Canary exported last time, so a metric that left its status stops
  // being reported.
  std::map<std::string, std::set<std::string>> exported_metrics_;
  void SetThreshold(std::map<std::string, std::string> labels, const std::string& bound, std::optional<double> value);
  mutable std::mutex mu_;
};

}  // namespace sluice::canary
