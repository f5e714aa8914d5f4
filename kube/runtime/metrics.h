// The one Prometheus registry of a process: every reconciler, receiver and the Manager
// register their families in it, and /metrics serializes it once.
#pragma once

#include <memory>
#include <string>

namespace prometheus {
class Registry;
}

namespace sluice::kube::runtime {

std::shared_ptr<prometheus::Registry> NewMetricsRegistry();
// The registry in the Prometheus text exposition format (version 0.0.4).
std::string ExpositionText(const prometheus::Registry& registry);

}  // namespace sluice::kube::runtime
