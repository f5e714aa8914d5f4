#include "controller/canary/canary_controller.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "apimachinery/contains.h"
#include "core/api_error.h"
#include "core/backoff.h"
#include "core/json_fields.h"
#include "controller/canary/facts.h"
#include "api/canary_spec.h"
#include "controller/canary/state_machine.h"
#include "controller/canary/workloads.h"
#include "controller/canary/canary_metrics.h"
#include "routing/router.h"

namespace sluice::canary {

namespace asio = boost::asio;
using json = nlohmann::json;

namespace {

constexpr const char* kFinalizer = "sluice.dev/finalizer";

// Kinds the reconciler reads from caches; routing kinds are added per registered provider.
const std::vector<std::pair<std::string, std::string>> kBaseKinds = {
    {"sluice.dev/v1beta1", "Canary"}, {"apps/v1", "Deployment"}, {"v1", "ConfigMap"},
    {"v1", "Secret"},                 {"v1", "Service"},          {"autoscaling/v2", "HorizontalPodAutoscaler"},
    {"sluice.dev/v1beta1", "MetricTemplate"}, {"sluice.dev/v1beta1", "AlertProvider"},
};

std::string Key(const json& obj) {
  const json& m = obj["metadata"];
  std::string ns = m.value("namespace", "");
  return ns.empty() ? m.value("name", "") : ns + "/" + m.value("name", "");
}

std::string OwnerCanaryKey(const json& obj) {
  const json& m = obj["metadata"];
  for (const auto& ref : m.value("ownerReferences", json::array()))
    if (ref.value("kind", "") == "Canary" && ref.value("apiVersion", "").rfind("sluice.dev/", 0) == 0)
      return m.value("namespace", "") + "/" + ref.value("name", "");
  return "";
}

}  // namespace

// Everything one reconcile of one Canary works with.
struct CanaryController::Pass {
  kube::ObjectPtr canary;
  std::string ns;
  std::string name;
  api::CanarySpec spec;
  std::optional<std::string> spec_error;
  const routing::Router* router = nullptr;
  WorkloadContext ctx;
  kube::ObjectPtr target;
  std::vector<ConfigRef> configs;
  ClusterFacts facts;
  std::vector<PendingRequest> requests;
  Decision decision;
  std::optional<routing::Weights> traffic;  // where the decided status puts traffic
  std::vector<json> route;                  // the routing objects for `traffic`
  bool route_verified = false;              // `route` written this pass, on the API's word
};

std::shared_ptr<CanaryController> CanaryController::Create(std::shared_ptr<kube::Client> client,
                                                           std::shared_ptr<kube::EventRecorder> events,
                                                           std::shared_ptr<analysis::AnalysisRunner> analysis,
                                                           CanaryControllerOptions options,
                                                           std::shared_ptr<ControllerMetrics> metrics) {
  return std::shared_ptr<CanaryController>(new CanaryController(std::move(client), std::move(events),
                                                                std::move(analysis), std::move(options),
                                                                std::move(metrics)));
}

CanaryController::CanaryController(std::shared_ptr<kube::Client> client, std::shared_ptr<kube::EventRecorder> events,
                                   std::shared_ptr<analysis::AnalysisRunner> analysis, CanaryControllerOptions options,
                                   std::shared_ptr<ControllerMetrics> metrics)
    : Reconciler(client->executor(),
                 // A failed step is retried soon (200 ms doubling to a minute): traffic may be
                 // split mid-rollout. An invalid Canary is not: it is reported in status, and
                 // the user's next edit reconciles it again.
                 {.name = "canaries",
                  .kind = "Canary",
                  .workers = options.workers,
                  .retry = {.base_delay = std::chrono::milliseconds(200), .max_delay = std::chrono::seconds(60)},
                  .clock = options.clock}),
      client_(std::move(client)),
      events_(std::move(events)),
      analysis_(std::move(analysis)),
      options_(std::move(options)),
      metrics_(std::move(metrics)) {
  // Informers live as long as the controller, and the lookup only runs during a reconcile.
  lookup_ = [this](const std::string& kind, const std::string& ns, const std::string& name) -> kube::ObjectPtr {
    auto informer = InformerFor(kind);
    return informer ? informer->Get(ns, name) : nullptr;
  };
}

std::shared_ptr<kube::Informer> CanaryController::InformerFor(const std::string& kind) const {
  auto it = informers_.find(kind);
  return it == informers_.end() ? nullptr : it->second;
}

std::weak_ptr<CanaryController> CanaryController::WeakSelf() {
  return std::static_pointer_cast<CanaryController>(shared_from_this());
}

asio::awaitable<void> CanaryController::StartWatches() {
  auto kinds = kBaseKinds;
  for (const auto& provider : routing::RouterRegistry::Builtin().Names())
    for (const auto& k : routing::RouterRegistry::Builtin().Get(provider).Kinds())
      if (std::none_of(kinds.begin(), kinds.end(), [&](const auto& e) { return e.second == k.kind; }))
        kinds.push_back({k.api_version, k.kind});
  for (const auto& [api_version, kind] : kinds) {
    try {
      auto op = ResolveRetrying(api_version, kind);
      kube::ApiResource res = co_await std::move(op);
      resources_[kind] = res;
      kube::InformerOptions io;
      io.ns = options_.ns;
      informers_[kind] = kube::Informer::Create(client_, res, io);
    } catch (const core::ApiError& e) {
      // Only "not found" means not served; an API that did not answer is not a missing CRD.
      if (!e.IsNotFound())
        throw std::runtime_error("could not ask the API whether it serves " + api_version + " " + kind + ": " +
                                 e.what() + (e.retry_advice() == core::RetryAdvice::kBackoff
                                                 ? "; retrying may help"
                                                 : "; retrying cannot help"));
      // A provider whose CRDs are not installed cannot route; Canaries using it say so.
      spdlog::warn("kind {} {} not served ({}); Canaries that need it will report it", api_version, kind, e.what());
    }
  }
  if (!informers_.count("Canary") || !informers_.count("Deployment"))
    throw std::runtime_error("the API does not serve sluice.dev/v1beta1 Canary (apply crds/) or apps/v1 Deployment");
  informers_["Canary"]->AddIndex("target", [](const json& c) {
    std::string target = c.value("spec", json::object()).value("targetRef", json::object()).value("name", "");
    return std::vector<std::string>{c["metadata"].value("namespace", "") + "/" + target};
  });
  WireHandlers();
  for (auto& [kind, informer] : informers_) informer->Start();
  for (auto& [kind, informer] : informers_) {
    auto wait = informer->WaitForSync();
    co_await std::move(wait);
  }
  spdlog::info("canary controller synced: {} canaries", informers_["Canary"]->size());
}

// Discovery of one kind. An API that does not answer for a moment (a reset, a 5xx) is asked
// again with backoff for up to a minute: the start-up check already found it reachable, so
// this is a blip, and exiting on it would restart the process for nothing.
asio::awaitable<kube::ApiResource> CanaryController::ResolveRetrying(std::string api_version, std::string kind) {
  core::Backoff backoff(std::chrono::milliseconds(200), std::chrono::seconds(5));
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (int attempt = 0;; ++attempt) {
    std::chrono::milliseconds wait{0};
    try {
      auto op = client_->Resolve(api_version, kind);
      co_return co_await std::move(op);
    } catch (const core::ApiError& e) {
      bool transient = e.retry_advice() == core::RetryAdvice::kBackoff;
      if (!transient || Stopping() || std::chrono::steady_clock::now() > give_up) throw;
      wait = backoff.Delay(attempt);
      spdlog::warn("asking whether the API serves {} {}: {}; again in {} ms", api_version, kind, e.what(), wait.count());
    }
    asio::steady_timer timer(client_->executor(), wait);
    co_await timer.async_wait(asio::use_awaitable);
  }
}

void CanaryController::WireHandlers() {
  auto self = WeakSelf();
  kube::InformerHandler canary_handler;
  canary_handler.on_add = [self](const kube::ObjectPtr& o) {
    spdlog::debug("canary added: {}", Key(*o));
    if (auto s = self.lock()) s->Enqueue(Key(*o));
  };
  canary_handler.on_update = [self](const kube::ObjectPtr&, const kube::ObjectPtr& o) {
    if (auto s = self.lock()) s->Enqueue(Key(*o));
  };
  canary_handler.on_delete = [self](const kube::ObjectPtr& o) {
    if (auto s = self.lock()) s->Enqueue(Key(*o));
  };
  informers_["Canary"]->AddHandler(canary_handler);

  kube::InformerHandler related;
  related.on_add = [self](const kube::ObjectPtr& o) {
    if (auto s = self.lock()) s->EnqueueOwnerOrTargeting(o);
  };
  related.on_update = [self](const kube::ObjectPtr&, const kube::ObjectPtr& o) {
    if (auto s = self.lock()) s->EnqueueOwnerOrTargeting(o);
  };
  related.on_delete = related.on_add;
  for (auto& [kind, informer] : informers_)
    if (kind != "Canary" && kind != "ConfigMap" && kind != "Secret") informer->AddHandler(related);

  // A config change may be a new revision of any Canary in the namespace that tracks it.
  kube::InformerHandler configs;
  configs.on_update = [self](const kube::ObjectPtr&, const kube::ObjectPtr& o) {
    if (auto s = self.lock()) s->EnqueueNamespace(o->at("metadata").value("namespace", ""));
  };
  for (const char* kind : {"ConfigMap", "Secret"})
    if (informers_.count(kind)) informers_[kind]->AddHandler(configs);
}

void CanaryController::EnqueueOwnerOrTargeting(const kube::ObjectPtr& object) {
  std::string owner = OwnerCanaryKey(*object);
  if (!owner.empty()) Enqueue(owner);
  if (object->value("kind", "") != "Deployment") return;
  for (const auto& c : informers_["Canary"]->ByIndex("target", Key(*object))) Enqueue(Key(*c));
}

void CanaryController::EnqueueNamespace(const std::string& ns) {
  for (const auto& c : informers_["Canary"]->ListNamespace(ns)) Enqueue(Key(*c));
}

void CanaryController::StopWatches() {
  for (auto& [kind, informer] : informers_) informer->Stop();
}

void CanaryController::OnReconcileError(const std::string&, const std::exception&, bool) {
  stats_.errors++;
  if (metrics_) metrics_->ReconcileError();
}

void CanaryController::OnTick() {
  if (metrics_) metrics_->SetQueueDepth(QueueDepth());
}

// --- one reconcile -----------------------------------------------------------------------

namespace {

// A second Canary on the same target: the older one keeps it.
std::optional<std::string> SharedTarget(const kube::Informer& canaries, const json& canary, const std::string& target) {
  const json& me = canary["metadata"];
  auto older = [](const json& a, const json& b) {
    auto ta = a.value("creationTimestamp", ""), tb = b.value("creationTimestamp", "");
    return ta != tb ? ta < tb : a.value("name", "") < b.value("name", "");
  };
  for (const auto& other : canaries.ByIndex("target", me.value("namespace", "") + "/" + target)) {
    const json& om = (*other)["metadata"];
    if (om.value("uid", "") == me.value("uid", "")) continue;
    if (older(om, me))
      return "spec.targetRef.name: Deployment " + target + " is already the target of Canary " +
             om.value("name", "") + "; a Deployment can have only one Canary";
  }
  return std::nullopt;
}

}  // namespace

asio::awaitable<void> CanaryController::Reconcile(std::string key) {
  Pass pass;
  pass.canary = informers_["Canary"]->Get(key);
  if (!pass.canary) {
    unseen_writes_.erase("Canary/" + key);
    sent_not_cleared_.erase(key);
    co_return;  // deleted; owned objects are garbage collected
  }
  // Our own last write of this Canary (a status, cleared alerts, consumed requests) is newer
  // than the cache: acting on the older image would repeat what that write recorded. Its
  // watch event reconciles again.
  if (Latest(pass.canary) != pass.canary) co_return;
  stats_.reconciles++;
  const json& canary = *pass.canary;
  pass.ns = canary["metadata"].value("namespace", "");
  pass.name = canary["metadata"].value("name", "");
  api::CanaryStatus status = api::StatusFromJson(canary.value("status", json::object()));

  auto parsed = api::ParseCanarySpec(canary, routing::RouterRegistry::Builtin().Providers());
  if (auto* err = std::get_if<api::SpecError>(&parsed)) {
    pass.spec_error = err->ToString();
  } else {
    pass.spec = std::get<api::CanarySpec>(parsed);
    pass.spec_error = SharedTarget(*informers_["Canary"], canary, pass.spec.target_name);
  }
  if (!pass.spec_error) {
    pass.router = &routing::RouterRegistry::Builtin().Get(pass.spec.provider);
    for (const auto& k : pass.router->Kinds())
      if (!InformerFor(k.kind))
        pass.spec_error = "spec.provider: " + pass.spec.provider + " needs " + k.kind + " (" + k.api_version +
                          "), which this cluster does not serve: install its CRDs";
  }

  pass.facts.deleting = canary["metadata"].contains("deletionTimestamp");
  pass.target = informers_["Deployment"]->Get(pass.ns, pass.spec.target_name);
  kube::ObjectPtr primary = informers_["Deployment"]->Get(pass.ns, pass.spec.target_name + "-primary");
  // Without the target (deleted mid-rollout) the primary still names the selector label, so
  // traffic can be moved back to it.
  if (kube::ObjectPtr selector_source = pass.target ? pass.target : primary; !pass.spec_error && selector_source) {
    try {
      pass.ctx = {canary, pass.name, pass.ns, canary["metadata"].value("uid", ""), pass.spec.service_name,
                  pass.spec.service_port, SelectorLabel(*selector_source), pass.spec.target_name};
    } catch (const std::invalid_argument& e) {
      pass.spec_error = std::string("spec.targetRef: ") + e.what();
    }
  }
  if (!pass.spec_error && pass.target) {
    const json& tmpl = (*pass.target)["spec"]["template"];
    std::map<std::string, std::string> hashes;
    for (const auto& ref : ReferencedConfigs(tmpl)) {
      auto cfg = InformerFor(ref.kind) ? InformerFor(ref.kind)->Get(pass.ns, ref.name) : nullptr;
      bool skip = cfg && (*cfg)["metadata"].value("annotations", json::object()).value(kSkipTrackingAnnotation, "") == "true";
      if (skip) continue;
      pass.configs.push_back(ref);
      hashes[ref.Key()] = cfg ? DataHash(*cfg) : "missing";
    }
    pass.facts.target_found = true;
    pass.facts.target_configs = hashes;
    pass.facts.target_revision = RevisionHash(tmpl, hashes);
    int threshold = canary["spec"].value("analysis", json::object()).value("canaryReadyThreshold", 100);
    auto readiness = ReadinessOf(*pass.target, threshold);
    pass.facts.canary_ready = readiness.ready && (*pass.target)["spec"].value("replicas", 1) > 0;
    pass.facts.canary_deadline_exceeded = readiness.deadline_exceeded;
    pass.facts.primary_found = primary != nullptr;
    int primary_threshold = canary["spec"].value("analysis", json::object()).value("primaryReadyThreshold", 100);
    pass.facts.primary_ready = primary && ReadinessOf(*primary, primary_threshold).ready &&
                               PrimaryCarries(*primary, status) && Latest(primary) == primary;
  }
  pass.requests = RequestsFromAnnotations(canary);

  core::TimePoint now = options_.clock->Now();
  StepInput input{pass.spec, status, pass.facts, pass.requests, now,
                  canary["metadata"].value("generation", int64_t{0}), pass.spec_error};
  analysis::AnalysisPlan plan = PlanAnalysis(input);
  analysis::AnalysisOutcome outcome;
  if (!plan.Empty()) {
    auto eval = analysis_->Evaluate(canary, pass.spec, plan, status, lookup_);
    outcome = co_await std::move(eval);
  }
  pass.decision = Step(input, outcome);
  if (pass.spec_error && !(status.FindCondition("Ready") && status.FindCondition("Ready")->message == *pass.spec_error)) {
    spdlog::warn("canary {}/{} has an invalid spec: {}", pass.ns, pass.name, *pass.spec_error);
    events_->Warning(canary, "InvalidSpec", *pass.spec_error);
  }
  if (pass.facts.deleting) {
    co_await Execute(pass);
    co_await WriteStatus(pass);
  } else {
    // The decision is durable before anything moves: a status write refused here (409, a
    // fault) leaves traffic, replicas, Events and alerts untouched, and the step is decided
    // again on fresh state. Everything after it is derived from that status, so a failure
    // below is repaired by the next pass (docs/reliability.md).
    DesiredRoute(pass);
    // Traffic moving back toward the primary (abort, rollback, the end of a promotion) is
    // safe before the status says so, and an abort is measured by how soon it lands: it goes
    // first. If the status write then fails, the next pass decides the same retreat again.
    if (Retreats(TrafficFor(pass.spec, status), pass.traffic)) co_await VerifyRoute(pass);
    bool written = co_await WriteStatus(pass);
    co_await Converge(pass);
    if (written) co_await ConsumeRequests(pass);
    co_await Announce(pass);
  }
  if (metrics_) metrics_->ObserveCanary(pass.ns, pass.name, pass.decision.status, pass.spec.strategy());
  if (pass.decision.requeue_after.count() > 0) EnqueueAfter(key, pass.decision.requeue_after);
}

// Deletion: Events, then the finalizer's work (revert the target and the route if asked).
asio::awaitable<void> CanaryController::Execute(Pass& pass) {
  for (const Action& a : pass.decision.actions) {
    if (a.type == Action::Type::kEvent) RecordEvent(pass, a);
    if (a.type == Action::Type::kFinalize) co_await Finalize(pass, a.revert);
  }
}

void CanaryController::RecordEvent(const Pass& pass, const Action& a) {
  if (a.event_type == "Warning")
    events_->Warning(*pass.canary, a.reason, a.message);
  else
    events_->Normal(*pass.canary, a.reason, a.message);
  spdlog::info("canary {}/{}: {}: {}", pass.ns, pass.name, a.reason, a.message);
}

bool CanaryController::Usable(const Pass& pass) const { return !pass.spec_error && !pass.ctx.selector_label.empty(); }

// The routing objects for where the decided status puts traffic. A provider that cannot
// build them (a match it cannot express) makes the spec invalid, said in the same status.
void CanaryController::DesiredRoute(Pass& pass) {
  if (!Usable(pass)) return;
  pass.traffic = TrafficFor(pass.spec, pass.decision.status);
  if (!pass.traffic) return;
  try {
    pass.route = pass.router->Desired(pass.ctx, *pass.traffic);
  } catch (const std::invalid_argument& e) {
    events_->Warning(*pass.canary, "RoutingFailed", e.what());
    pass.decision.status.SetCondition({"Ready", "False", "InvalidSpec", e.what(), {}}, options_.clock->Now());
    pass.traffic.reset();
  }
}

// Makes the cluster match the written status. Order matters for traffic: the canary runs
// before traffic is sent to it, and traffic has left it (verified on the API, not the cache)
// before it is scaled down.
asio::awaitable<void> CanaryController::Converge(Pass& pass) {
  if (!Usable(pass)) co_return;
  const api::CanaryStatus& status = pass.decision.status;
  if (pass.target) {
    co_await EnsureFinalizer(pass);
    co_await EnsureBackendServices(pass);
    if (PrimaryNeedsSync(pass)) co_await SyncPrimary(pass);
  }
  std::optional<bool> canary_runs = CanaryShouldRun(status);
  if (pass.target && canary_runs == true) co_await ScaleTarget(pass, /*up=*/true);
  bool scaling_down = pass.target && canary_runs == false && (*Latest(pass.target))["spec"].value("replicas", 1) != 0;
  if (scaling_down && !pass.route_verified)
    co_await VerifyRoute(pass);
  else
    for (const auto& obj : pass.route) co_await ApplyIfChanged(obj, stats_.route_writes);
  if (scaling_down) co_await ScaleTarget(pass, /*up=*/false);
}

// The primary takes the target's template when the step says so, and again on every pass
// while promoting (a failed write is retried) as long as the target still holds the
// revision under promotion: a newer one must never reach the primary unanalysed.
bool CanaryController::PrimaryNeedsSync(const Pass& pass) const {
  for (const Action& a : pass.decision.actions)
    if (a.type == Action::Type::kInitializePrimary || a.type == Action::Type::kPromotePrimary) return true;
  const api::CanaryStatus& status = pass.decision.status;
  return status.phase == api::Phase::kPromoting && pass.facts.target_revision == status.last_applied_spec;
}

// What the step announces, once: Events and webhooks, then the alerts it queued in status.
asio::awaitable<void> CanaryController::Announce(Pass& pass) {
  for (const Action& a : pass.decision.actions) {
    if (a.type == Action::Type::kEvent) {
      RecordEvent(pass, a);
      FireEventWebhooks(pass);
    } else if (a.type == Action::Type::kRunWebhooks) {
      auto run = analysis_->RunWebhooks(*pass.canary, pass.spec, a.webhook_type, pass.decision.status, lookup_);
      co_await std::move(run);
    } else if (a.type == Action::Type::kAlert && pass.spec.analysis.alerts.empty()) {
      // No alert entries: nothing is queued in status, the alert only reaches the log.
      analysis::Alert alert{a.severity, a.reason, a.message};
      auto send = analysis_->SendAlert(*pass.canary, alert, lookup_);
      co_await std::move(send);
    }
  }
  co_await DeliverAlerts(pass);
}

// Sends the alerts queued in status, reports what failed where `kubectl describe` shows it,
// and clears the queue. A crash between sending and clearing sends them again (at least
// once); a re-run step never does, because its alerts were never queued.
asio::awaitable<void> CanaryController::DeliverAlerts(Pass& pass) {
  if (pass.decision.status.pending_alerts.empty()) co_return;
  // Sent but not yet cleared (the clearing write failed): not sent again by this process.
  std::set<std::string>& sent = sent_not_cleared_[pass.ns + "/" + pass.name];
  for (const api::PendingAlert& pending : pass.decision.status.pending_alerts) {
    if (!sent.insert(pending.severity + "/" + pending.reason + "/" + pending.message).second) continue;
    analysis::Alert alert{pending.severity, pending.reason, pending.message};
    auto send = analysis_->SendAlert(*pass.canary, alert, lookup_);
    for (const auto& failure : co_await std::move(send)) {
      events_->Warning(*pass.canary, "AlertFailed", failure.message);
      if (failure.provider) events_->Warning(*failure.provider, "DeliveryFailed", failure.message);
    }
  }
  json patch = {{"status", {{"pendingAlerts", json::array()}}}};
  kube::PatchOptions po;
  po.field_manager = options_.field_manager;
  po.subresource = "status";
  auto op = client_->Patch(resources_.at("Canary"), pass.ns, pass.name, kube::PatchType::kMerge, patch, po);
  Wrote(co_await std::move(op));
  sent_not_cleared_.erase(pass.ns + "/" + pass.name);
  stats_.status_writes++;
}

// "event" webhooks hear of every decision, but a slow receiver must not hold the rollout:
// they run beside the reconcile, on copies of what they need.
void CanaryController::FireEventWebhooks(const Pass& pass) {
  asio::co_spawn(
      client_->executor(),
      [analysis = analysis_, canary = pass.canary, spec = pass.spec, status = pass.decision.status,
       lookup = lookup_]() -> asio::awaitable<void> {
        std::string type = "event";
        auto run = analysis->RunWebhooks(*canary, spec, type, status, lookup);
        co_await std::move(run);
      },
      asio::detached);
}

asio::awaitable<bool> CanaryController::ApplyIfChanged(const json& desired, uint64_t& counter) {
  std::string kind = desired.value("kind", "");
  auto informer = InformerFor(kind);
  const json& meta = desired["metadata"];
  if (informer) {
    auto live = Latest(informer->Get(meta.value("namespace", ""), meta.value("name", "")));
    if (live && apimachinery::ContainsAll(*live, desired)) co_return false;
  }
  auto res = resources_.at(kind);
  // Every argument named: GCC 12 destroys coroutine argument temporaries twice (kube/client.h).
  const std::string no_subresource;
  auto op = client_->Apply(res, desired, options_.field_manager, /*force=*/true, no_subresource);
  json written = co_await std::move(op);
  Wrote(written);
  counter++;
  co_return true;
}

asio::awaitable<void> CanaryController::EnsureBackendServices(Pass& pass) {
  json primary = BackendService(pass.ctx, "-primary", pass.spec.target_name + "-primary");
  json canary = BackendService(pass.ctx, "-canary", pass.spec.target_name);
  co_await ApplyIfChanged(primary, stats_.other_writes);
  co_await ApplyIfChanged(canary, stats_.other_writes);
}

asio::awaitable<void> CanaryController::SyncPrimary(Pass& pass) {
  for (const auto& ref : pass.configs) {
    auto cfg = InformerFor(ref.kind) ? InformerFor(ref.kind)->Get(pass.ns, ref.name) : nullptr;
    if (cfg) co_await ApplyIfChanged(PrimaryConfigCopy(pass.ctx, *cfg), stats_.other_writes);
  }
  const json& spec = (*pass.canary)["spec"];
  bool autoscaled = spec.contains("autoscalerRef");
  if (autoscaled && InformerFor("HorizontalPodAutoscaler")) {
    auto hpa = InformerFor("HorizontalPodAutoscaler")->Get(pass.ns, spec["autoscalerRef"].value("name", ""));
    if (hpa) co_await ApplyIfChanged(PrimaryAutoscaler(pass.ctx, *hpa), stats_.other_writes);
  }
  json primary = PrimaryDeployment(pass.ctx, *pass.target, pass.configs, pass.facts.target_revision, autoscaled);
  co_await ApplyIfChanged(primary, stats_.other_writes);
}

// Before the canary loses its pods: each routing object written as decided whatever the
// cache says (server-side apply is idempotent), so the scale-down that follows rests on the
// API server's answer, not on a cache that may have missed a change.
asio::awaitable<void> CanaryController::VerifyRoute(Pass& pass) {
  for (const auto& desired : pass.route) {
    auto res = resources_.at(desired.value("kind", ""));
    const std::string no_subresource;
    auto op = client_->Apply(res, desired, options_.field_manager, /*force=*/true, no_subresource);
    json written = co_await std::move(op);
    Wrote(written);
    stats_.route_writes++;
  }
  pass.route_verified = true;
}

asio::awaitable<void> CanaryController::ScaleTarget(Pass& pass, bool up) {
  int replicas = 0;
  if (up) {
    auto primary = informers_["Deployment"]->Get(pass.ns, pass.spec.target_name + "-primary");
    replicas = primary ? std::max(1, (*primary)["spec"].value("replicas", 1)) : 1;
  }
  if ((*Latest(pass.target))["spec"].value("replicas", 1) == replicas) co_return;
  json patch = {{"spec", {{"replicas", replicas}}}};
  kube::PatchOptions po;
  po.field_manager = options_.field_manager;
  auto op = client_->Patch(resources_.at("Deployment"), pass.ns, pass.spec.target_name, kube::PatchType::kMerge,
                           patch, po);
  json written = co_await std::move(op);
  Wrote(written);
  stats_.other_writes++;
}

asio::awaitable<void> CanaryController::EnsureFinalizer(Pass& pass) {
  const json& meta = (*pass.canary)["metadata"];
  json finalizers = meta.value("finalizers", json::array());
  bool has = std::find(finalizers.begin(), finalizers.end(), kFinalizer) != finalizers.end();
  if (has == pass.spec.revert_on_deletion) co_return;
  if (pass.spec.revert_on_deletion)
    finalizers.push_back(kFinalizer);
  else
    finalizers.erase(std::remove(finalizers.begin(), finalizers.end(), json(kFinalizer)), finalizers.end());
  json patch = {{"metadata", {{"finalizers", finalizers}, {"resourceVersion", meta.value("resourceVersion", "")}}}};
  kube::PatchOptions po;
  po.field_manager = options_.field_manager;
  auto op = client_->Patch(resources_.at("Canary"), pass.ns, pass.name, kube::PatchType::kMerge, patch, po);
  Wrote(co_await std::move(op));
  stats_.other_writes++;
}

asio::awaitable<void> CanaryController::Finalize(Pass& pass, bool revert) {
  const json& meta = (*pass.canary)["metadata"];
  json finalizers = meta.value("finalizers", json::array());
  if (std::find(finalizers.begin(), finalizers.end(), kFinalizer) == finalizers.end()) co_return;
  if (revert && pass.router && pass.target && !pass.spec_error) {
    for (const auto& obj : pass.router->Revert(pass.ctx)) co_await ApplyIfChanged(obj, stats_.route_writes);
    co_await ScaleTarget(pass, /*up=*/true);
  }
  finalizers.erase(std::remove(finalizers.begin(), finalizers.end(), json(kFinalizer)), finalizers.end());
  json patch = {{"metadata", {{"finalizers", finalizers}}}};
  kube::PatchOptions po;
  po.field_manager = options_.field_manager;
  auto op = client_->Patch(resources_.at("Canary"), pass.ns, pass.name, kube::PatchType::kMerge, patch, po);
  Wrote(co_await std::move(op));
  stats_.other_writes++;
}

asio::awaitable<bool> CanaryController::WriteStatus(Pass& pass) {
  json desired = api::StatusToJson(pass.decision.status);
  json current = pass.canary->value("status", json::object());
  json merged = current;
  for (const auto& [k, v] : desired.items()) merged[k] = v;  // keep fields other writers own (metrics)
  if (merged == current && pass.decision.consumed.empty()) co_return false;
  json object = *pass.canary;
  object["status"] = merged;
  const kube::WriteOptions write_options;
  const std::string subresource = "status";
  auto op = client_->Update(resources_.at("Canary"), object, write_options, subresource);
  Wrote(co_await std::move(op));
  stats_.status_writes++;
  co_return true;
}

asio::awaitable<void> CanaryController::ConsumeRequests(Pass& pass) {
  if (pass.decision.consumed.empty()) co_return;
  json annotations = json::object();
  for (api::RequestKind kind : pass.decision.consumed) annotations[api::AnnotationKey(kind)] = nullptr;
  json patch = {{"metadata", {{"annotations", annotations}}}};
  kube::PatchOptions po;
  po.field_manager = options_.field_manager;
  auto op = client_->Patch(resources_.at("Canary"), pass.ns, pass.name, kube::PatchType::kMerge, patch, po);
  Wrote(co_await std::move(op));
  stats_.other_writes++;
}

// Whether `after` sends the canary less than `before`: a lower weight, or the A/B matches or
// the mirror taken away.
bool CanaryController::Retreats(const std::optional<routing::Weights>& before,
                                const std::optional<routing::Weights>& after) {
  if (!before || !after) return false;
  return after->canary < before->canary || (before->ab_match && !after->ab_match) ||
         (before->mirror && !after->mirror);
}

// --- the cache against our own writes ---------------------------------------------------

namespace {

std::string ObjectId(const json& obj) {
  const json& m = obj["metadata"];
  return obj.value("kind", "") + "/" + m.value("namespace", "") + "/" + m.value("name", "");
}

std::optional<uint64_t> NumericVersion(const std::string& rv) {
  if (rv.empty() || rv.size() > 19 || !std::all_of(rv.begin(), rv.end(), ::isdigit)) return std::nullopt;
  return std::stoull(rv);
}

}  // namespace

void CanaryController::Wrote(const json& response) {
  if (!response.is_object() || !response.contains("metadata")) return;
  if (unseen_writes_.size() > 100000) unseen_writes_.clear();  // a bound; a forgotten entry costs one write
  unseen_writes_[ObjectId(response)] = std::make_shared<const json>(response);
}

// The newest state of an object we know: the cached one, unless our own last write of it
// is newer (the watch has not delivered it yet). Deciding on a cache older than our own
// write could skip a write that is still needed; deciding on the write itself also avoids
// writing the same thing twice while the watch catches up.
kube::ObjectPtr CanaryController::Latest(const kube::ObjectPtr& cached) {
  if (!cached) return cached;
  auto it = unseen_writes_.find(ObjectId(*cached));
  if (it == unseen_writes_.end()) return cached;
  std::string cached_rv = (*cached)["metadata"].value("resourceVersion", "");
  std::string written_rv = (*it->second)["metadata"].value("resourceVersion", "");
  auto a = NumericVersion(cached_rv), b = NumericVersion(written_rv);
  if (cached_rv == written_rv || (a && b && *a >= *b)) {
    unseen_writes_.erase(it);
    return cached;
  }
  return it->second;
}

// Whether the primary runs the revision the status says it should: during a promotion the
// one being promoted, so an old primary that is still "ready" does not end the promotion.
bool CanaryController::PrimaryCarries(const json& primary, const api::CanaryStatus& status) {
  if (status.phase != api::Phase::kPromoting && status.phase != api::Phase::kFinalising) return true;
  const json* annotations = core::FindAt(primary, {"spec", "template", "metadata", "annotations"});
  std::string revision = annotations ? core::Str(*annotations, kPromotedRevisionAnnotation) : "";
  return revision == status.last_applied_spec;
}

}  // namespace sluice::canary
