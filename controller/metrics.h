// The controller's own Prometheus metrics (prometheus-cpp core), served on /metrics by the
// controller's HTTP port. Names are documented in docs/metrics.md.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "controller/canary/types.h"
#include "kube/clock.h"

namespace prometheus {
class Registry;
}

namespace sluice::controller {

class ControllerMetrics {
 public:
  explicit ControllerMetrics(const kube::Clock& clock = kube::SystemClock::Instance());
  ~ControllerMetrics();

  // After each reconcile: weight, phase, the last value and verdict of every analysis metric,
  // and a finished rollout's outcome and duration.
  void ObserveCanary(const std::string& ns, const std::string& name, const canary::CanaryStatus& status,
                     canary::Strategy strategy);
  void ReconcileError();
  void SetQueueDepth(size_t depth);
  void SetLeader(bool leading);
  // Text exposition format.
  std::string Serialize() const;

 private:
  struct Families;
  void ObserveMetrics(const std::map<std::string, std::string>& id, const std::string& key,
                      const canary::CanaryStatus& status);
  struct Seen {
    canary::Phase phase;
    kube::TimePoint started{};
  };
  const kube::Clock& clock_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Families> f_;
  std::map<std::string, Seen> seen_;
  // Metric names each Canary exported last time, so a metric that left its status stops
  // being reported.
  std::map<std::string, std::set<std::string>> exported_metrics_;
  void SetThreshold(std::map<std::string, std::string> labels, const std::string& bound, std::optional<double> value);
  mutable std::mutex mu_;
};

}  // namespace sluice::controller
