#include "api/receiver.h"

#include <algorithm>

#include "api/spec_error.h"
#include "api/spec_fields.h"

namespace sluice::api {

using json = nlohmann::json;

ReceiverSpec ParseReceiverSpec(const json& obj) {
  const std::string at = "spec";
  const json& spec = fields::Object(obj, "", "spec");
  const std::string own_ns = fields::String(fields::Object(obj, "", "metadata"), "metadata", "namespace");
  ReceiverSpec s;
  s.type = fields::String(spec, at, "type");
  if (std::find(std::begin(kReceiverTypes), std::end(kReceiverTypes), s.type) == std::end(kReceiverTypes))
    throw InvalidSpec("spec.type: expected github, gitlab or generic-hmac, got '" + s.type + "'");
  for (const auto& e : fields::Array(spec, at, "events")) {
    if (!e.is_string()) throw InvalidSpec("spec.events: expected a list of event names, got " + e.dump());
    std::string name = e.get<std::string>();
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    s.events.push_back(name);
  }
  const json& resources = fields::Array(spec, at, "resources");
  if (resources.empty()) throw InvalidSpec("spec.resources: list at least one object to reconcile");
  for (size_t i = 0; i < resources.size(); ++i) {
    const std::string path = "spec.resources[" + std::to_string(i) + "]";
    if (!resources[i].is_object()) throw InvalidSpec(path + ": expected an object with kind and name");
    ReceiverResource r;
    r.api_version = fields::String(resources[i], path, "apiVersion", r.api_version);
    r.kind = fields::String(resources[i], path, "kind");
    r.name = fields::String(resources[i], path, "name");
    r.ns = fields::String(resources[i], path, "namespace", own_ns);
    if (r.kind.empty() || r.name.empty()) throw InvalidSpec(path + ": kind and name are required");
    s.resources.push_back(r);
  }
  s.secret_name = fields::String(fields::Object(spec, at, "secretRef"), "spec.secretRef", "name");
  if (s.secret_name.empty()) throw InvalidSpec("spec.secretRef.name: Required value: the Secret holding 'token'");
  return s;
}

}  // namespace sluice::api
