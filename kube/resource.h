// How a kind is addressed on the API: what discovery tells a client and what the emulator
// registers for every built-in kind and CRD.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sluice::kube {

struct ApiResource {
  std::string group;     // "" for the core group
  std::string version;   // "v1"
  std::string resource;  // plural, e.g. "deployments"
  std::string kind;      // "Deployment"
  std::string singular;  // "deployment"
  bool namespaced = true;
  std::vector<std::string> short_names;
  std::vector<std::string> categories;
  std::vector<std::string> verbs;
  bool has_status = false;  // status subresource
  bool has_scale = false;   // scale subresource

  // "apps/v1" or "v1".
  std::string ApiVersion() const { return group.empty() ? version : group + "/" + version; }
  // "deployments.apps", "configmaps".
  std::string GroupResource() const { return group.empty() ? resource : resource + "." + group; }
  // "/apis/apps/v1/namespaces/NS/deployments/NAME/SUB"; an empty ns on a namespaced
  // resource gives the cluster-wide collection path.
  std::string Path(std::string_view ns = {}, std::string_view name = {}, std::string_view subresource = {}) const {
    std::string p = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
    if (namespaced && !ns.empty()) p.append("/namespaces/").append(ns);
    p.append("/").append(resource);
    if (!name.empty()) p.append("/").append(name);
    if (!subresource.empty()) p.append("/").append(subresource);
    return p;
  }
};

// Splits "apps/v1" into {"apps","v1"} and "v1" into {"","v1"}.
inline std::pair<std::string, std::string> SplitApiVersion(std::string_view api_version) {
  auto slash = api_version.find('/');
  if (slash == std::string_view::npos) return {"", std::string(api_version)};
  return {std::string(api_version.substr(0, slash)), std::string(api_version.substr(slash + 1))};
}

}  // namespace sluice::kube
