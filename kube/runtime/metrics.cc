#include "kube/runtime/metrics.h"

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace sluice::kube::runtime {

std::shared_ptr<prometheus::Registry> NewMetricsRegistry() { return std::make_shared<prometheus::Registry>(); }

std::string ExpositionText(const prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

}  // namespace sluice::kube::runtime
