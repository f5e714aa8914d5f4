// Deletion: finalizers, propagation policies, the garbage collector (owner references by
// uid) and namespace termination. The collector runs as a scheduled sweep after deletions,
// so an owner's DELETE answers before its dependents go, as on a real cluster.
#include "sandbox/emulator/api_server.h"

#include "apimachinery/selectors.h"
#include "core/yaml_json.h"

#include <map>
#include <set>

namespace sluice::sandbox {
namespace {

using nlohmann::json;

bool HasFinalizer(const json& obj, const std::string& f) {
  const auto& md = api::Meta(obj);
  if (!md.contains("finalizers") || !md["finalizers"].is_array()) return false;
  for (const auto& x : md["finalizers"])
    if (x == f) return true;
  return false;
}

std::vector<std::string> OwnerUids(const json& obj) {
  std::vector<std::string> out;
  const auto& md = api::Meta(obj);
  if (!md.contains("ownerReferences") || !md["ownerReferences"].is_array()) return out;
  for (const auto& ref : md["ownerReferences"]) {
    std::string uid = api::Str(ref, "uid");
    if (!uid.empty()) out.push_back(uid);
  }
  return out;
}

json StripOwners(const json& obj, const std::set<std::string>& uids) {
  json copy = obj;
  json refs = json::array();
  for (const auto& ref : copy["metadata"]["ownerReferences"])
    if (!uids.count(api::Str(ref, "uid"))) refs.push_back(ref);
  if (refs.empty())
    copy["metadata"].erase("ownerReferences");
  else
    copy["metadata"]["ownerReferences"] = refs;
  return copy;
}

}  // namespace

json ApiServer::DeleteObject(const KindInfo& kind, const ObjectPtr& obj, const std::string& policy, bool& removed) {
  removed = false;
  std::string key = kind.StorageKey();
  std::string ns = api::NamespaceOf(*obj);
  std::string name = api::NameOf(*obj);
  const auto& md = api::Meta(*obj);
  if (md.contains("deletionTimestamp")) return Output(*obj, kind);
  json copy = *obj;
  if (kind.res.resource == "namespaces" && kind.res.group.empty()) {
    copy["metadata"]["deletionTimestamp"] = core::FormatTime(clock_.Now());
    copy["metadata"]["deletionGracePeriodSeconds"] = 0;
    copy["status"]["phase"] = "Terminating";
    auto stored = store_.Put(key, std::move(copy));
    ScheduleCollection();
    return Output(*stored, kind);
  }
  auto& fins = copy["metadata"]["finalizers"];
  if (!fins.is_array()) fins = json::array();
  if (policy == "Foreground" && !HasFinalizer(copy, "foregroundDeletion")) fins.push_back("foregroundDeletion");
  if (policy == "Orphan" && !HasFinalizer(copy, "orphan")) fins.push_back("orphan");
  if (fins.empty()) {
    auto gone = store_.Remove(key, ns, name);
    removed = true;
    AfterWrite(kind, obj, gone, true);
    return Output(*gone, kind);
  }
  copy["metadata"]["deletionTimestamp"] = core::FormatTime(clock_.Now());
  copy["metadata"]["deletionGracePeriodSeconds"] = 0;
  auto stored = store_.Put(key, std::move(copy));
  AfterWrite(kind, obj, stored, false);
  return Output(*stored, kind);
}

net::HttpResponse ApiServer::Delete(const net::HttpRequest& req, const Target& t) {
  const auto& r = t.kind->res;
  auto obj = store_.Get(t.kind->StorageKey(), t.ns, t.name);
  if (!obj) throw core::ApiError::NotFound(r.group, r.resource, t.name);
  json opts = json::object();
  if (req.body.find_first_not_of(" \t\r\n") != std::string::npos) {
    std::string ct = req.Header("content-type");
    try {
      opts = ct.find("yaml") != std::string::npos ? core::ParseYaml(req.body) : json::parse(req.body);
    } catch (const std::exception& e) {
      throw core::ApiError::BadRequest(std::string("the DeleteOptions body is not valid: ") + e.what());
    }
    if (!opts.is_object()) throw core::ApiError::BadRequest("the DeleteOptions body must be an object");
  }
  std::string policy = api::Str(opts, "propagationPolicy");
  if (policy.empty()) policy = req.Query("propagationPolicy");
  if (policy.empty() && opts.contains("orphanDependents") && opts["orphanDependents"] == true) policy = "Orphan";
  if (policy.empty()) policy = "Background";
  if (policy != "Background" && policy != "Foreground" && policy != "Orphan")
    throw core::ApiError::BadRequest("propagationPolicy \"" + policy +
                                     "\" is not supported: expected Background, Foreground or Orphan");
  const auto& md = api::Meta(*obj);
  if (opts.contains("preconditions") && opts["preconditions"].is_object()) {
    const auto& pre = opts["preconditions"];
    std::string uid = api::Str(pre, "uid"), rv = api::Str(pre, "resourceVersion");
    if (!uid.empty() && uid != api::Str(md, "uid"))
      throw core::ApiError::Conflict(r.group, r.resource, t.name,
                                     "Precondition failed: UID in precondition: " + uid +
                                         ", UID in object meta: " + api::Str(md, "uid"));
    if (!rv.empty() && rv != api::Str(md, "resourceVersion"))
      throw core::ApiError::Conflict(r.group, r.resource, t.name,
                                     "Precondition failed: ResourceVersion in precondition: " + rv +
                                         ", ResourceVersion in object meta: " + api::Str(md, "resourceVersion"));
  }
  if (!req.Query("dryRun").empty()) return ObjectResponse(200, Output(*obj, *t.kind), req, t);
  bool removed = false;
  json answer = DeleteObject(*t.kind, obj, policy, removed);
  if (!removed) return ObjectResponse(200, answer, req, t);
  json details = {{"name", t.name}, {"kind", r.resource}, {"uid", api::Str(md, "uid")}};
  if (!r.group.empty()) details["group"] = r.group;
  return api::Json(200, {{"kind", "Status"},
                         {"apiVersion", "v1"},
                         {"metadata", json::object()},
                         {"status", "Success"},
                         {"details", details}});
}

net::HttpResponse ApiServer::DeleteCollection(const net::HttpRequest& req, const Target& t) {
  apimachinery::LabelSelector labels;
  apimachinery::FieldSelector fields;
  try {
    if (!req.Query("labelSelector").empty()) labels = apimachinery::LabelSelector::Parse(req.Query("labelSelector"));
    if (!req.Query("fieldSelector").empty()) fields = apimachinery::FieldSelector::Parse(req.Query("fieldSelector"));
  } catch (const std::invalid_argument& e) {
    throw core::ApiError::BadRequest(e.what());
  }
  std::string policy = req.Query("propagationPolicy");
  if (policy.empty()) policy = "Background";
  json items = json::array();
  for (const auto& obj : store_.List(t.kind->StorageKey(), t.ns)) {
    if (!labels.Empty() && !labels.Matches(api::Meta(*obj).value("labels", json()))) continue;
    if (!fields.Empty() && !fields.Matches(*obj)) continue;
    bool removed = false;
    items.push_back(DeleteObject(*t.kind, obj, policy, removed));
  }
  return api::Json(200, {{"kind", t.kind->res.kind + "List"},
                         {"apiVersion", t.kind->res.ApiVersion()},
                         {"metadata", {{"resourceVersion", std::to_string(store_.CurrentRv())}}},
                         {"items", items}});
}

void ApiServer::ScheduleCollection() {
  if (collection_scheduled_ || !scheduler_) return;
  collection_scheduled_ = true;
  scheduler_(std::chrono::milliseconds(20), [this] {
    collection_scheduled_ = false;
    CollectGarbage();
  });
}

void ApiServer::CollectGarbage() {
  // Each pass may cascade (a deleted dependent owns others); stop when nothing changed.
  for (int i = 0; i < 100 && CollectPass(); ++i) {
  }
}

bool ApiServer::CollectPass() {
  struct Entry {
    KindPtr kind;
    ObjectPtr obj;
  };
  std::map<std::string, KindPtr> kind_of_key;
  for (const auto& k : registry_.All()) kind_of_key.emplace(k->StorageKey(), k);
  std::vector<Entry> entries;
  std::set<std::string> uids;
  std::map<std::string, std::vector<size_t>> dependents;
  for (const auto& [key, kind] : kind_of_key) {
    for (const auto& obj : store_.List(key, "")) {
      uids.insert(api::Str(api::Meta(*obj), "uid"));
      for (const auto& owner : OwnerUids(*obj)) dependents[owner].push_back(entries.size());
      entries.push_back({kind, obj});
    }
  }
  // Acts only on objects that did not change since the snapshot.
  auto current = [&](const Entry& e) {
    auto now = store_.Get(e.kind->StorageKey(), api::NamespaceOf(*e.obj), api::NameOf(*e.obj));
    return now == e.obj ? now : nullptr;
  };
  auto remove_finalizer = [&](const Entry& e, const std::string& fin) {
    json copy = *e.obj;
    json kept = json::array();
    for (const auto& f : copy["metadata"]["finalizers"])
      if (f != fin) kept.push_back(f);
    copy["metadata"]["finalizers"] = kept;
    if (kept.empty() && copy["metadata"].contains("deletionTimestamp")) {
      auto gone = store_.Remove(e.kind->StorageKey(), api::NamespaceOf(copy), api::NameOf(copy));
      AfterWrite(*e.kind, e.obj, gone, true);
    } else {
      if (kept.empty()) copy["metadata"].erase("finalizers");
      auto stored = store_.Put(e.kind->StorageKey(), std::move(copy));
      AfterWrite(*e.kind, e.obj, stored, false);
    }
  };
  bool changed = false;
  for (const auto& e : entries) {
    if (!current(e)) continue;
    const auto& md = api::Meta(*e.obj);
    std::string uid = api::Str(md, "uid");
    bool deleting = md.contains("deletionTimestamp");
    if (deleting && e.kind->res.resource == "namespaces" && e.kind->res.group.empty()) {
      std::string ns = api::NameOf(*e.obj);
      bool empty = true;
      for (const auto& other : entries) {
        if (!other.kind->res.namespaced || api::NamespaceOf(*other.obj) != ns) continue;
        empty = false;
        auto live = current(other);
        if (live && !api::Meta(*live).contains("deletionTimestamp")) {
          bool removed = false;
          DeleteObject(*other.kind, live, "Background", removed);
          changed = true;
        }
      }
      if (empty) {
        auto gone = store_.Remove(e.kind->StorageKey(), "", ns);
        AfterWrite(*e.kind, e.obj, gone, true);
        changed = true;
      }
      continue;
    }
    if (deleting && HasFinalizer(*e.obj, "orphan")) {
      for (size_t i : dependents[uid]) {
        auto live = current(entries[i]);
        if (!live) continue;
        auto stored = store_.Put(entries[i].kind->StorageKey(), StripOwners(*live, {uid}));
        AfterWrite(*entries[i].kind, live, stored, false);
      }
      remove_finalizer(e, "orphan");
      changed = true;
      continue;
    }
    if (deleting && HasFinalizer(*e.obj, "foregroundDeletion")) {
      bool any = false;
      for (size_t i : dependents[uid]) {
        any = true;
        auto live = current(entries[i]);
        if (live && !api::Meta(*live).contains("deletionTimestamp")) {
          bool removed = false;
          DeleteObject(*entries[i].kind, live, "Foreground", removed);
          changed = true;
        }
      }
      if (!any) {
        remove_finalizer(e, "foregroundDeletion");
        changed = true;
      }
      continue;
    }
    auto owners = OwnerUids(*e.obj);
    if (owners.empty() || deleting) continue;
    std::set<std::string> missing;
    for (const auto& o : owners)
      if (!uids.count(o)) missing.insert(o);
    if (missing.empty()) continue;
    if (missing.size() == owners.size()) {
      bool removed = false;
      DeleteObject(*e.kind, e.obj, "Background", removed);
    } else {
      auto stored = store_.Put(e.kind->StorageKey(), StripOwners(*e.obj, missing));
      AfterWrite(*e.kind, e.obj, stored, false);
    }
    changed = true;
  }
  return changed;
}

}  // namespace sluice::sandbox
