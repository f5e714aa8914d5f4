// The inventory a sync keeps in its status: one entry per object it applied, identified as
// Flux does ("<namespace>_<name>_<group>_<kind>", namespace and group empty when they do not
// apply) with the version it was applied at. The difference between the last inventory and
// the new one is what prune deletes.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace sluice::gitops {

struct ObjectRef {
  std::string ns;
  std::string name;
  std::string group;
  std::string kind;
  std::string version;

  std::string Id() const;  // "default_web_apps_Deployment"
  std::string ApiVersion() const { return group.empty() ? version : group + "/" + version; }
  // "Deployment default/web", as messages name objects.
  std::string Describe() const;
  bool operator<(const ObjectRef& o) const { return Id() < o.Id(); }
  bool operator==(const ObjectRef& o) const { return Id() == o.Id(); }
};

// From an object's apiVersion, kind and metadata.
ObjectRef RefOf(const nlohmann::json& object);
// From an entry id and version; nullopt when the id does not have four parts.
std::optional<ObjectRef> ParseEntry(const std::string& id, const std::string& version);

// Sorted by id, no duplicates.
using Inventory = std::vector<ObjectRef>;

Inventory MakeInventory(std::vector<ObjectRef> refs);
// status.inventory: {"entries":[{"id":...,"v":...}]}
nlohmann::json InventoryToJson(const Inventory& inventory);
// Entries that cannot be parsed are skipped: a broken inventory must not make us delete.
Inventory InventoryFromJson(const nlohmann::json& status_inventory);

// What was in `before` and is not in `after` (same id; a version change is not a removal),
// in the order to delete them: namespaced objects first, then cluster-scoped ones, then
// Namespaces and CustomResourceDefinitions last, so nothing is orphaned halfway.
std::vector<ObjectRef> Stale(const Inventory& before, const Inventory& after);

// Namespaces and CRDs go first when applying, and last when pruning.
bool IsClusterFoundation(const ObjectRef& ref);

}  // namespace sluice::gitops
