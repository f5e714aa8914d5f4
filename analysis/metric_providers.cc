// Explicit registration of every metric provider type this build knows (no static-initializer
// magic): a new provider is one file and one line here.
#include <stdexcept>

#include "analysis/metric_provider.h"
#include "analysis/prometheus.h"

namespace sluice::analysis {

const MetricProviderRegistry& MetricProviderRegistry::Builtin() {
  static const MetricProviderRegistry registry = [] {
    MetricProviderRegistry r;
    r.Register("prometheus", PrometheusProviderFactory);
    return r;
  }();
  return registry;
}

void MetricProviderRegistry::Register(std::string type, Factory factory) {
  types_.emplace_back(std::move(type), std::move(factory));
}

std::vector<std::string> MetricProviderRegistry::Types() const {
  std::vector<std::string> out;
  for (const auto& [type, factory] : types_) out.push_back(type);
  return out;
}

ProviderHandle MetricProviderRegistry::Resolve(const ProviderRequest& request) const {
  if (!request.spec.is_object()) throw std::invalid_argument(request.where + ": spec.provider must be an object");
  const auto* type = request.spec.contains("type") && request.spec["type"].is_string()
                         ? &request.spec["type"].get_ref<const std::string&>()
                         : nullptr;
  if (!type) throw std::invalid_argument(request.where + ": spec.provider.type is required");
  for (const auto& [name, factory] : types_)
    if (name == *type) return factory(request);
  std::string known;
  for (const auto& name : Types()) known += (known.empty() ? "" : ", ") + name;
  throw std::invalid_argument(request.where + ": spec.provider.type \"" + *type + "\" is not supported; supported: " +
                              known);
}

}  // namespace sluice::analysis
