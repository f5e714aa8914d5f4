#include "controller/gitops/inventory.h"

#include <algorithm>
#include <set>

#include "kube/resource.h"

namespace sluice::gitops {

using json = nlohmann::json;

std::string ObjectRef::Id() const { return ns + "_" + name + "_" + group + "_" + kind; }

std::string ObjectRef::Describe() const { return kind + " " + (ns.empty() ? name : ns + "/" + name); }

ObjectRef RefOf(const json& object) {
  ObjectRef r;
  auto [group, version] = kube::SplitApiVersion(object.value("apiVersion", ""));
  r.group = group;
  r.version = version;
  r.kind = object.value("kind", "");
  const json& meta = object.contains("metadata") && object["metadata"].is_object() ? object["metadata"] : json::object();
  r.name = meta.value("name", "");
  if (meta.contains("namespace") && meta["namespace"].is_string()) r.ns = meta["namespace"];
  return r;
}

std::optional<ObjectRef> ParseEntry(const std::string& id, const std::string& version) {
  // Names and namespaces cannot hold '_', groups neither; kinds are CamelCase: four parts.
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t at = id.find('_', start);
    parts.push_back(id.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) break;
    start = at + 1;
  }
  if (parts.size() != 4 || parts[1].empty() || parts[3].empty()) return std::nullopt;
  return ObjectRef{parts[0], parts[1], parts[2], parts[3], version};
}

Inventory MakeInventory(std::vector<ObjectRef> refs) {
  std::sort(refs.begin(), refs.end());
  refs.erase(std::unique(refs.begin(), refs.end()), refs.end());
  return refs;
}

json InventoryToJson(const Inventory& inventory) {
  json entries = json::array();
  for (const auto& r : inventory) entries.push_back({{"id", r.Id()}, {"v", r.version}});
  return {{"entries", entries}};
}

Inventory InventoryFromJson(const json& status_inventory) {
  std::vector<ObjectRef> refs;
  if (!status_inventory.is_object() || !status_inventory.contains("entries") || !status_inventory["entries"].is_array())
    return {};
  for (const auto& e : status_inventory["entries"]) {
    if (!e.is_object() || !e.contains("id") || !e["id"].is_string()) continue;
    if (auto r = ParseEntry(e["id"], e.value("v", ""))) refs.push_back(*r);
  }
  return MakeInventory(std::move(refs));
}

bool IsClusterFoundation(const ObjectRef& ref) {
  return (ref.group.empty() && ref.kind == "Namespace") ||
         (ref.group == "apiextensions.k8s.io" && ref.kind == "CustomResourceDefinition");
}

std::vector<ObjectRef> Stale(const Inventory& before, const Inventory& after) {
  std::set<std::string> kept;
  for (const auto& r : after) kept.insert(r.Id());
  std::vector<ObjectRef> out;
  for (const auto& r : before)
    if (!kept.count(r.Id())) out.push_back(r);
  auto rank = [](const ObjectRef& r) { return IsClusterFoundation(r) ? 2 : (r.ns.empty() ? 1 : 0); };
  std::stable_sort(out.begin(), out.end(), [&](const ObjectRef& a, const ObjectRef& b) { return rank(a) < rank(b); });
  return out;
}

}  // namespace sluice::gitops
