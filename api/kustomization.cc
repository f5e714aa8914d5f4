#include "api/kustomization.h"

#include <algorithm>

#include "api/spec_error.h"
#include "api/spec_fields.h"

namespace sluice::api {
namespace {

using json = nlohmann::json;

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

NamespacedName SourceRef(const json& spec, const std::string& own_ns) {
  const json& src = fields::Object(spec, "spec", "sourceRef");
  std::string kind = fields::String(src, "spec.sourceRef", "kind");
  if (kind != "GitRepository")
    throw InvalidSpec("spec.sourceRef.kind: Unsupported value: \"" + kind + "\": supported values: \"GitRepository\"");
  NamespacedName ref{fields::String(src, "spec.sourceRef", "namespace", own_ns),
                     fields::String(src, "spec.sourceRef", "name")};
  if (ref.ns.empty()) ref.ns = own_ns;
  if (ref.name.empty()) throw InvalidSpec("spec.sourceRef.name: Required value");
  return ref;
}

std::vector<NamespacedName> DependsOn(const json& spec, const std::string& own_ns) {
  std::vector<NamespacedName> out;
  const json& list = fields::Array(spec, "spec", "dependsOn");
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string at = "spec.dependsOn[" + std::to_string(i) + "]";
    std::string name = list[i].is_object() ? fields::String(list[i], at, "name") : "";
    if (name.empty()) throw InvalidSpec(at + ".name: Required value");
    std::string ns = fields::String(list[i], at, "namespace");
    out.push_back({ns.empty() ? own_ns : ns, name});
  }
  return out;
}

std::vector<HealthCheckRef> HealthChecks(const json& spec) {
  std::vector<HealthCheckRef> out;
  const json& list = fields::Array(spec, "spec", "healthChecks");
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string at = "spec.healthChecks[" + std::to_string(i) + "]";
    const json& h = list[i];
    if (!h.is_object() || fields::String(h, at, "kind").empty()) throw InvalidSpec(at + ".kind: Required value");
    if (fields::String(h, at, "name").empty()) throw InvalidSpec(at + ".name: Required value");
    out.push_back({fields::String(h, at, "apiVersion"), fields::String(h, at, "kind"), fields::String(h, at, "name"),
                   fields::String(h, at, "namespace")});
  }
  return out;
}

void PostBuild(const json& spec, KustomizationSpec& s) {
  if (!spec.contains("postBuild") || spec["postBuild"].is_null()) return;
  const json& pb = fields::Object(spec, "spec", "postBuild");
  s.post_build = true;
  for (const auto& [k, v] : fields::Object(pb, "spec.postBuild", "substitute").items()) {
    if (!ValidVariableName(k))
      throw InvalidSpec("spec.postBuild.substitute: invalid variable name \"" + k +
                        "\": names start with a letter or '_' and hold letters, digits and '_'");
    if (!v.is_string()) throw InvalidSpec("spec.postBuild.substitute." + k + ": expected a string");
    s.substitute[k] = v.get<std::string>();
  }
  const json& from = fields::Array(pb, "spec.postBuild", "substituteFrom");
  for (size_t i = 0; i < from.size(); ++i) {
    const std::string at = "spec.postBuild.substituteFrom[" + std::to_string(i) + "]";
    std::string kind = from[i].is_object() ? fields::String(from[i], at, "kind") : "";
    if (kind != "ConfigMap" && kind != "Secret")
      throw InvalidSpec(at + ".kind: Unsupported value: \"" + kind + "\": supported values: \"ConfigMap\", \"Secret\"");
    std::string name = fields::String(from[i], at, "name");
    if (name.empty()) throw InvalidSpec(at + ".name: Required value");
    s.substitute_from.push_back({kind, name, fields::Bool(from[i], at, "optional")});
  }
}

}  // namespace

bool ValidVariableName(std::string_view name) {
  if (name.empty() || !IsAlpha(name[0])) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return IsAlpha(c) || IsDigit(c); });
}

KustomizationSpec ParseKustomizationSpec(const json& ks) {
  if (!ks.contains("spec") || !ks["spec"].is_object()) throw InvalidSpec("spec: Required value");
  const json& spec = ks["spec"];
  const std::string own_ns = fields::String(fields::Object(ks, "", "metadata"), "metadata", "namespace");
  KustomizationSpec s;
  s.source = SourceRef(spec, own_ns);
  s.path = fields::String(spec, "spec", "path", s.path);
  if (!spec.contains("interval")) throw InvalidSpec("spec.interval: Required value");
  s.interval = fields::PositiveDuration(spec, "spec", "interval", s.interval);
  s.retry_interval = fields::PositiveDuration(spec, "spec", "retryInterval", s.retry_interval);
  s.timeout = fields::PositiveDuration(spec, "spec", "timeout", s.timeout);
  s.prune = fields::Bool(spec, "spec", "prune");
  s.suspend = fields::Bool(spec, "spec", "suspend");
  s.wait = fields::Bool(spec, "spec", "wait");
  s.target_namespace = fields::String(spec, "spec", "targetNamespace");
  s.depends_on = DependsOn(spec, own_ns);
  s.health_checks = HealthChecks(spec);
  PostBuild(spec, s);
  return s;
}

}  // namespace sluice::api
