#include "controller/gitops/kustomization_controller.h"
#include "core/duration.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>
#include <set>

#include "api/canary_spec.h"
#include "controller/gitops/health.h"
#include "core/base64.h"
#include "core/json_fields.h"
#include "core/object_key.h"

namespace sluice::gitops {

namespace asio = boost::asio;
using json = nlohmann::json;

namespace {

const std::string kGroupVersion = "sluice.dev/v1beta1";

using core::Str;

const json* Condition(const json& status, const std::string& type) {
  if (!status.is_object() || !status.contains("conditions") || !status["conditions"].is_array()) return nullptr;
  for (const auto& c : status["conditions"])
    if (c.is_object() && c.value("type", "") == type) return &c;
  return nullptr;
}

bool IsReady(const json& kustomization) {
  const json& status = kustomization.value("status", json::object());
  const json* ready = Condition(status, "Ready");
  int64_t generation = kustomization["metadata"].value("generation", int64_t{0});
  return ready && ready->value("status", "") == "True" && status.value("observedGeneration", int64_t{-1}) >= generation;
}

std::optional<uint64_t> Numeric(const std::string& rv) {
  if (rv.empty() || rv.size() > 19 || !std::all_of(rv.begin(), rv.end(), ::isdigit)) return std::nullopt;
  return std::stoull(rv);
}

std::string Join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

// The dependsOn path from `self` back to itself ({"shop/a", "shop/b", "shop/a"}), or empty
// when no path returns. Cycles elsewhere in the graph are left to their own members.
std::vector<std::string> CycleThrough(const std::string& self,
                                      const std::function<std::vector<std::string>(const std::string&)>& deps_of) {
  std::vector<std::string> path{self};
  std::set<std::string> explored;  // reached without leading back to self
  std::function<bool(const std::string&)> visit = [&](const std::string& key) {
    for (const auto& dep : deps_of(key)) {
      if (dep == self) {
        path.push_back(dep);
        return true;
      }
      if (explored.count(dep) || std::find(path.begin(), path.end(), dep) != path.end()) continue;
      path.push_back(dep);
      if (visit(dep)) return true;
      path.pop_back();
      explored.insert(dep);
    }
    return false;
  };
  return visit(self) ? path : std::vector<std::string>{};
}

bool HasFinalizer(const json& kustomization) {
  for (const auto& f : kustomization["metadata"].value("finalizers", json::array()))
    if (f == kSyncFinalizer) return true;
  return false;
}

}  // namespace

// Everything one reconcile of one Kustomization works with.
struct KustomizationController::Pass {
  std::string key;
  kube::ObjectPtr object;
  std::string ns;
  std::string name;
  int64_t generation = 0;
  std::string base_version;  // resourceVersion the status update is based on
  json current_status;       // the status at base_version
  json status;               // the status as we will write it
  KustomizationSpec spec;
  std::optional<Artifact> artifact;
  std::chrono::milliseconds requeue{0};
  core::TimePoint now;

