#include "sandbox/emulator/registry.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <tuple>

namespace sluice::sandbox {
namespace {

const std::vector<std::string> kAllVerbs = {"create", "delete", "deletecollection", "get",
                                            "list",   "patch",  "update",           "watch"};

KindInfo Builtin(std::string group, std::string version, std::string resource, std::string kind, bool namespaced,
                 std::vector<std::string> short_names, bool status, bool scale, bool generation,
                 std::vector<std::string> categories = {}) {
  KindInfo k;
  k.res.group = std::move(group);
  k.res.version = std::move(version);
  k.res.resource = std::move(resource);
  k.res.singular = kind;
  std::transform(k.res.singular.begin(), k.res.singular.end(), k.res.singular.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  k.res.kind = std::move(kind);
  k.res.namespaced = namespaced;
  k.res.short_names = std::move(short_names);
  k.res.categories = std::move(categories);
  k.res.verbs = kAllVerbs;
  k.res.has_status = status;
  k.res.has_scale = scale;
  k.tracks_generation = generation;
  return k;
}

int BuiltinGroupRank(const std::string& group) {
  static const std::vector<std::string> order = {"",
                                                 "apps",
                                                 "events.k8s.io",
                                                 "autoscaling",
                                                 "networking.k8s.io",
                                                 "coordination.k8s.io",
                                                 "rbac.authorization.k8s.io",
                                                 "apiextensions.k8s.io"};
  auto it = std::find(order.begin(), order.end(), group);
  return it == order.end() ? -1 : static_cast<int>(it - order.begin());
}

// Kubernetes version priority: GA before beta before alpha, higher numbers first.
std::tuple<int, int, int> VersionRank(const std::string& v) {
  int major = 0, minor = 0, stage = 3;
  if (v.size() > 1 && v[0] == 'v' && std::isdigit(static_cast<unsigned char>(v[1]))) {
    size_t i = 1;
    while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]))) major = major * 10 + (v[i++] - '0');
    std::string rest = v.substr(i);
    if (rest.empty()) stage = 0;
    else if (rest.rfind("beta", 0) == 0) stage = 1, rest = rest.substr(4);
    else if (rest.rfind("alpha", 0) == 0) stage = 2, rest = rest.substr(5);
    for (char c : rest)
      if (std::isdigit(static_cast<unsigned char>(c))) minor = minor * 10 + (c - '0');
  }
  return {stage, -major, -minor};
}

}  // namespace

