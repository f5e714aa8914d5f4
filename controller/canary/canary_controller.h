// The canary reconciler: reads Canaries and what they touch from informer caches, runs the
// pure state machine, carries out its actions with minimal writes, and records the outcome
// in the Canary's status. Request annotations arrive through the Canary watch and are handled
// at once, not at the next interval.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <unordered_map>

#include "analysis/runner.h"
#include "api/canary_types.h"
#include "controller/canary/state_machine.h"
#include "kube/client.h"
#include "core/clock.h"
#include "kube/event_recorder.h"
#include "kube/informer.h"
#include "kube/runtime/reconciler.h"

namespace sluice::canary {

class ControllerMetrics;

struct CanaryControllerOptions {
  std::string ns;  // "" = every namespace
  int workers = 4;
  std::string field_manager = "sluice";
  const core::Clock* clock = &core::SystemClock::Instance();
};

// API traffic of the reconciler (not the informers), for the "writes per step" benchmark.
struct ReconcileStats {
  uint64_t reconciles = 0;
  uint64_t errors = 0;
  uint64_t route_writes = 0;
  uint64_t status_writes = 0;
  uint64_t other_writes = 0;
  uint64_t reads = 0;  // API GETs made while reconciling (the goal is none)
};

class CanaryController final : public kube::runtime::Reconciler {
 public:
  static std::shared_ptr<CanaryController> Create(std::shared_ptr<kube::Client> client,
                                                  std::shared_ptr<kube::EventRecorder> events,
                                                  std::shared_ptr<analysis::AnalysisRunner> analysis,
                                                  CanaryControllerOptions options = {},
                                                  std::shared_ptr<ControllerMetrics> metrics = nullptr);
  bool Synced() const { return Ready(); }

  // One reconcile of "namespace/name" (workers call it; tests may too).
  boost::asio::awaitable<void> Reconcile(std::string key) override;

  const ReconcileStats& stats() const { return stats_; }

 private:
  CanaryController(std::shared_ptr<kube::Client> client, std::shared_ptr<kube::EventRecorder> events,
                   std::shared_ptr<analysis::AnalysisRunner> analysis, CanaryControllerOptions options,
                   std::shared_ptr<ControllerMetrics> metrics);
  struct Pass;  // one reconcile's working state (canary_controller.cc)

  // Resolves the kinds (the routing providers' included), starts the informers and waits for
  // their caches.
  boost::asio::awaitable<void> StartWatches() override;
  void StopWatches() override;
  void OnReconcileError(const std::string& key, const std::exception& error, bool will_retry) override;
  void OnTick() override;
  std::weak_ptr<CanaryController> WeakSelf();
  void WireHandlers();
  boost::asio::awaitable<kube::ApiResource> ResolveRetrying(std::string api_version, std::string kind);
  void EnqueueOwnerOrTargeting(const kube::ObjectPtr& object);
  void EnqueueNamespace(const std::string& ns);

  boost::asio::awaitable<void> Execute(Pass& pass);
  void RecordEvent(const Pass& pass, const Action& action);
  bool Usable(const Pass& pass) const;
  void DesiredRoute(Pass& pass);
  boost::asio::awaitable<void> Converge(Pass& pass);
  bool PrimaryNeedsSync(const Pass& pass) const;
  static bool Retreats(const std::optional<routing::Weights>& before, const std::optional<routing::Weights>& after);
  boost::asio::awaitable<void> Announce(Pass& pass);
  boost::asio::awaitable<void> DeliverAlerts(Pass& pass);
  boost::asio::awaitable<void> EnsureBackendServices(Pass& pass);
  boost::asio::awaitable<void> SyncPrimary(Pass& pass);
  boost::asio::awaitable<void> VerifyRoute(Pass& pass);
  boost::asio::awaitable<void> ScaleTarget(Pass& pass, bool up);
  boost::asio::awaitable<void> Finalize(Pass& pass, bool revert);
  boost::asio::awaitable<void> EnsureFinalizer(Pass& pass);
  boost::asio::awaitable<bool> WriteStatus(Pass& pass);
  boost::asio::awaitable<void> ConsumeRequests(Pass& pass);
  void FireEventWebhooks(const Pass& pass);
  // Server-side apply of an owned object unless the cache shows it already as desired.
  boost::asio::awaitable<bool> ApplyIfChanged(const nlohmann::json& desired, uint64_t& counter);

  std::shared_ptr<kube::Informer> InformerFor(const std::string& kind) const;
  void Wrote(const nlohmann::json& response);
  kube::ObjectPtr Latest(const kube::ObjectPtr& cached);
  static bool PrimaryCarries(const nlohmann::json& primary, const api::CanaryStatus& status);

  std::shared_ptr<kube::Client> client_;
  std::shared_ptr<kube::EventRecorder> events_;
  std::shared_ptr<analysis::AnalysisRunner> analysis_;
  CanaryControllerOptions options_;
  std::shared_ptr<ControllerMetrics> metrics_;
  std::map<std::string, kube::ApiResource> resources_;  // by kind
  std::map<std::string, std::shared_ptr<kube::Informer>> informers_;  // by kind
  // "Kind/ns/name" -> what our last write of it returned, until the cache shows that
  // resourceVersion or a newer one (Latest).
  std::unordered_map<std::string, kube::ObjectPtr> unseen_writes_;
  // Canary -> alerts delivered whose clearing status write has not succeeded yet.
  std::map<std::string, std::set<std::string>> sent_not_cleared_;
  ReconcileStats stats_;
  analysis::ObjectLookup lookup_;  // the analysis reads templates, providers and secrets from our caches
};

}  // namespace sluice::canary