  void SetCondition(const std::string& type, const std::string& value, const std::string& reason,
                    const std::string& message) {
    json& conditions = status["conditions"];
    if (!conditions.is_array()) conditions = json::array();
    json c = {{"type", type}, {"status", value}, {"reason", reason}, {"message", message},
              {"observedGeneration", generation}, {"lastTransitionTime", core::FormatTime(now)}};
    for (auto& existing : conditions) {
      if (existing.value("type", "") != type) continue;
      if (existing.value("status", "") == value) c["lastTransitionTime"] = existing.value("lastTransitionTime", c["lastTransitionTime"].get<std::string>());
      existing = c;
      return;
    }
    conditions.push_back(c);
  }
  void RemoveCondition(const std::string& type) {
    json& conditions = status["conditions"];
    if (!conditions.is_array()) return;
    conditions.erase(std::remove_if(conditions.begin(), conditions.end(),
                                    [&](const json& c) { return c.value("type", "") == type; }),
                     conditions.end());
  }
  // Ready=False with reason and message; Reconciling cleared; Stalled when retrying cannot help.
  void Fail(const std::string& reason, const std::string& message, bool stalled) {
    SetCondition("Ready", "False", reason, message);
    RemoveCondition("Reconciling");
    if (stalled)
      SetCondition("Stalled", "True", reason, message);
    else
      RemoveCondition("Stalled");
  }
};

std::shared_ptr<KustomizationController> KustomizationController::Create(std::shared_ptr<kube::Client> client,
                                                                         std::shared_ptr<kube::EventRecorder> events,
                                                                         std::shared_ptr<ArtifactStore> artifacts,
                                                                         KustomizationControllerOptions options) {
  if (!artifacts) throw std::invalid_argument("KustomizationController needs an ArtifactStore");
  return std::shared_ptr<KustomizationController>(
      new KustomizationController(std::move(client), std::move(events), std::move(artifacts), std::move(options)));
}

KustomizationController::KustomizationController(std::shared_ptr<kube::Client> client,
                                                 std::shared_ptr<kube::EventRecorder> events,
                                                 std::shared_ptr<ArtifactStore> artifacts,
                                                 KustomizationControllerOptions options)
    : Reconciler(client->executor(),
                 // Apply failures are reported in status by Reconcile; what reaches here is a status or
                 // inventory write that failed, so everything is retried.
                 {.name = "kustomizations",
                  .kind = "Kustomization",
                  .workers = options.workers,
                  .retry = {.base_delay = std::chrono::milliseconds(500),
                            .max_delay = std::chrono::seconds(120),
                            .retry_invalid = true},
                  .clock = options.clock}),
      client_(std::move(client)),
      events_(std::move(events)),
      artifacts_(std::move(artifacts)),
      options_(std::move(options)) {
  live_ = std::make_shared<LiveObjects>(client_);
  ApplierOptions ao;
  ao.field_manager = options_.field_manager;
  applier_ = std::make_unique<Applier>(client_, live_, ao);
}

KustomizationController::~KustomizationController() { loader_.join(); }

std::weak_ptr<KustomizationController> KustomizationController::WeakSelf() {
  return std::static_pointer_cast<KustomizationController>(shared_from_this());
}

asio::awaitable<void> KustomizationController::StartWatches() {
  auto op = client_->Resolve(kGroupVersion, "Kustomization");
  resource_ = co_await std::move(op);
  kube::InformerOptions io;
  io.ns = options_.ns;
  informer_ = kube::Informer::Create(client_, resource_, io);
  informer_->AddIndex("source", [](const json& k) {
    const json& src = k.value("spec", json::object()).value("sourceRef", json::object());
    std::string ns = src.value("namespace", k["metadata"].value("namespace", ""));
    return std::vector<std::string>{ns + "/" + src.value("name", "")};
  });
  informer_->AddIndex("dependsOn", [](const json& k) {
    std::vector<std::string> out;
    for (const auto& d : k.value("spec", json::object()).value("dependsOn", json::array()))
      if (d.is_object()) out.push_back(d.value("namespace", k["metadata"].value("namespace", "")) + "/" + d.value("name", ""));
    return out;
  });
  try {
    auto resolve = live_->Resolve(kGroupVersion, "Canary");
    kube::ApiResource canary_res = co_await std::move(resolve);
    auto informer = live_->InformerOf(canary_res);
    canaries_ = co_await std::move(informer);
    canaries_->AddIndex("target", [](const json& c) {
      std::string target = c.value("spec", json::object()).value("targetRef", json::object()).value("name", "");
      return std::vector<std::string>{c["metadata"].value("namespace", "") + "/" + target};
    });
  } catch (const core::ApiError& e) {
    if (!e.IsNotFound()) throw;
    spdlog::info("Canary CRD not installed: syncs apply Deployments without canary awareness");
  }
  WireHandlers();
  informer_->Start();
  auto wait = informer_->WaitForSync();
  co_await std::move(wait);
  spdlog::info("kustomization controller synced: {} kustomizations", informer_->size());
}

void KustomizationController::WireHandlers() {
  auto self = WeakSelf();
  kube::InformerHandler h;
  h.on_add = [self](const kube::ObjectPtr& o) {
    if (auto s = self.lock()) s->Enqueue(core::ObjectKey(*o));
  };
  // Our own status writes come back as updates: only a new generation, a reconcile request
  // or a deletion is work for this sync; a change of readiness is work for its dependents.
  h.on_update = [self](const kube::ObjectPtr& old_obj, const kube::ObjectPtr& o) {
    auto s = self.lock();
    if (!s) return;
    const json& om = (*old_obj)["metadata"];
    const json& nm = (*o)["metadata"];
    auto request = [](const json& m) {
      return m.value("annotations", json::object()).value(kReconcileAnnotation, "");
    };
    if (om.value("generation", 0) != nm.value("generation", 0) || request(om) != request(nm) ||
        nm.contains("deletionTimestamp"))
      s->Enqueue(core::ObjectKey(*o));
    if (IsReady(*old_obj) != IsReady(*o)) s->EnqueueDependents(*o);
  };
  h.on_delete = [self](const kube::ObjectPtr& o) {
    if (auto s = self.lock()) s->EnqueueDependents(*o);
  };
  informer_->AddHandler(h);
  auto executor = client_->executor();
  artifacts_->Subscribe([self, executor](const std::string& source_key) {
    // The store calls on the publisher's thread; the queue lives on our executor.
    asio::post(executor, [self, source_key] {
      if (auto s = self.lock()) s->EnqueueSource(source_key);
    });
  });
}

void KustomizationController::EnqueueSource(const std::string& source_key) {
  if (Stopping() || !informer_) return;
  for (const auto& k : informer_->ByIndex("source", source_key)) Enqueue(core::ObjectKey(*k));
}

void KustomizationController::EnqueueDependents(const json& kustomization) {
  for (const auto& k : informer_->ByIndex("dependsOn", core::ObjectKey(kustomization))) Enqueue(core::ObjectKey(*k));
}

void KustomizationController::StopWatches() {
  if (informer_) informer_->Stop();
  if (live_) live_->Stop();
}

void KustomizationController::OnReconcileError(const std::string&, const std::exception&, bool) { stats_.errors++; }

// --- one reconcile -----------------------------------------------------------------------

asio::awaitable<void> KustomizationController::Reconcile(std::string key) {
  Pass pass;
  pass.key = key;
  pass.object = informer_->Get(key);
  if (!pass.object) {
    written_status_.erase(key);
    if (options_.metrics) options_.metrics->Forget(key);
    co_return;
  }
  stats_.reconciles++;
  const json& ks = *pass.object;
  const json& meta = ks["metadata"];
  pass.ns = meta.value("namespace", "");
  pass.name = meta.value("name", "");
  if (meta.contains("deletionTimestamp")) {
    co_await Finalize(pass);
    co_return;
  }
  pass.generation = meta.value("generation", int64_t{0});
  pass.now = options_.clock->Now();
  pass.base_version = meta.value("resourceVersion", "");
  pass.status = ks.value("status", json::object());
  pass.current_status = pass.status;
  // The cache may still hold the version before our last status write.
  if (auto it = written_status_.find(key); it != written_status_.end()) {
    auto cached = Numeric(pass.base_version), ours = Numeric(it->second.first);
    if (cached && ours && *cached < *ours) {
      pass.base_version = it->second.first;
      pass.status = it->second.second;
      pass.current_status = pass.status;
    } else {
      written_status_.erase(it);
    }
  }
  std::string request = meta.value("annotations", json::object()).value(kReconcileAnnotation, "");
  if (!request.empty()) pass.status["lastHandledReconcileAt"] = request;

  std::optional<std::string> invalid;
  try {
    pass.spec = ParseKustomizationSpec(ks);
  } catch (const std::invalid_argument& e) {
    invalid = e.what();
  }
  if (invalid) {
    pass.Fail("InvalidSpec", *invalid, /*stalled=*/true);
    pass.status["observedGeneration"] = pass.generation;
    co_await WriteStatus(pass);
    co_return;
  }
  if (!HasFinalizer(ks)) {
    auto add = SetFinalizer(ks, true);
    pass.base_version = co_await std::move(add);
  }
  if (pass.spec.suspend) {
    co_await WriteStatus(pass);  // records a handled request, nothing else
    co_return;
  }
  co_await Sync(pass);
  pass.status["observedGeneration"] = pass.generation;
  co_await WriteStatus(pass);
  if (pass.requeue.count() > 0) EnqueueAfter(key, pass.requeue);
}

std::vector<std::string> KustomizationController::DependsOnKeys(const Pass& pass, const std::string& key) const {
  std::vector<NamespacedName> deps = pass.spec.depends_on;
  if (key != pass.key) {
    auto obj = informer_->Get(key);
    if (!obj) return {};
    try {
      deps = ParseKustomizationSpec(*obj).depends_on;
    } catch (const std::exception&) {
      return {};  // an invalid spec is reported on that object and applies nothing
    }
  }
  std::vector<std::string> keys;
  for (const auto& d : deps) keys.push_back(d.Key());
  return keys;
}

// A dependsOn cycle can never become Ready by waiting: Ready=False and Stalled, a Warning
// Event when it is first seen, and nothing applied. Returns whether there is one.
bool KustomizationController::FailOnCycle(Pass& pass) {
  auto cycle = CycleThrough(pass.key, [&](const std::string& key) { return DependsOnKeys(pass, key); });
  if (cycle.empty()) return false;
  std::string message = "spec.dependsOn forms a cycle: " + Join(cycle, " -> ") +
                        "; nothing is applied until one of them stops depending on the next";
  const json* ready = Condition(pass.current_status, "Ready");
  bool seen = ready && ready->value("reason", "") == "DependencyCycle" && ready->value("message", "") == message;
  pass.Fail("DependencyCycle", message, /*stalled=*/true);
  if (!seen) events_->Warning(*pass.object, "DependencyCycle", message);
  // Editing another member breaks the cycle without an event for this one: look again.
  pass.requeue = options_.dependency_requeue;
  return true;
}

asio::awaitable<void> KustomizationController::Sync(Pass& pass) {
  const KustomizationSpec& spec = pass.spec;
  pass.requeue = spec.RetryInterval();
  if (FailOnCycle(pass)) co_return;
  std::vector<std::string> waiting;
  for (const auto& dep : spec.depends_on) {
    auto d = informer_->Get(dep.Key());
    if (!d)
      waiting.push_back(dep.Key() + " (not found)");
    else if (!IsReady(*d))
      waiting.push_back(dep.Key());
  }
  if (!waiting.empty()) {
    pass.Fail("DependencyNotReady", "waiting for dependencies to be Ready: " + Join(waiting, ", "), false);
    pass.requeue = options_.dependency_requeue;
    co_return;
  }
  pass.artifact = artifacts_->Latest(spec.source.Key());
  if (!pass.artifact) {
    pass.Fail("ArtifactFailed", "GitRepository " + spec.source.Key() +
                                    " has no artifact yet (not fetched, or its last fetch failed: see its status)",
              false);
    co_return;
  }
  const std::string revision = pass.artifact->revision;
  pass.status["lastAttemptedRevision"] = revision;
  if (Condition(pass.status, "Ready") == nullptr || pass.status.value("lastAppliedRevision", "") != revision)
    pass.SetCondition("Reconciling", "True", "Progressing", "Reconciliation in progress for revision " + revision);
  stats_.syncs++;
  auto started = std::chrono::steady_clock::now();
  auto deadline = started + spec.Timeout();
  std::vector<ApplyItem> items;
  std::vector<std::string> skipped;
  try {
    BuildOptions bo;
    bo.kustomize_path = options_.kustomize_path;
    if (spec.post_build) {
      auto vars = ResolveVariables(pass);
      bo.variables = co_await std::move(vars);
    }
    auto load = Load(pass.artifact->path, spec.path, bo);
    std::vector<Manifest> manifests = co_await std::move(load);
    auto prep = Prepare(pass, std::move(manifests));
    items = co_await std::move(prep);
    auto stay_off = StayOffCanaryObjects(items);
    skipped = co_await std::move(stay_off);
  } catch (const ManifestError& e) {
    pass.Fail(e.reason(), "revision " + revision + ": " + e.what(), false);
    events_->Warning(*pass.object, e.reason(), e.what());
    co_return;
  } catch (const ApplyError& e) {
    pass.Fail(e.reason(), "revision " + revision + ": " + e.what(), false);
    events_->Warning(*pass.object, e.reason(), e.what());
    co_return;
  }

  ApplyCounts counts;
  try {
    auto apply = applier_->Apply(items, deadline);
    counts = co_await std::move(apply);
  } catch (const ApplyError& e) {
    pass.Fail(e.reason(), "revision " + revision + ": " + e.what(), false);
    events_->Warning(*pass.object, e.reason(), e.what());
    co_return;
  }
  stats_.last_sync = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
  stats_.dry_runs += counts.dry_runs;
  stats_.writes += counts.writes;

  std::vector<ObjectRef> refs;
  for (const auto& item : items) refs.push_back(item.ref);
  Inventory inventory = MakeInventory(refs);
  Inventory before = InventoryFromJson(pass.status.value("inventory", json::object()));
  PruneCounts pruned;
  if (spec.prune) {
    std::vector<ObjectRef> failed;
    auto prune = applier_->Prune(Stale(before, inventory), pass.ns, pass.name, &failed);
    pruned = co_await std::move(prune);
    stats_.deletes += pruned.deletes;
    for (auto& f : failed) inventory.push_back(f);
    inventory = MakeInventory(inventory);
  }
  pass.status["inventory"] = InventoryToJson(inventory);
  pass.status["lastAppliedRevision"] = revision;

  std::vector<std::string> changes = counts.changes;
  for (const auto& d : pruned.deleted) changes.push_back(d + " pruned");
  if (!changes.empty()) {
    std::string summary = Join(changes, "\n");
    spdlog::info("kustomization {}/{} revision {}: {}", pass.ns, pass.name, revision, Join(changes, ", "));
    events_->Normal(*pass.object, "ReconciliationSucceeded", "Revision " + revision + ":\n" + summary);
  }

  auto health = WaitHealthy(pass, items);
  std::optional<std::string> unhealthy = co_await std::move(health);
  if (unhealthy) {
    pass.SetCondition("Healthy", "False", "HealthCheckFailed", *unhealthy);
    pass.Fail("HealthCheckFailed", "revision " + revision + ": " + *unhealthy, false);
    events_->Warning(*pass.object, "HealthCheckFailed", *unhealthy);
    co_return;
  }
  if (spec.wait || !spec.health_checks.empty())
    pass.SetCondition("Healthy", "True", "Succeeded", "Health check passed");
  else
    pass.RemoveCondition("Healthy");

  std::string message = "Applied revision: " + revision;
  if (!skipped.empty()) message += "; skipped (generated by the canary engine, remove from Git): " + Join(skipped, ", ");
  if (!pruned.kept.empty()) message += "; not pruned: " + Join(pruned.kept, ", ");
  pass.SetCondition("Ready", "True", "ReconciliationSucceeded", message);
  pass.RemoveCondition("Reconciling");
  pass.RemoveCondition("Stalled");
  pass.requeue = spec.interval;
  spdlog::debug("kustomization {}/{} synced in {} ms: {} unchanged, {} written, {} dry runs", pass.ns, pass.name,
                std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count(),
                counts.unchanged, counts.writes, counts.dry_runs);
}

asio::awaitable<Variables> KustomizationController::ResolveVariables(Pass& pass) {
  Variables vars;
  int index = 0;
  for (const auto& from : pass.spec.substitute_from) {
    auto resolve = live_->Resolve("v1", from.kind);
    kube::ApiResource res = co_await std::move(resolve);
    auto get = live_->Get(res, pass.ns, from.name);
    kube::ObjectPtr obj = co_await std::move(get);
    std::string at = "spec.postBuild.substituteFrom[" + std::to_string(index++) + "]";
    if (!obj) {
      if (from.optional) continue;
      throw ManifestError("SubstituteFailed", at + ": " + from.kind + " " + pass.ns + "/" + from.name +
                                                  " not found (set optional: true if it may be missing)");
    }
    const json data = obj->value("data", json::object());
    for (const auto& [k, v] : data.items()) {
      if (!v.is_string() || !ValidVariableName(k)) continue;  // other keys are not variables
      if (from.kind == "Secret") {
        auto decoded = core::Base64Decode(v.get<std::string>());
        if (!decoded) throw ManifestError("SubstituteFailed", at + ": Secret " + from.name + " key " + k + " is not base64");
        vars[k] = *decoded;
      } else {
        vars[k] = v.get<std::string>();
      }
    }
  }
  for (const auto& [k, v] : pass.spec.substitute) vars[k] = v;
  co_return vars;
}

asio::awaitable<std::vector<Manifest>> KustomizationController::Load(std::string root, std::string path,
                                                                     BuildOptions options) {
  auto load = asio::co_spawn(
      loader_,
      [root, path, options]() -> asio::awaitable<std::vector<Manifest>> { co_return LoadManifests(root, path, options); },
      asio::use_awaitable);
  co_return co_await std::move(load);
}

asio::awaitable<std::vector<ApplyItem>> KustomizationController::Prepare(Pass& pass, std::vector<Manifest> manifests) {
  std::vector<ApplyItem> items;
  std::map<std::string, std::string> seen;  // id -> origin
  for (auto& m : manifests) {
    ApplyItem item{m.object, m.Origin(), {}, {}, false};
    json& obj = item.object;
    const std::string api_version = obj["apiVersion"], kind = obj["kind"];
    try {
      auto resolve = live_->Resolve(api_version, kind);
      item.res = co_await std::move(resolve);
      item.resolved = true;
    } catch (const core::ApiError& e) {
      if (!e.IsNotFound()) throw;
    }
    if (!item.resolved) {
      // A kind whose CRD comes in this same revision: its scope is in that CRD.
      auto [group, version] = kube::SplitApiVersion(api_version);
      for (const auto& other : manifests) {
        const json& o = other.object;
        if (!o.is_object() || o.value("kind", "") != "CustomResourceDefinition") continue;
        const json& s = o.value("spec", json::object());
        if (s.value("group", "") != group || s.value("names", json::object()).value("kind", "") != kind) continue;
        item.res.group = group;
        item.res.version = version;
        item.res.kind = kind;
        item.res.namespaced = s.value("scope", "Namespaced") == "Namespaced";
        item.res.resource = s.value("names", json::object()).value("plural", "");
      }
      if (item.res.kind.empty())
        throw ApplyError("ValidationFailed", item.origin + ": " + kind + " " + obj["metadata"].value("name", "") +
                                                 ": the API does not serve kind " + kind + " in " + api_version +
                                                 " (is its CustomResourceDefinition installed?)");
    }
    json& md = obj["metadata"];
    if (item.res.namespaced) {
      if (!pass.spec.target_namespace.empty()) md["namespace"] = pass.spec.target_namespace;
      if (!md.contains("namespace") || !md["namespace"].is_string() || md["namespace"].get<std::string>().empty())
        throw ApplyError("ValidationFailed", item.origin + ": metadata.namespace: Required value: " + kind + " " +
                                                 md.value("name", "") +
                                                 " is namespaced; set metadata.namespace or spec.targetNamespace");
    } else {
      md.erase("namespace");
    }
    if (!md.contains("labels") || !md["labels"].is_object()) md["labels"] = json::object();
    md["labels"][kOwnerNameLabel] = pass.name;
    md["labels"][kOwnerNamespaceLabel] = pass.ns;
    item.ref = RefOf(obj);
    auto [it, fresh] = seen.emplace(item.ref.Id(), item.origin);
    if (!fresh)
      throw ApplyError("ValidationFailed", item.ref.Describe() + " is defined twice: in " + it->second + " and in " +
                                               item.origin);
    items.push_back(std::move(item));
  }
  co_return items;
}

asio::awaitable<std::vector<std::string>> KustomizationController::StayOffCanaryObjects(std::vector<ApplyItem>& items) {
  std::vector<std::string> skipped;
  if (!canaries_) co_return skipped;
  std::vector<ApplyItem> kept;
  for (auto& item : items) {
    const ObjectRef& ref = item.ref;
    std::string why;
    auto in_ns = canaries_->ListNamespace(ref.ns);
    for (const auto& c : in_ns) {
      const json& cspec = c->value("spec", json::object());
      std::string target = cspec.value("targetRef", json::object()).value("name", "");
      std::string service = cspec.value("service", json::object()).value("name", target);
      std::string cname = (*c)["metadata"].value("name", "");
      bool generated = (ref.group == "apps" && ref.kind == "Deployment" && ref.name == target + "-primary") ||
                       (ref.group.empty() && ref.kind == "Service" &&
                        (ref.name == service + "-primary" || ref.name == service + "-canary"));
      if (generated) why = "generated by Canary " + cname;
    }
    kube::ObjectPtr live;
    if (item.resolved) {
      auto get = live_->Get(item.res, ref.ns, ref.name);
      live = co_await std::move(get);
    }
    if (why.empty() && live) {
      for (const auto& o : (*live)["metadata"].value("ownerReferences", json::array()))
        if (o.value("kind", "") == "Canary" && o.value("apiVersion", "").rfind("sluice.dev/", 0) == 0)
          why = "owned by Canary " + o.value("name", "");
    }
    if (!why.empty()) {
      skipped.push_back(ref.Describe() + " (" + item.origin + ", " + why + ")");
      continue;
    }
    // The engine scales a target it runs a rollout for; Git sets the replicas only when
    // the Deployment is created.
    if (ref.group == "apps" && ref.kind == "Deployment" && live &&
        !canaries_->ByIndex("target", ref.ns + "/" + ref.name).empty() && item.object.contains("spec"))
      item.object["spec"].erase("replicas");
    kept.push_back(std::move(item));
  }
  items = std::move(kept);
  co_return skipped;
}

asio::awaitable<std::optional<std::string>> KustomizationController::WaitHealthy(Pass& pass,
                                                                                 const std::vector<ApplyItem>& items) {
  struct Check {
    kube::ApiResource res;
    std::string ns, name, describe;
  };
  std::vector<Check> checks;
  if (pass.spec.wait) {
    for (const auto& item : items) checks.push_back({item.res, item.ref.ns, item.ref.name, item.ref.Describe()});
  } else {
    for (const auto& h : pass.spec.health_checks) {
      std::string av = h.api_version;
      if (av.empty()) av = h.kind == "Deployment" ? "apps/v1" : (h.kind == "Canary" ? kGroupVersion : "v1");
      kube::ApiResource res;
      try {
        auto resolve = live_->Resolve(av, h.kind);
        res = co_await std::move(resolve);
      } catch (const core::ApiError& e) {
        if (!e.IsNotFound()) throw;
        co_return "health check " + h.kind + " " + h.name + ": kind not served in " + av;
      }
      std::string ns = h.ns.empty() ? pass.ns : h.ns;
      checks.push_back({res, res.namespaced ? ns : "", h.name, h.kind + " " + (res.namespaced ? ns + "/" : "") + h.name});
    }
  }
  if (checks.empty()) co_return std::nullopt;
  auto deadline = std::chrono::steady_clock::now() + pass.spec.Timeout();
  asio::steady_timer timer(client_->executor());
  for (;;) {
    std::vector<std::string> pending;
    bool failed = false;
    for (const auto& c : checks) {
      auto get = live_->Get(c.res, c.ns, c.name);
      kube::ObjectPtr obj = co_await std::move(get);
      Health h = obj ? AssessHealth(*obj) : Health{Health::State::kInProgress, "not found"};
      if (h.Ready()) continue;
      failed = failed || h.state == Health::State::kFailed;
      pending.push_back(c.describe + " (" + h.message + ")");
    }
    if (pending.empty()) co_return std::nullopt;
    if (failed || std::chrono::steady_clock::now() >= deadline || Stopping())
      co_return std::string(failed ? "health check failed: " : "timeout waiting for: ") + Join(pending, ", ");
    timer.expires_after(options_.health_poll);
    co_await timer.async_wait(asio::use_awaitable);
  }
}

asio::awaitable<void> KustomizationController::WriteStatus(Pass& pass) {
  if (options_.metrics) options_.metrics->Observe(pass.ns, pass.name, pass.status);
  if (pass.status == pass.current_status) co_return;
  json object = *pass.object;
  object["status"] = pass.status;
  object["metadata"]["resourceVersion"] = pass.base_version;
  const kube::WriteOptions write_options;
  const std::string subresource = "status";
  auto op = client_->Update(resource_, object, write_options, subresource);
  json written = co_await std::move(op);
  stats_.status_writes++;
  written_status_[pass.key] = {written["metadata"].value("resourceVersion", ""), written.value("status", json::object())};
}

asio::awaitable<std::string> KustomizationController::SetFinalizer(const json& kustomization, bool present) {
  const json& meta = kustomization["metadata"];
  json finalizers = json::array();
  for (const auto& f : meta.value("finalizers", json::array()))
    if (f != kSyncFinalizer) finalizers.push_back(f);
  if (present) finalizers.push_back(kSyncFinalizer);
  json patch = {{"metadata", {{"finalizers", finalizers}, {"resourceVersion", meta.value("resourceVersion", "")}}}};
  kube::PatchOptions po;
  po.field_manager = options_.field_manager;
  const std::string ns = meta.value("namespace", ""), name = meta.value("name", "");
  auto op = client_->Patch(resource_, ns, name, kube::PatchType::kMerge, patch, po);
  json written = co_await std::move(op);
  stats_.status_writes++;
  co_return written["metadata"].value("resourceVersion", "");
}

asio::awaitable<void> KustomizationController::Finalize(Pass& pass) {
  const json& ks = *pass.object;
  if (!HasFinalizer(ks)) co_return;
  bool prune = ks.value("spec", json::object()).value("prune", false);
  bool suspended = ks.value("spec", json::object()).value("suspend", false);
  if (prune && !suspended) {
    Inventory inventory = InventoryFromJson(ks.value("status", json::object()).value("inventory", json::object()));
    std::vector<ObjectRef> failed;
    auto op = applier_->Prune(Stale(inventory, {}), pass.ns, pass.name, &failed);
    PruneCounts pruned = co_await std::move(op);
    stats_.deletes += pruned.deletes;
    if (!pruned.deleted.empty())
      spdlog::info("kustomization {}/{} deleted: pruned {}", pass.ns, pass.name, Join(pruned.deleted, ", "));
    // The finalizer stays until every deletion went through; the worker retries.
    if (!failed.empty())
      throw std::runtime_error("prune on deletion left " + std::to_string(failed.size()) + " objects: " + Join(pruned.kept, ", "));
  }
  co_await SetFinalizer(ks, false);
}

}  // namespace sluice::gitops
