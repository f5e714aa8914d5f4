#include "apimachinery/fieldset.h"

#include <set>
#include <stdexcept>

namespace sluice::apimachinery {
namespace {

using nlohmann::json;
using Names = std::vector<std::string>;

bool IsContainer(const json& v) { return v.is_object() || v.is_array(); }

bool AtomicObject(const ListSemanticsFn& lists, const Names& names) {
  return lists && !names.empty() && lists(names).atomic_object;
}

std::string NamesString(const Names& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ".") + n;
  return out;
}

// Go's %v of a scalar as structured-merge-diff prints keys in paths ("web" quoted, 80 bare).
std::string ScalarString(const json& v) { return v.dump(); }

}  // namespace

const FieldSet* FieldSet::Child(const PathElement& e) const {
  auto it = children_.find(e);
  return it == children_.end() ? nullptr : &it->second;
}

FieldSet FieldSet::FromFieldsV1(const json& fields_v1) {
  if (!fields_v1.is_object()) throw std::invalid_argument("fieldsV1 must be an object, got " + std::string(fields_v1.type_name()));
  FieldSet set;
  for (const auto& [key, value] : fields_v1.items()) {
    if (key == ".") {
      set.member_ = true;
      continue;
    }
    if (key.size() < 2 || key[1] != ':' || std::string("fkvi").find(key[0]) == std::string::npos)
      throw std::invalid_argument("fieldsV1 key \"" + key + "\" is not one of f:, k:, v:, i: or .");
    FieldSet child = FromFieldsV1(value);
    if (value.empty()) child.member_ = true;
    set.children_.emplace(key, std::move(child));
  }
  return set;
}

json FieldSet::ToFieldsV1() const {
  json out = json::object();
  for (const auto& [key, child] : children_) {
    json c = child.ToFieldsV1();
    if (child.member_ && !child.children_.empty()) c["."] = json::object();
    out[key] = std::move(c);
  }
  return out;
}

void FieldSet::Insert(const FieldPath& path) {
  FieldSet* node = this;
  for (const auto& e : path) node = &node->children_[e];
  node->member_ = true;
}

bool FieldSet::Has(const FieldPath& path) const {
  const FieldSet* node = this;
  for (const auto& e : path) {
    node = node->Child(e);
    if (!node) return false;
  }
  return node->member_;
}

void FieldSet::Prune() {
  for (auto it = children_.begin(); it != children_.end();) {
    it = it->second.Empty() ? children_.erase(it) : std::next(it);
  }
}

FieldSet FieldSet::Union(const FieldSet& other) const {
  FieldSet out = *this;
  out.member_ = member_ || other.member_;
  for (const auto& [key, child] : other.children_) {
    auto it = out.children_.find(key);
    if (it == out.children_.end()) {
      out.children_.emplace(key, child);
    } else {
      it->second = it->second.Union(child);
    }
  }
  return out;
}

FieldSet FieldSet::Difference(const FieldSet& other) const {
  FieldSet out;
  out.member_ = member_ && !other.member_;
  for (const auto& [key, child] : children_) {
    const FieldSet* o = other.Child(key);
    out.children_.emplace(key, o ? child.Difference(*o) : child);
  }
  out.Prune();
  return out;
}

FieldSet FieldSet::Intersection(const FieldSet& other) const {
  FieldSet out;
  out.member_ = member_ && other.member_;
  for (const auto& [key, child] : children_) {
    if (const FieldSet* o = other.Child(key)) out.children_.emplace(key, child.Intersection(*o));
  }
  out.Prune();
  return out;
}

void FieldSet::CollectMembers(FieldPath& prefix, std::vector<FieldPath>& out) const {
  if (member_) out.push_back(prefix);
  for (const auto& [key, child] : children_) {
    prefix.push_back(key);
    child.CollectMembers(prefix, out);
    prefix.pop_back();
  }
}

std::vector<FieldPath> FieldSet::Members() const {
  std::vector<FieldPath> out;
  FieldPath prefix;
  CollectMembers(prefix, out);
  return out;
}

std::string FieldPathString(const FieldPath& path) {
  std::string out;
  for (const auto& e : path) {
    const std::string body = e.size() > 2 ? e.substr(2) : "";
    switch (e.empty() ? '?' : e[0]) {
      case 'f':
        out += "." + body;
        break;
      case 'k': {
        auto key = json::parse(body, nullptr, /*allow_exceptions=*/false);
        std::string parts;
        if (key.is_object()) {
          for (const auto& [k, v] : key.items()) parts += (parts.empty() ? "" : ",") + k + "=" + ScalarString(v);
        }
        out += "[" + parts + "]";
        break;
      }
      case 'v':
        out += "[=" + body + "]";
        break;
      case 'i':
        out += "[" + body + "]";
        break;
      default:
        out += "{{invalid path element}}";
    }
  }
  return out;
}

