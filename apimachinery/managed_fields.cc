// Server-side apply and field ownership, after the model of the API server's field manager:
// every manager owns a set of fields; an apply merges the manager's intent into the live
// object, drops what the manager stopped sending (unless someone else owns it), and refuses
// to change fields another manager owns unless forced. Non-apply writes take ownership of
// whatever they changed.
#include "apimachinery/managed_fields.h"

#include "core/api_error.h"
#include "apimachinery/fieldset.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <stdexcept>

namespace sluice::apimachinery {
namespace {

using nlohmann::json;
using Names = std::vector<std::string>;

// The manager the API server invents to own the fields of an object that was written before
// anybody tracked ownership, so a first apply does not silently take them.
constexpr const char* kBeforeFirstApply = "before-first-apply";

struct Manager {
  std::string name;
  std::string operation;  // "Apply" or "Update"
  std::string api_version;
  std::string subresource;
  json time;  // string, or null when unknown
  FieldSet fields;
  json entry;  // the entry as read; re-encoded only when `dirty`
  bool dirty = true;

  // Appliers are one manager whatever apiVersion they apply with; updaters are one per version.
  bool SameIdentity(const std::string& n, const std::string& op, const std::string& version,
                    const std::string& sub) const {
    return name == n && operation == op && subresource == sub && (op == "Apply" || api_version == version);
  }
};

std::vector<Manager> DecodeManagers(const json& object) {
  std::vector<Manager> out;
  if (!object.is_object()) return out;
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return out;
  auto entries = meta->find("managedFields");
  if (entries == meta->end() || !entries->is_array()) return out;
  for (const auto& e : *entries) {
    if (!e.is_object() || e.value("fieldsType", "FieldsV1") != "FieldsV1") continue;
    Manager m;
    m.name = e.value("manager", "");
    m.operation = e.value("operation", "");
    m.api_version = e.value("apiVersion", "");
    m.subresource = e.value("subresource", "");
    m.time = e.contains("time") ? e["time"] : json();
    try {
      m.fields = FieldSet::FromFieldsV1(e.value("fieldsV1", json::object()));
    } catch (const std::invalid_argument&) {
      continue;  // an unreadable entry owns nothing; the API server drops it too
    }
    if (m.operation != "Apply" && m.operation != "Update") continue;
    m.entry = e;
    m.dirty = false;
    out.push_back(std::move(m));
  }
  return out;
}

bool IsResetRequest(const json& object) {
  const json* entries = nullptr;
  if (object.is_object() && object.contains("metadata") && object["metadata"].is_object() &&
      object["metadata"].contains("managedFields"))
    entries = &object["metadata"]["managedFields"];
  return entries && entries->is_array() && entries->size() == 1 && (*entries)[0].is_object() &&
         (*entries)[0].empty();
}

json EncodeManagers(std::vector<Manager> managers) {
  std::stable_sort(managers.begin(), managers.end(), [](const Manager& p, const Manager& q) {
    if (p.operation != q.operation) return p.operation < q.operation;
    const std::string pt = p.time.is_string() ? p.time.get<std::string>() : "";
    const std::string qt = q.time.is_string() ? q.time.get<std::string>() : "";
    if (pt != qt) return pt < qt;
    if (p.name != q.name) return p.name < q.name;
    if (p.api_version != q.api_version) return p.api_version < q.api_version;
    return p.subresource < q.subresource;
  });
  json out = json::array();
  for (const auto& m : managers) {
    if (!m.dirty) {
      out.push_back(m.entry);
      continue;
    }
    json e = {{"manager", m.name}, {"operation", m.operation}, {"apiVersion", m.api_version}};
    if (!m.time.is_null()) e["time"] = m.time;
    e["fieldsType"] = "FieldsV1";
    e["fieldsV1"] = m.fields.ToFieldsV1();
    if (!m.subresource.empty()) e["subresource"] = m.subresource;
    out.push_back(std::move(e));
  }
  return out;
}

json WithoutManagedFields(const json& object) {
  if (!object.is_object()) return json::object();
  json out = object;
  if (out.contains("metadata") && out["metadata"].is_object()) out["metadata"].erase("managedFields");
  return out;
}

json WithManagers(json object, const std::vector<Manager>& managers) {
  if (!object.contains("metadata") || !object["metadata"].is_object()) object["metadata"] = json::object();
  if (managers.empty()) {
    object["metadata"].erase("managedFields");
  } else {
    object["metadata"]["managedFields"] = EncodeManagers(managers);
  }
  return object;
}

void SubtractFromAll(std::vector<Manager>& managers, const FieldSet& taken, const Manager* except) {
  for (auto& m : managers) {
    if (&m == except) continue;
    FieldSet left = m.fields.Difference(taken);
    if (left == m.fields) continue;
    m.fields = std::move(left);
    m.dirty = true;
  }
}

void DropEmpty(std::vector<Manager>& managers) {
  managers.erase(std::remove_if(managers.begin(), managers.end(), [](const Manager& m) { return m.fields.Empty(); }),
                 managers.end());
}

// Like the API server, keep at most this many Update entries: the oldest fold, per apiVersion,
// into one "ancient-changes" entry, so objects written by many clients keep a bounded header.
constexpr size_t kMaxUpdateManagers = 10;
constexpr const char* kAncientChanges = "ancient-changes";

int64_t EntrySeconds(const Manager& m) {
  if (!m.time.is_string()) return 0;
  auto t = core::ParseTime(m.time.get<std::string>());
  return t ? std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count() : 0;
}

void CapUpdateManagers(std::vector<Manager>& managers) {
  std::vector<size_t> updaters;
  for (size_t i = 0; i < managers.size(); ++i) {
    if (managers[i].operation == "Update") updaters.push_back(i);
  }
  if (updaters.size() <= kMaxUpdateManagers) return;
  std::stable_sort(updaters.begin(), updaters.end(), [&](size_t a, size_t b) {
    const int64_t sa = EntrySeconds(managers[a]), sb = EntrySeconds(managers[b]);
    if (sa != sb) return sa < sb;
    return managers[a].name < managers[b].name;
  });
  std::map<std::string, size_t> first_of_version;
  std::vector<bool> folded(managers.size(), false);
  size_t remaining = updaters.size();
  for (size_t n = 0; n < updaters.size() && remaining > kMaxUpdateManagers; ++n) {
    const size_t i = updaters[n];
    const std::string& version = managers[i].api_version;
    auto first = first_of_version.find(version);
    if (first == first_of_version.end()) {
      first_of_version.emplace(version, i);
      continue;
    }
    auto bucket = std::find_if(managers.begin(), managers.end(), [&](const Manager& m) {
      return m.SameIdentity(kAncientChanges, "Update", version, "");
    });
    Manager* b = bucket == managers.end() ? nullptr : &*bucket;
    if (!b) {
      b = &managers[first->second];  // the oldest entry of this version becomes the bucket
      b->name = kAncientChanges;
      b->subresource.clear();
    }
    b->fields = b->fields.Union(managers[i].fields);
    b->time = managers[i].time;
    b->dirty = true;
    folded[i] = true;
    --remaining;
  }
  std::vector<Manager> kept;
  for (size_t i = 0; i < managers.size(); ++i) {
    if (!folded[i]) kept.push_back(std::move(managers[i]));
  }
  managers = std::move(kept);
}

// ---------------------------------------------------------------------------------------
// Merging an applied intent into the live object

class ApplyMerger {
 public:
  explicit ApplyMerger(const ListSemanticsFn& lists) : lists_(lists) {}

