// Sets of field paths in the managedFields "FieldsV1" form, and the walks over objects that
// produce them (which fields an object sets, which fields changed between two objects).
// Server-side apply and update tracking are built from these.
#pragma once

#include "apimachinery/list_semantics.h"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sluice::apimachinery {

// One step of a field path, spelled as in FieldsV1: "f:<field>", "k:<json of key fields>",
// "v:<json value>" or "i:<index>".
using PathElement = std::string;
using FieldPath = std::vector<PathElement>;

// A tree of path elements; a node is a "member" when the path itself is in the set (the
// FieldsV1 "." entry when the node also has children).
class FieldSet {
 public:
  // Throws std::invalid_argument when `fields_v1` is not a FieldsV1 object.
  static FieldSet FromFieldsV1(const nlohmann::json& fields_v1);
  nlohmann::json ToFieldsV1() const;

  bool Empty() const { return !member_ && children_.empty(); }
  bool IsMember() const { return member_; }
  const std::map<PathElement, FieldSet>& Children() const { return children_; }
  const FieldSet* Child(const PathElement& e) const;

  void Insert(const FieldPath& path);
  bool Has(const FieldPath& path) const;
  // Removes `e` and everything under it.
  void EraseChild(const PathElement& e) { children_.erase(e); }

  FieldSet Union(const FieldSet& other) const;
  FieldSet Difference(const FieldSet& other) const;    // members of this not in other
  FieldSet Intersection(const FieldSet& other) const;  // members in both
  std::vector<FieldPath> Members() const;              // in path order

  bool operator==(const FieldSet& other) const = default;

 private:
  void CollectMembers(FieldPath& prefix, std::vector<FieldPath>& out) const;
  void Prune();

  bool member_ = false;
  std::map<PathElement, FieldSet> children_;
};

// ".spec.template.spec.containers[name=\"web\"].image", as the API server names fields in
// apply conflicts.
std::string FieldPathString(const FieldPath& path);

// The key of a map-list item: an object with the key fields' values, or nullopt when the item
// is not an object or lacks a key. A missing "protocol" key counts as "TCP", the default the
// API server fills for container and service ports.
std::optional<nlohmann::json> ListItemKey(const nlohmann::json& item, const std::vector<std::string>& keys);
PathElement KeyElement(const nlohmann::json& key);
PathElement ValueElement(const nlohmann::json& value);

// The fields an object sets, with lists split by their semantics (an atomic list or atomic
// object is one leaf, set and map items are members of their own). When `strict`, throws std::invalid_argument
// naming the list when a map-list item lacks a key or two items share one (an applied intent
// must be exact); otherwise such a list counts as atomic.
FieldSet FieldSetOf(const nlohmann::json& object, const ListSemanticsFn& lists, bool strict = true);

// Which fields differ between two objects. A list whose items cannot be keyed counts as atomic.
struct FieldComparison {
  FieldSet added;
  FieldSet modified;
  FieldSet removed;
  FieldSet Changed() const { return added.Union(modified); }
};
FieldComparison CompareFields(const nlohmann::json& before, const nlohmann::json& after, const ListSemanticsFn& lists);

// Drops the fields nobody owns by design: apiVersion, kind, and metadata other than labels,
// annotations, finalizers and ownerReferences.
FieldSet WithoutUnownedFields(const FieldSet& set);

}  // namespace sluice::apimachinery
