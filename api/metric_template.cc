#include "api/metric_template.h"

#include "api/spec_error.h"
#include "api/spec_fields.h"

namespace sluice::api {

using json = nlohmann::json;

MetricTemplateSpec ParseMetricTemplateSpec(const json& obj) {
  const json& spec = fields::Object(obj, "", "spec");
  MetricTemplateSpec s;
  s.query = fields::String(spec, "spec", "query");
  if (s.query.empty()) throw InvalidSpec("spec.query must be a non-empty string");
  if (!spec.contains("provider")) throw InvalidSpec("spec.provider is required");
  if (!spec["provider"].is_object()) throw InvalidSpec("spec.provider must be an object");
  s.provider = spec["provider"];
  s.provider_type = fields::String(s.provider, "spec.provider", "type");
  if (s.provider_type.empty()) throw InvalidSpec("spec.provider.type is required");
  if (s.provider.contains("secretRef")) {
    s.secret_name = fields::String(fields::Object(s.provider, "spec.provider", "secretRef"), "spec.provider.secretRef", "name");
    if (s.secret_name.empty()) throw InvalidSpec("spec.provider.secretRef.name is required");
  }
  return s;
}

}  // namespace sluice::api