  json Merge(const json* live, const json& config, Names& names) const {
    if (config.is_object() && !(lists_ && !names.empty() && lists_(names).atomic_object)) {
      json result = live && live->is_object() ? *live : json::object();
      for (const auto& [key, value] : config.items()) {
        if (value.is_null()) {
          result.erase(key);
          continue;
        }
        names.push_back(key);
        auto it = result.find(key);
        json merged = Merge(it == result.end() ? nullptr : &*it, value, names);
        result[key] = std::move(merged);
        names.pop_back();
      }
      return result;
    }
    if (!config.is_array() || !live || !live->is_array()) return config;
    const ListSemantics sem = lists_ ? lists_(names) : ListSemantics{};
    if (sem.type == ListSemantics::Type::kAtomic) return config;
    return MergeList(*live, config, sem, names);
  }

 private:
  static std::optional<PathElement> ElementOf(const json& item, const ListSemantics& sem) {
    if (sem.type == ListSemantics::Type::kSet) {
      if (item.is_object() || item.is_array()) return std::nullopt;
      return ValueElement(item);
    }
    auto key = ListItemKey(item, sem.keys);
    if (!key) return std::nullopt;
    return KeyElement(*key);
  }

  // Shared items follow the applied order; items only the live object has keep their place
  // between them, as the API server's merge does.
  json MergeList(const json& live, const json& config, const ListSemantics& sem, Names& names) const {
    std::vector<PathElement> live_elements, config_elements;
    std::map<PathElement, size_t> live_index;
    std::set<PathElement> in_config;
    for (size_t i = 0; i < live.size(); ++i) {
      auto e = ElementOf(live[i], sem);
      if (!e) return config;  // the live list cannot be keyed: the intent replaces it
      live_index.emplace(*e, i);
      live_elements.push_back(*e);
    }
    for (const auto& item : config) {
      auto e = ElementOf(item, sem);
      if (!e) return config;
      in_config.insert(*e);
      config_elements.push_back(*e);
    }
    json out = json::array();
    std::set<PathElement> emitted;
    size_t li = 0, ri = 0;
    while (li < live.size() || ri < config.size()) {
      if (li < live.size()) {
        const PathElement& e = live_elements[li];
        if (!in_config.count(e)) {
          out.push_back(live[li++]);
          continue;
        }
        if (emitted.count(e)) {
          ++li;
          continue;
        }
      }
      if (ri < config.size()) {
        const PathElement& e = config_elements[ri];
        auto at = live_index.find(e);
        const json* live_item = at == live_index.end() ? nullptr : &live[at->second];
        out.push_back(sem.type == ListSemantics::Type::kMap ? Merge(live_item, config[ri], names) : config[ri]);
        emitted.insert(e);
        ++ri;
        continue;
      }
      ++li;
    }
    return out;
  }

