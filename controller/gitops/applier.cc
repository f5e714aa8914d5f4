#include "controller/gitops/applier.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "apimachinery/contains.h"
#include "controller/gitops/health.h"
#include "core/base64.h"
#include "core/object_key.h"
#include "apimachinery/fieldset.h"

namespace sluice::gitops {

namespace asio = boost::asio;
using json = nlohmann::json;

namespace {

void DropLastApplied(json& object) {
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return;
  auto ann = meta->find("annotations");
  if (ann != meta->end() && ann->is_object()) ann->erase("kubectl.kubernetes.io/last-applied-configuration");
}

std::optional<uint64_t> NumericVersion(const json& object) {
  const std::string& rv = core::MetadataString(object, "resourceVersion");
  if (rv.empty() || rv.size() > 19 || !std::all_of(rv.begin(), rv.end(), ::isdigit)) return std::nullopt;
  return std::stoull(rv);
}

// Groups whose list semantics the built-in tables know exactly; other kinds are compared
// down to their first list only, which never reports a removal that is not there.
bool IsBuiltinGroup(const std::string& group) {
  static const std::set<std::string> kGroups = {
      "", "apps", "batch", "autoscaling", "networking.k8s.io", "policy", "rbac.authorization.k8s.io",
      "storage.k8s.io", "apiextensions.k8s.io", "admissionregistration.k8s.io", "coordination.k8s.io",
      "discovery.k8s.io", "scheduling.k8s.io", "node.k8s.io", "certificates.k8s.io"};
  return kGroups.count(group) > 0;
}

apimachinery::FieldSet UpToFirstList(const apimachinery::FieldSet& set) {
  apimachinery::FieldSet out;
  for (const auto& path : set.Members()) {
    apimachinery::FieldPath cut;
    for (const auto& e : path) {
      if (e.rfind("f:", 0) != 0) break;
      cut.push_back(e);
    }
    if (!cut.empty()) out.Insert(cut);
  }
  return out;
}

// The live form of what we send: Secrets store stringData as data.
json ComparableIntent(const json& desired) {
  json want = desired;
  want.erase("status");
  if (want.value("kind", "") == "Secret" && want.value("apiVersion", "") == "v1" && want.contains("stringData") &&
      want["stringData"].is_object()) {
    for (const auto& [k, v] : want["stringData"].items())
      if (v.is_string()) want["data"][k] = core::Base64Encode(v.get<std::string>());
    want.erase("stringData");
  }
  return want;
}

std::string RefusedMessage(const ApplyItem& item, const core::ApiError& e) {
  std::string msg = e.message();
  // The API names the field in the message; causes add what the message may have cut.
  for (const auto& c : e.causes())
    if (!c.field.empty() && msg.find(c.field) == std::string::npos) msg += "; " + c.field + ": " + c.message;
  return item.origin + ": " + item.ref.Describe() + ": " + msg;
}

}  // namespace

// --- LiveObjects -----------------------------------------------------------------------

asio::awaitable<kube::ApiResource> LiveObjects::Resolve(std::string api_version, std::string kind) {
  auto op = client_->Resolve(api_version, kind);
  co_return co_await std::move(op);
}

asio::awaitable<std::shared_ptr<kube::Informer>> LiveObjects::InformerOf(kube::ApiResource res) {
  std::string key = KindKey(res);
  auto it = informers_.find(key);
  std::shared_ptr<kube::Informer> informer;
  if (it != informers_.end()) {
    informer = it->second;
  } else {
    kube::InformerOptions io;
    // Keep managedFields: they tell which fields our last apply set.
    io.transform = DropLastApplied;
    informer = kube::Informer::Create(client_, res, io);
    informers_[key] = informer;
    informer->Start();
  }
  // Bounded: a kind the controller may not list or watch (RBAC) must fail the sync with a
  // message, not hold a worker forever.
  if (!informer->HasSynced()) {
    asio::steady_timer timer(client_->executor());
    auto until = std::chrono::steady_clock::now() + sync_timeout_;
    while (!informer->HasSynced()) {
      if (std::chrono::steady_clock::now() >= until)
        throw ApplyError("ApplyFailed", "the controller could not list and watch " + res.GroupResource() + " within " +
                                            std::to_string(std::chrono::duration_cast<std::chrono::seconds>(sync_timeout_).count()) +
                                            "s (does its service account have list and watch on it?)");
      timer.expires_after(std::chrono::milliseconds(10));
      co_await timer.async_wait(asio::use_awaitable);
    }
  }
  co_return informer;
}

asio::awaitable<kube::ObjectPtr> LiveObjects::Get(kube::ApiResource res, std::string ns, std::string name) {
  auto op = InformerOf(res);
  auto informer = co_await std::move(op);
  co_return Peek(res, ns, name);
}

kube::ObjectPtr LiveObjects::Peek(const kube::ApiResource& res, const std::string& ns, const std::string& name) {
  std::string obj_ns = res.namespaced ? ns : "";
  auto it = informers_.find(KindKey(res));
  kube::ObjectPtr cached = it == informers_.end() ? nullptr : it->second->Get(obj_ns, name);
  auto w = written_.find(KindKey(res) + "|" + core::ObjectKey(obj_ns, name));
  if (w == written_.end()) return cached;
  if (cached) {
    auto have = NumericVersion(*cached), wrote = NumericVersion(*w->second);
    bool caught_up = have && wrote ? *have >= *wrote
                                   : core::MetadataString(*cached, "resourceVersion") ==
                                         core::MetadataString(*w->second, "resourceVersion");
    if (caught_up) {
      written_.erase(w);
      return cached;
    }
  }
  return w->second;
}

void LiveObjects::Remember(const kube::ApiResource& res, json written) {
  DropLastApplied(written);
  std::string key = KindKey(res) + "|" + core::ObjectKey(written);
  written_[key] = std::make_shared<const json>(std::move(written));
}

void LiveObjects::Forget(const kube::ApiResource& res, const std::string& ns, const std::string& name) {
  written_.erase(KindKey(res) + "|" + core::ObjectKey(res.namespaced ? ns : "", name));
}

void LiveObjects::Stop() {
  for (auto& [key, informer] : informers_) informer->Stop();
}

// --- deciding what differs -------------------------------------------------------------

bool NeedsApply(const json& live, const json& desired, const std::string& manager) {
  json want = ComparableIntent(desired);
  if (!apimachinery::ContainsAll(live, want)) return true;
  const json& meta = live.value("metadata", json::object());
  if (!meta.contains("managedFields") || !meta["managedFields"].is_array()) return false;
  for (const auto& entry : meta["managedFields"]) {
    if (!entry.is_object() || entry.value("manager", "") != manager || entry.value("operation", "") != "Apply" ||
        !entry.value("subresource", "").empty())
      continue;
    try {
      auto [group, version] = kube::SplitApiVersion(want.value("apiVersion", ""));
      bool builtin = IsBuiltinGroup(group);
      apimachinery::ListSemanticsFn lists =
          builtin ? apimachinery::BuiltinListSemantics(group, want.value("kind", ""))
                  : apimachinery::ListSemanticsFn([](const std::vector<std::string>&) { return apimachinery::ListSemantics{}; });
      auto owned = apimachinery::FieldSet::FromFieldsV1(entry.value("fieldsV1", json::object()));
      auto sent = apimachinery::WithoutUnownedFields(apimachinery::FieldSetOf(want, lists, /*strict=*/false));
      owned.EraseChild("f:status");
      sent.EraseChild("f:status");
      if (!builtin) {
        owned = UpToFirstList(owned);
        sent = UpToFirstList(sent);
      }
      if (!owned.Difference(sent).Empty()) return true;
    } catch (const std::invalid_argument&) {
      return true;  // unreadable ownership: let the server decide
    }
  }
  return false;
}

// --- Applier ---------------------------------------------------------------------------

asio::awaitable<void> Applier::Stage(std::vector<ApplyItem*> items, ApplyCounts& counts) {
  std::vector<std::pair<ApplyItem*, bool>> todo;  // item, exists
  for (ApplyItem* item : items) {
    auto op = live_->Get(item->res, item->ref.ns, item->ref.name);
    kube::ObjectPtr live = co_await std::move(op);
    if (live && !NeedsApply(*live, item->object, options_.field_manager)) {
      counts.unchanged++;
      continue;
    }
    todo.push_back({item, live != nullptr});
  }
  // Every object of the stage is checked by the server before any is written.
  for (auto& [item, exists] : todo) {
    kube::PatchOptions po;
    po.field_manager = options_.field_manager;
    po.force = true;
    po.dry_run = true;
    const kube::PatchType type = kube::PatchType::kApply;
    try {
      auto op = client_->Patch(item->res, item->ref.ns, item->ref.name, type, item->object, po);
      co_await std::move(op);
      counts.dry_runs++;
    } catch (const core::ApiError& e) {
      if (e.retry_advice() == core::RetryAdvice::kBackoff) throw;
      throw ApplyError("ValidationFailed", RefusedMessage(*item, e) + " (server-side dry run; nothing of this revision was applied)");
    }
  }
  for (auto& [item, exists] : todo) {
    kube::PatchOptions po;
    po.field_manager = options_.field_manager;
    po.force = true;
    const kube::PatchType type = kube::PatchType::kApply;
    json written;
    try {
      auto op = client_->Patch(item->res, item->ref.ns, item->ref.name, type, item->object, po);
      written = co_await std::move(op);
    } catch (const core::ApiError& e) {
      if (e.retry_advice() == core::RetryAdvice::kBackoff) throw;
      throw ApplyError("ApplyFailed", RefusedMessage(*item, e));
    }
    counts.writes++;
    (exists ? counts.configured : counts.created)++;
    counts.changes.push_back(item->ref.Describe() + (exists ? " configured" : " created"));
    live_->Remember(item->res, std::move(written));
  }
}

asio::awaitable<void> Applier::WaitEstablished(const std::vector<ApplyItem*>& crds,
                                               std::chrono::steady_clock::time_point deadline) {
  asio::steady_timer timer(client_->executor());
  for (ApplyItem* crd : crds) {
    for (;;) {
      auto op = live_->Get(crd->res, "", crd->ref.name);
      kube::ObjectPtr live = co_await std::move(op);
      if (live && AssessHealth(*live).Ready()) break;
      if (std::chrono::steady_clock::now() >= deadline)
        throw ApplyError("HealthCheckFailed", crd->ref.Describe() + " (" + crd->origin +
                                                  ") was not established before the timeout");
      timer.expires_after(options_.crd_wait_poll);
      co_await timer.async_wait(asio::use_awaitable);
    }
  }
}

asio::awaitable<ApplyCounts> Applier::Apply(std::vector<ApplyItem>& items, std::chrono::steady_clock::time_point deadline) {
  ApplyCounts counts;
  std::vector<ApplyItem*> foundation, crds, rest;
  for (auto& item : items) {
    if (IsClusterFoundation(item.ref)) {
      foundation.push_back(&item);
      if (item.ref.kind == "CustomResourceDefinition") crds.push_back(&item);
    } else {
      rest.push_back(&item);
    }
  }
  co_await Stage(foundation, counts);
  co_await WaitEstablished(crds, deadline);
  for (ApplyItem* item : rest) {
    if (item->resolved) continue;
    try {
      auto op = live_->Resolve(item->ref.ApiVersion(), item->ref.kind);
      item->res = co_await std::move(op);
      item->resolved = true;
    } catch (const core::ApiError& e) {
      if (!e.IsNotFound()) throw;
      throw ApplyError("ValidationFailed", item->origin + ": " + item->ref.Describe() +
                                               ": the API does not serve kind " + item->ref.kind + " in " +
                                               item->ref.ApiVersion() + " even after its CRD was applied");
    }
  }
  if (std::chrono::steady_clock::now() >= deadline)
    throw ApplyError("ApplyFailed", "the timeout passed after the Namespaces and CRDs were applied");
  co_await Stage(rest, counts);
  co_return counts;
}

asio::awaitable<PruneCounts> Applier::Prune(std::vector<ObjectRef> stale, std::string owner_ns, std::string owner_name,
                                           std::vector<ObjectRef>* failed) {
  PruneCounts out;
  for (const auto& ref : stale) {
    kube::ApiResource res;
    try {
      auto op = live_->Resolve(ref.ApiVersion(), ref.kind);
      res = co_await std::move(op);
    } catch (const core::ApiError& e) {
      if (e.IsNotFound()) continue;  // the kind is gone, and its objects with it
      throw;
    }
    auto op = live_->Get(res, ref.ns, ref.name);
    kube::ObjectPtr live = co_await std::move(op);
    if (!live) continue;
    const json& meta = (*live)["metadata"];
    const json annotations = meta.value("annotations", json::object());
    const json labels = meta.value("labels", json::object());
    if (annotations.value(kPruneAnnotation, "") == "disabled") {
      out.kept.push_back(ref.Describe() + " (annotation " + std::string(kPruneAnnotation) + ": disabled)");
      continue;
    }
    if (labels.value(kOwnerNameLabel, "") != owner_name || labels.value(kOwnerNamespaceLabel, "") != owner_ns) {
      out.kept.push_back(ref.Describe() + " (now applied by another sync)");
      continue;
    }
    kube::DeleteOptions d;
    d.propagation_policy = "Background";
    if (meta.contains("uid")) d.precondition_uid = meta.value("uid", "");
    try {
      auto del = client_->Delete(res, ref.ns, ref.name, d);
      co_await std::move(del);
      out.deletes++;
    } catch (const core::ApiError& e) {
      if (!e.IsNotFound()) {
        spdlog::warn("prune of {} failed: {}", ref.Describe(), e.what());
        out.kept.push_back(ref.Describe() + " (delete failed, will retry: " + e.message() + ")");
        if (failed) failed->push_back(ref);
        continue;
      }
    }
    live_->Forget(res, ref.ns, ref.name);
    out.deleted.push_back(ref.Describe());
  }
  co_return out;
}

}  // namespace sluice::gitops