std::optional<json> ListItemKey(const json& item, const std::vector<std::string>& keys) {
  if (!item.is_object() || keys.empty()) return std::nullopt;
  json key = json::object();
  for (const auto& k : keys) {
    auto it = item.find(k);
    if (it != item.end() && !it->is_null()) {
      key[k] = *it;
    } else if (k == "protocol") {
      key[k] = "TCP";
    } else {
      return std::nullopt;
    }
  }
  return key;
}

PathElement KeyElement(const json& key) { return "k:" + key.dump(); }
PathElement ValueElement(const json& value) { return "v:" + value.dump(); }

namespace {

// Element of each list item under its semantics; nullopt when the list cannot be split into
// items (unkeyed or duplicated items, containers in a set), so it counts as atomic.
std::optional<std::vector<PathElement>> ItemElements(const json& list, const ListSemantics& sem) {
  std::vector<PathElement> out;
  std::set<PathElement> seen;
  for (const auto& item : list) {
    PathElement e;
    if (sem.type == ListSemantics::Type::kSet) {
      if (IsContainer(item)) return std::nullopt;
      e = ValueElement(item);
    } else {
      auto key = ListItemKey(item, sem.keys);
      if (!key) return std::nullopt;
      e = KeyElement(*key);
    }
    if (!seen.insert(e).second) return std::nullopt;
    out.push_back(std::move(e));
  }
  return out;
}

void ExplainUnsplittableList(const json& list, const ListSemantics& sem, const Names& names) {
  std::set<PathElement> seen;
  for (size_t i = 0; i < list.size(); ++i) {
    const json& item = list[i];
    const std::string where = NamesString(names) + ": element " + std::to_string(i);
    if (sem.type == ListSemantics::Type::kSet) {
      if (IsContainer(item)) throw std::invalid_argument(where + ": a set holds only scalars, got " + item.type_name());
      if (!seen.insert(ValueElement(item)).second) throw std::invalid_argument(where + ": duplicate value " + item.dump());
      continue;
    }
    auto key = ListItemKey(item, sem.keys);
    if (!key) {
      std::string keys;
      for (const auto& k : sem.keys) keys += (keys.empty() ? "" : ", ") + ("\"" + k + "\"");
      throw std::invalid_argument(where + ": associative list with keys " + keys +
                                  " has an element that omits a key field");
    }
    if (!seen.insert(KeyElement(*key)).second)
      throw std::invalid_argument(where + ": duplicate entries for key " + key->dump());
  }
}

class SetBuilder {
 public:
  SetBuilder(const ListSemanticsFn& lists, bool strict) : lists_(lists), strict_(strict) {}

  void Object(const json& obj, Names& names, FieldPath& path, FieldSet& out) {
    for (const auto& [key, value] : obj.items()) {
      names.push_back(key);
      path.push_back("f:" + key);
      Value(value, names, path, out);
      path.pop_back();
      names.pop_back();
    }
  }

 private:
  void Value(const json& value, Names& names, FieldPath& path, FieldSet& out) {
    if (value.is_object() && !AtomicObject(lists_, names)) {
      Object(value, names, path, out);
    } else if (value.is_array()) {
      List(value, names, path, out);
    } else {
      out.Insert(path);
    }
  }

  void List(const json& list, Names& names, FieldPath& path, FieldSet& out) {
    ListSemantics sem = lists_ ? lists_(names) : ListSemantics{};
    if (sem.type == ListSemantics::Type::kAtomic) {
      out.Insert(path);
      return;
    }
    auto elements = ItemElements(list, sem);
    if (!elements) {
      if (strict_) ExplainUnsplittableList(list, sem, names);
      out.Insert(path);
      return;
    }
    for (size_t i = 0; i < list.size(); ++i) {
      path.push_back((*elements)[i]);
      out.Insert(path);
      if (list[i].is_object()) Object(list[i], names, path, out);
      path.pop_back();
    }
  }

  const ListSemanticsFn& lists_;
  bool strict_;
};

class Comparer {
 public:
  Comparer(const ListSemanticsFn& lists, FieldComparison& out) : lists_(lists), out_(out) {}