  const ListSemanticsFn& lists_;
};

// Removes from `node` the fields in `remove` that nobody in `keep` owns. Containers emptied by
// the removal go too (a built-in object re-encoded by the API server drops them the same way).
class Pruner {
 public:
  explicit Pruner(const ListSemanticsFn& lists) : lists_(lists) {}

  void Prune(json& node, const FieldSet& remove, const FieldSet* keep, Names& names,
             const std::vector<std::string>& protected_fields = {}) const {
    for (const auto& [element, child] : remove.Children()) {
      const FieldSet* child_keep = keep ? keep->Child(element) : nullptr;
      const bool field = element.rfind("f:", 0) == 0;
      const std::string field_name = field ? element.substr(2) : "";
      if (field && std::find(protected_fields.begin(), protected_fields.end(), field_name) != protected_fields.end())
        continue;
      if (field) names.push_back(field_name);
      ListSemantics sem = !field && lists_ ? lists_(names) : ListSemantics{};
      auto located = Locate(node, element, sem);
      if (located) {
        json& value = node.is_object() ? node[field_name] : node[*located];
        const bool owned_below = child_keep && !child_keep->Empty();
        if (child.IsMember() && !owned_below) {
          Erase(node, field_name, *located);
        } else if (!child.Children().empty() && (value.is_object() || value.is_array())) {
          const bool was_empty = value.empty();
          Prune(value, child, child_keep, names, field ? std::vector<std::string>{} : sem.keys);
          if (!was_empty && value.empty() && !(child_keep && child_keep->IsMember())) Erase(node, field_name, *located);
        }
      }
      if (field) names.pop_back();
    }
  }

 private:
  static void Erase(json& node, const std::string& field_name, size_t index) {
    if (node.is_object()) {
      node.erase(field_name);
    } else {
      node.erase(index);
    }
  }

  // Where `element` sits in `node` (an index for lists; 0 for a present object field).
  static std::optional<size_t> Locate(const json& node, const PathElement& element, const ListSemantics& sem) {
    const std::string body = element.size() > 2 ? element.substr(2) : "";
    switch (element.empty() ? '?' : element[0]) {
      case 'f':
        if (node.is_object() && node.contains(body)) return 0;
        return std::nullopt;
      case 'k': {
        if (!node.is_array()) return std::nullopt;
        json key = json::parse(body, nullptr, /*allow_exceptions=*/false);
        for (size_t i = 0; i < node.size(); ++i) {
          auto k = ListItemKey(node[i], sem.keys);
          if (k && *k == key) return i;
        }
        return std::nullopt;
      }
      case 'v': {
        if (!node.is_array()) return std::nullopt;
        json value = json::parse(body, nullptr, /*allow_exceptions=*/false);
        for (size_t i = 0; i < node.size(); ++i) {
          if (node[i] == value) return i;
        }
        return std::nullopt;
      }
      default:
        return std::nullopt;
    }
  }

