// The controller's own Prometheus metrics (prometheus-cpp core), served on /metrics by the
// controller's HTTP port. Names are documented in docs/metrics.md.
#pragma once

#include <map>
#include <memory>
#include <mutex>
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

  // After each reconcile: weight, phase, and a finished rollout's outcome and duration.
  void ObserveCanary(const std::string& ns, const std::string& name, const canary::CanaryStatus& status,
                     canary::Strategy strategy);
  void ReconcileError();
  void SetQueueDepth(size_t depth);
  void SetLeader(bool leading);
  // Text exposition format.
  std::string Serialize() const;

 private:
  struct Families;
  struct Seen {
    canary::Phase phase;
    kube::TimePoint started{};
  };
  const kube::Clock& clock_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Families> f_;
  std::map<std::string, Seen> seen_;
  mutable std::mutex mu_;
};

}  // namespace sluice::controller
