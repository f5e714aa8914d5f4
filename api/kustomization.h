// A Kustomization's spec (Flux's kustomize.toolkit.fluxcd.io field names), parsed once.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::api {

struct NamespacedName {
  std::string ns;
  std::string name;
  std::string Key() const { return ns + "/" + name; }
};

struct HealthCheckRef {
  std::string api_version;  // "" = the kind's preferred version
  std::string kind;
  std::string name;
  std::string ns;
};

struct SubstituteSource {
  std::string kind;  // ConfigMap | Secret
  std::string name;
  bool optional = false;
};

struct KustomizationSpec {
  NamespacedName source;  // spec.sourceRef (a GitRepository)
  std::string path = "./";
  std::chrono::milliseconds interval{600000};
  std::chrono::milliseconds retry_interval{0};  // 0 = the interval
  std::chrono::milliseconds timeout{0};         // 0 = the interval
  bool prune = false;
  bool suspend = false;
  bool wait = false;
  std::string target_namespace;
  std::vector<NamespacedName> depends_on;
  std::vector<HealthCheckRef> health_checks;
  bool post_build = false;
  std::map<std::string, std::string> substitute;  // spec.postBuild.substitute
  std::vector<SubstituteSource> substitute_from;

  std::chrono::milliseconds RetryInterval() const { return retry_interval.count() > 0 ? retry_interval : interval; }
  std::chrono::milliseconds Timeout() const { return timeout.count() > 0 ? timeout : interval; }
};

// Throws InvalidSpec naming the field ("spec.interval: ...").
KustomizationSpec ParseKustomizationSpec(const nlohmann::json& kustomization);

// Post-build variable names Flux accepts: a letter or '_' first, then letters, digits and '_'.
bool ValidVariableName(std::string_view name);

}  // namespace sluice::api