Registry::Registry() {
  const std::vector<std::string> all = {"all"};
  Add(Builtin("", "v1", "namespaces", "Namespace", false, {"ns"}, true, false, false));
  Add(Builtin("", "v1", "configmaps", "ConfigMap", true, {"cm"}, false, false, false));
  Add(Builtin("", "v1", "secrets", "Secret", true, {}, false, false, false));
  Add(Builtin("", "v1", "services", "Service", true, {"svc"}, true, false, false, all));
  Add(Builtin("", "v1", "events", "Event", true, {"ev"}, false, false, false));
  Add(Builtin("", "v1", "serviceaccounts", "ServiceAccount", true, {"sa"}, false, false, false));
  Add(Builtin("", "v1", "pods", "Pod", true, {"po"}, true, false, false, all));
  Add(Builtin("apps", "v1", "deployments", "Deployment", true, {"deploy"}, true, true, true, all));
  Add(Builtin("apps", "v1", "daemonsets", "DaemonSet", true, {"ds"}, true, false, true, all));
  Add(Builtin("apps", "v1", "replicasets", "ReplicaSet", true, {"rs"}, true, true, true, all));
  Add(Builtin("events.k8s.io", "v1", "events", "Event", true, {"ev"}, false, false, false));
  Add(Builtin("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", true, {"hpa"}, true, false,
              false, all));
  Add(Builtin("networking.k8s.io", "v1", "ingresses", "Ingress", true, {"ing"}, true, false, true));
  Add(Builtin("coordination.k8s.io", "v1", "leases", "Lease", true, {}, false, false, false));
  // RBAC objects are stored and served (install manifests apply), not enforced.
  Add(Builtin("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", false, {}, false, false, false));
  Add(Builtin("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", false, {}, false, false,
              false));
  Add(Builtin("rbac.authorization.k8s.io", "v1", "roles", "Role", true, {}, false, false, false));
  Add(Builtin("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true, {}, false, false, false));
  Add(Builtin("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", false,
              {"crd", "crds"}, true, false, true));
}

void Registry::Add(KindInfo info) { kinds_.push_back(std::make_shared<const KindInfo>(std::move(info))); }

KindPtr Registry::Find(const std::string& group, const std::string& version, const std::string& resource) const {
  for (const auto& k : kinds_)
    if (k->res.group == group && k->res.version == version && k->res.resource == resource) return k;
  return nullptr;
}

KindPtr Registry::FindKind(const std::string& group, const std::string& version, const std::string& kind) const {
  for (const auto& k : kinds_)
    if (k->res.group == group && k->res.version == version && k->res.kind == kind) return k;
  return nullptr;
}

std::vector<KindPtr> Registry::All() const { return kinds_; }

std::vector<KindPtr> Registry::InGroupVersion(const std::string& group, const std::string& version) const {
  std::vector<KindPtr> out;
  for (const auto& k : kinds_)
    if (k->res.group == group && k->res.version == version) out.push_back(k);
  return out;
}

std::vector<std::pair<std::string, std::vector<std::string>>> Registry::GroupVersions() const {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  std::set<std::string> seen;
  std::vector<std::string> groups;
  for (const auto& k : kinds_)
    if (seen.insert(k->res.group).second) groups.push_back(k->res.group);
  std::stable_sort(groups.begin(), groups.end(), [](const std::string& a, const std::string& b) {
    int ra = BuiltinGroupRank(a), rb = BuiltinGroupRank(b);
    if (ra >= 0 && rb >= 0) return ra < rb;
    if (ra >= 0 || rb >= 0) return ra >= 0;
    return a < b;
  });
  for (const auto& g : groups) {
    std::vector<std::string> versions;
    auto crd = crd_versions_.find(g);
    if (crd != crd_versions_.end()) versions = crd->second;
    for (const auto& k : kinds_)
      if (k->res.group == g && std::find(versions.begin(), versions.end(), k->res.version) == versions.end())
        versions.push_back(k->res.version);
    std::stable_sort(versions.begin(), versions.end(),
                     [](const std::string& a, const std::string& b) { return VersionRank(a) < VersionRank(b); });
    out.emplace_back(g, versions);
  }
  return out;
}

void Registry::RegisterCrd(const std::string& crd_name, std::vector<KindInfo> kinds) {
  UnregisterCrd(crd_name);
  for (auto& k : kinds) {
    auto& versions = crd_versions_[k.res.group];
    if (std::find(versions.begin(), versions.end(), k.res.version) == versions.end()) versions.push_back(k.res.version);
    k.crd_name = crd_name;
    Add(std::move(k));
  }
  ++generation_;
}

void Registry::UnregisterCrd(const std::string& crd_name) {
  auto before = kinds_.size();
  kinds_.erase(std::remove_if(kinds_.begin(), kinds_.end(), [&](const KindPtr& k) { return k->crd_name == crd_name; }),
               kinds_.end());
  // Drop versions no kind serves any more.
  for (auto it = crd_versions_.begin(); it != crd_versions_.end();) {
    auto& versions = it->second;
    versions.erase(std::remove_if(versions.begin(), versions.end(),
                                  [&](const std::string& v) { return InGroupVersion(it->first, v).empty(); }),
                   versions.end());
    it = versions.empty() ? crd_versions_.erase(it) : std::next(it);
  }
  if (kinds_.size() != before) ++generation_;
}

}  // namespace sluice::sandbox