  void Walk(const json* l, const json* r, Names& names, FieldPath& path) {
    if (!l && !r) return;
    const json& any = l ? *l : *r;
    const bool same_shape = !l || !r || (l->is_object() == r->is_object() && l->is_array() == r->is_array());
    if (!same_shape || !IsContainer(any) || (any.is_object() && AtomicObject(lists_, names))) {
      Leaf(l, r, path);
      return;
    }
    const size_t lsize = l ? l->size() : 0, rsize = r ? r->size() : 0;
    if (lsize == 0 && rsize == 0) return;
    bool split = any.is_object() ? (Object(l, r, names, path), true) : List(l, r, names, path);
    if (!split || path.empty()) return;
    if (!l) out_.added.Insert(path);
    if (!r) out_.removed.Insert(path);
  }

 private:
  void Leaf(const json* l, const json* r, const FieldPath& path) {
    if (!l) {
      out_.added.Insert(path);
    } else if (!r) {
      out_.removed.Insert(path);
    } else if (*l != *r) {
      out_.modified.Insert(path);
    }
  }

  void Object(const json* l, const json* r, Names& names, FieldPath& path) {
    std::set<std::string> keys;
    if (l) for (const auto& [k, v] : l->items()) keys.insert(k);
    if (r) for (const auto& [k, v] : r->items()) keys.insert(k);
    for (const auto& k : keys) {
      const json* lc = l && l->contains(k) ? &(*l)[k] : nullptr;
      const json* rc = r && r->contains(k) ? &(*r)[k] : nullptr;
      names.push_back(k);
      path.push_back("f:" + k);
      Walk(lc, rc, names, path);
      path.pop_back();
      names.pop_back();
    }
  }

  // Returns false when the list compared as one leaf.
  bool List(const json* l, const json* r, Names& names, FieldPath& path) {
    ListSemantics sem = lists_ ? lists_(names) : ListSemantics{};
    static const json kEmpty = json::array();
    const json& lv = l ? *l : kEmpty;
    const json& rv = r ? *r : kEmpty;
    auto le = sem.type == ListSemantics::Type::kAtomic ? std::nullopt : ItemElements(lv, sem);
    auto re = sem.type == ListSemantics::Type::kAtomic ? std::nullopt : ItemElements(rv, sem);
    if (!le || !re) {
      Leaf(l, r, path);
      return false;
    }
    std::map<PathElement, const json*> litems, ritems;
    for (size_t i = 0; i < lv.size(); ++i) litems[(*le)[i]] = &lv[i];
    for (size_t i = 0; i < rv.size(); ++i) ritems[(*re)[i]] = &rv[i];
    std::set<PathElement> all;
    for (const auto& [e, v] : litems) all.insert(e);
    for (const auto& [e, v] : ritems) all.insert(e);
    for (const auto& e : all) {
      auto li = litems.find(e);
      auto ri = ritems.find(e);
      const json* lc = li == litems.end() ? nullptr : li->second;
      const json* rc = ri == ritems.end() ? nullptr : ri->second;
      path.push_back(e);
      if (sem.type == ListSemantics::Type::kSet) {
        Leaf(lc, rc, path);
      } else {
        Object(lc, rc, names, path);
        if (!lc) out_.added.Insert(path);
        if (!rc) out_.removed.Insert(path);
      }
      path.pop_back();
    }
    return true;
  }

  const ListSemanticsFn& lists_;
  FieldComparison& out_;
};

}  // namespace

FieldSet FieldSetOf(const json& object, const ListSemanticsFn& lists, bool strict) {
  FieldSet out;
  if (!object.is_object()) return out;
  Names names;
  FieldPath path;
  SetBuilder(lists, strict).Object(object, names, path, out);
  return out;
}

FieldComparison CompareFields(const json& before, const json& after, const ListSemanticsFn& lists) {
  FieldComparison out;
  Names names;
  FieldPath path;
  Comparer(lists, out).Walk(before.is_null() ? nullptr : &before, after.is_null() ? nullptr : &after, names, path);
  return out;
}

FieldSet WithoutUnownedFields(const FieldSet& set) {
  static const std::set<std::string> kOwnedMetadata = {"f:labels", "f:annotations", "f:finalizers",
                                                       "f:ownerReferences"};
  FieldSet owned;
  for (const auto& m : set.Members()) {
    if (m.empty() || m[0] == "f:apiVersion" || m[0] == "f:kind") continue;
    if (m[0] == "f:metadata" && (m.size() < 2 || !kOwnedMetadata.count(m[1]))) continue;
    owned.Insert(m);
  }
  return owned;
}

}  // namespace sluice::apimachinery