  const ListSemanticsFn& lists_;
};

// ---------------------------------------------------------------------------------------
// Conflicts

std::string PrintManager(const Manager& m) {
  std::string out = json(m.name).dump();
  if (!m.subresource.empty()) out += " with subresource " + json(m.subresource).dump();
  if (m.operation == "Update") out += " using " + m.api_version;
  return out;
}

struct Conflict {
  const Manager* manager;
  FieldPath path;
};

[[noreturn]] void ThrowConflicts(std::vector<Conflict> conflicts) {
  std::stable_sort(conflicts.begin(), conflicts.end(), [](const Conflict& a, const Conflict& b) {
    return PrintManager(*a.manager) < PrintManager(*b.manager);
  });
  json causes = json::array();
  for (const auto& c : conflicts) {
    causes.push_back({{"reason", "FieldManagerConflict"},
                      {"message", "conflict with " + PrintManager(*c.manager)},
                      {"field", FieldPathString(c.path)}});
  }
  std::string message;
  if (conflicts.size() == 1) {
    message = "Apply failed with 1 conflict: conflict with " + PrintManager(*conflicts[0].manager) + ": " +
              FieldPathString(conflicts[0].path);
  } else {
    std::string lines;
    const Manager* current = nullptr;
    for (const auto& c : conflicts) {
      if (c.manager != current) {
        current = c.manager;
        lines += (lines.empty() ? "" : "\n") + ("conflicts with " + PrintManager(*current) + ":");
      }
      lines += "\n- " + FieldPathString(c.path);
    }
    message = "Apply failed with " + std::to_string(conflicts.size()) + " conflicts: " + lines;
  }
  throw core::ApiError(409, "Conflict", message, json{{"causes", causes}});
}

// The applied intent as it takes part in the merge: managedFields are the server's, nulls
// among top-level metadata fields (Go clients send "creationTimestamp": null) mean nothing, and
// the part of the object the API server resets for this endpoint is left out, as the server
// leaves it out of ownership: everything but status on the status subresource, status on the
// main resource of a kind that has the subresource.
json ApplyIntent(const json& applied, const ApplyRequest& request) {
  json config = applied;
  if (config.contains("metadata") && config["metadata"].is_object()) {
    json& meta = config["metadata"];
    meta.erase("managedFields");
    for (auto it = meta.begin(); it != meta.end();) it = it->is_null() ? meta.erase(it) : std::next(it);
    if (request.subresource == "status") {
      for (const char* owned : {"labels", "annotations", "finalizers", "ownerReferences"}) meta.erase(owned);
    }
  }
  if (request.subresource == "status") {
    for (auto it = config.begin(); it != config.end();) {
      const std::string& key = it.key();
      const bool keep = key == "apiVersion" || key == "kind" || key == "metadata" || key == "status";
      it = keep ? std::next(it) : config.erase(it);
    }
  } else if (request.status_is_subresource) {
    config.erase("status");
  }
  return config;
}

std::string ObjectDescription(const json& object) {
  std::string name, ns, kind, api_version;
  if (object.is_object()) {
    kind = object.value("kind", "");
    api_version = object.value("apiVersion", "");
    if (object.contains("metadata") && object["metadata"].is_object()) {
      name = object["metadata"].value("name", "");
      ns = object["metadata"].value("namespace", "");
    }
  }
  return (ns.empty() ? "" : ns + "/") + name + "; " + api_version + ", Kind=" + kind;
}

}  // namespace

nlohmann::json ServerSideApply(const nlohmann::json& live, const nlohmann::json& applied, const ApplyRequest& request,
                               const ListSemanticsFn& lists, core::TimePoint now) {
  if (request.manager.empty()) {
    throw core::ApiError::Invalid("PatchOptions.meta.k8s.io", "",
                                  {{"FieldValueRequired", "Required value: is required for apply patch", "fieldManager"}},
                                  "meta.k8s.io", "PatchOptions");
  }
  if (!applied.is_object())
    throw core::ApiError::BadRequest(std::string("an apply patch must be an object, got ") + applied.type_name());

  const json config = ApplyIntent(applied, request);
  FieldSet applied_set;
  try {
    applied_set = WithoutUnownedFields(FieldSetOf(config, lists, /*strict=*/true));
  } catch (const std::invalid_argument& e) {
    throw core::ApiError::BadRequest("failed to create typed patch object (" + ObjectDescription(applied) +
                                     "): " + e.what());
  }

  const bool creating = !live.is_object();
  const json current = WithoutManagedFields(live);
  std::vector<Manager> managers = creating ? std::vector<Manager>{} : DecodeManagers(live);
  if (!creating && managers.empty()) {
    Manager before;
    before.name = kBeforeFirstApply;
    before.operation = "Update";
    before.api_version = live.value("apiVersion", request.api_version);
    before.time = core::FormatTime(now);
    before.fields = WithoutUnownedFields(FieldSetOf(current, lists, /*strict=*/false));
    if (!before.fields.Empty()) managers.push_back(std::move(before));
  }

  Names names;
  json merged = ApplyMerger(lists).Merge(&current, config, names);

  auto self = std::find_if(managers.begin(), managers.end(), [&](const Manager& m) {
    return m.SameIdentity(request.manager, "Apply", request.api_version, request.subresource);
  });
  if (self != managers.end()) {
    FieldSet keep = applied_set;
    for (const auto& m : managers) {
      if (&m != &*self) keep = keep.Union(m.fields);
    }
    Pruner(lists).Prune(merged, self->fields.Difference(applied_set), &keep, names);
  }

  const FieldComparison cmp = CompareFields(current, merged, lists);
  const FieldSet changed = WithoutUnownedFields(cmp.Changed());
  const FieldSet removed = WithoutUnownedFields(cmp.removed);

  std::vector<Conflict> conflicts;
  std::vector<std::pair<Manager*, FieldSet>> taken;
  for (auto& m : managers) {
    if (self != managers.end() && &m == &*self) continue;
    FieldSet clash = m.fields.Intersection(changed);
    if (clash.Empty()) continue;
    for (auto& path : clash.Members()) conflicts.push_back({&m, std::move(path)});
    taken.emplace_back(&m, std::move(clash));
  }
  if (!conflicts.empty() && !request.force) ThrowConflicts(std::move(conflicts));

  for (auto& [m, clash] : taken) {
    m->fields = m->fields.Difference(clash);
    m->dirty = true;
  }
  Manager* applier = self == managers.end() ? nullptr : &*self;
  SubtractFromAll(managers, removed, applier);

  const bool object_changed = merged != current;
  if (!applier) {
    Manager m;
    m.name = request.manager;
    m.operation = "Apply";
    m.subresource = request.subresource;
    managers.push_back(std::move(m));
    applier = &managers.back();
    applier->dirty = true;
  }
  if (applier->dirty || object_changed || applier->fields != applied_set || applier->api_version != request.api_version) {
    applier->fields = applied_set;
    applier->api_version = request.api_version;
    applier->time = core::FormatTime(now);
    applier->dirty = true;
  }
  DropEmpty(managers);
  CapUpdateManagers(managers);
  return WithManagers(std::move(merged), managers);
}

nlohmann::json TrackUpdate(const nlohmann::json& before, const nlohmann::json& after, const std::string& manager,
                           const std::string& api_version, const ListSemanticsFn& lists, core::TimePoint now,
                           const std::string& subresource) {
  if (!after.is_object()) return after;
  // Ownership comes from the written object when it carries any (a client may edit
  // managedFields on purpose; "[{}]" clears them), otherwise from the stored one, so a
  // client unaware of managedFields cannot wipe them. Subresource writes never set them.
  std::vector<Manager> managers;
  if (subresource.empty() && IsResetRequest(after)) {
    managers.clear();
  } else {
    if (subresource.empty()) managers = DecodeManagers(after);
    if (managers.empty()) managers = DecodeManagers(before);
  }

  const json old_object = WithoutManagedFields(before);
  const json new_object = WithoutManagedFields(after);
  const FieldComparison cmp = CompareFields(old_object, new_object, lists);
  const FieldSet changed = WithoutUnownedFields(cmp.Changed());
  const FieldSet removed = WithoutUnownedFields(cmp.removed);

  SubtractFromAll(managers, changed.Union(removed), nullptr);
  if (!changed.Empty()) {
    auto self = std::find_if(managers.begin(), managers.end(), [&](const Manager& m) {
      return m.SameIdentity(manager, "Update", api_version, subresource);
    });
    if (self == managers.end()) {
      Manager m;
      m.name = manager;
      m.operation = "Update";
      m.api_version = api_version;
      m.subresource = subresource;
      managers.push_back(std::move(m));
      self = std::prev(managers.end());
    }
    self->fields = self->fields.Union(changed);
    self->time = core::FormatTime(now);
    self->dirty = true;
  }
  DropEmpty(managers);
  CapUpdateManagers(managers);
  return WithManagers(new_object, managers);
}

}  // namespace sluice::apimachinery
