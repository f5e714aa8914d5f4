#include "api/alert_provider.h"

#include <algorithm>

#include "api/canary_types.h"
#include "api/spec_error.h"
#include "api/spec_fields.h"

namespace sluice::api {

using json = nlohmann::json;

AlertProviderSpec ParseAlertProviderSpec(const json& obj) {
  const json& spec = fields::Object(obj, "", "spec");
  AlertProviderSpec s;
  s.type = fields::String(spec, "spec", "type");
  if (std::find(std::begin(kAlertProviderTypes), std::end(kAlertProviderTypes), s.type) == std::end(kAlertProviderTypes))
    throw InvalidSpec("spec.type \"" + s.type + "\" is not one of slack, msteams, discord, generic");
  s.channel = fields::String(spec, "spec", "channel");
  s.username = fields::String(spec, "spec", "username");
  s.address = fields::String(spec, "spec", "address");
  s.secret_name = fields::String(fields::Object(spec, "spec", "secretRef"), "spec.secretRef", "name");
  if (s.address.empty() && s.secret_name.empty())
    throw InvalidSpec("spec.address or spec.secretRef.name is required");
  s.severity = fields::String(spec, "spec", "severity");
  if (!s.severity.empty() &&
      std::find(std::begin(kAlertSeverities), std::end(kAlertSeverities), s.severity) == std::end(kAlertSeverities))
    throw InvalidSpec("spec.severity \"" + s.severity + "\" is not one of info, warn, error");
  if (!fields::String(spec, "spec", "proxy").empty())
    throw InvalidSpec("spec.proxy is not supported; reach the address directly");
  return s;
}

}  // namespace sluice::api
