// A MetricTemplate's spec (Flagger's field names), parsed once. What spec.provider holds
// beyond its type and secretRef differs per provider, so each metric provider in analysis/
// reads its own fields from `provider` (analysis/metric_provider.h).
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace sluice::api {

struct MetricTemplateSpec {
  std::string provider_type;  // spec.provider.type
  nlohmann::json provider;    // spec.provider as written
  std::string secret_name;    // spec.provider.secretRef.name; "" = none
  std::string query;          // the query template (analysis/query_template.h)
};

// Throws InvalidSpec naming the field.
MetricTemplateSpec ParseMetricTemplateSpec(const nlohmann::json& metric_template);

}  // namespace sluice::api
