// The sync reconciler: for each Kustomization (sluice.dev/v1beta1), takes the latest artifact
// its GitRepository published, loads the manifests under spec.path, and makes the cluster
// match with server-side apply (only what differs), an inventory in status, prune, health
// checks and drift correction each interval.
//
// It never fights the canary engine: a Deployment a Canary targets is applied without
// spec.replicas once it exists (the engine scales it), and objects the engine generates
// (`<target>-primary`, `<service>-primary`, `<service>-canary`, anything owned by a Canary)
// are skipped with a note in the Ready message. A changed target in Git therefore starts a
// rollout, and a revert to the promoted version ends it.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "controller/gitops/applier.h"
#include "controller/gitops/artifact_store.h"
#include "controller/gitops/sync_metrics.h"
#include "controller/gitops/manifests.h"
#include "kube/client.h"
#include "core/clock.h"
#include "kube/event_recorder.h"
#include "api/kustomization.h"
#include "kube/informer.h"
#include "kube/runtime/reconciler.h"

namespace sluice::gitops {

inline constexpr const char* kReconcileAnnotation = "sluice.dev/reconcile";
// Held while a Kustomization exists, so that deleting it (with prune) deletes what it applied.
inline constexpr const char* kSyncFinalizer = "sluice.dev/finalizer";

// The spec types live in api/ (parsed once there); the names stay short here.
using api::HealthCheckRef;
using api::KustomizationSpec;
using api::NamespacedName;
using api::ParseKustomizationSpec;
using api::SubstituteSource;

struct KustomizationControllerOptions {
  std::string ns;  // "" = every namespace
  int workers = 2;
  std::string field_manager = "sluice";
  std::string kustomize_path;  // "" = folders with a kustomization.yaml are refused
  // How often a sync waiting for its dependencies looks again (Flux: 30 s).
  std::chrono::milliseconds dependency_requeue{30000};
  std::chrono::milliseconds health_poll{500};
  const core::Clock* clock = &core::SystemClock::Instance();
  std::shared_ptr<SyncMetrics> metrics;  // optional: revision and readiness per sync
};

// What the reconciler sent, for tests and the "no-op sync writes nothing" figure.
struct SyncStats {
  uint64_t reconciles = 0;
  uint64_t syncs = 0;     // reconciles that got as far as comparing with the cluster
  uint64_t dry_runs = 0;
  uint64_t writes = 0;    // applies of objects
  uint64_t deletes = 0;   // prunes
  uint64_t status_writes = 0;
  uint64_t errors = 0;
  std::chrono::microseconds last_sync{0};  // apply stage of the last sync that got that far
};

class KustomizationController final : public kube::runtime::Reconciler {
 public:
  static std::shared_ptr<KustomizationController> Create(std::shared_ptr<kube::Client> client,
                                                         std::shared_ptr<kube::EventRecorder> events,
                                                         std::shared_ptr<ArtifactStore> artifacts,
                                                         KustomizationControllerOptions options = {});
  ~KustomizationController();

  bool Synced() const { return Ready(); }

  boost::asio::awaitable<void> Reconcile(std::string key) override;

  const SyncStats& stats() const { return stats_; }

 private:
  KustomizationController(std::shared_ptr<kube::Client> client, std::shared_ptr<kube::EventRecorder> events,
                          std::shared_ptr<ArtifactStore> artifacts, KustomizationControllerOptions options);
  struct Pass;  // one reconcile's working state

  boost::asio::awaitable<void> StartWatches() override;
  void StopWatches() override;
  void OnReconcileError(const std::string& key, const std::exception& error, bool will_retry) override;
  std::weak_ptr<KustomizationController> WeakSelf();
  void WireHandlers();
  void EnqueueSource(const std::string& source_key);
  void EnqueueDependents(const nlohmann::json& kustomization);

  boost::asio::awaitable<void> Sync(Pass& pass);
  // "namespace/name" of the Kustomizations `key` depends on (this pass's spec for its own key).
  std::vector<std::string> DependsOnKeys(const Pass& pass, const std::string& key) const;
  bool FailOnCycle(Pass& pass);
  boost::asio::awaitable<Variables> ResolveVariables(Pass& pass);
  boost::asio::awaitable<std::vector<Manifest>> Load(std::string root, std::string path, BuildOptions options);
  boost::asio::awaitable<std::vector<ApplyItem>> Prepare(Pass& pass, std::vector<Manifest> manifests);
  boost::asio::awaitable<std::vector<std::string>> StayOffCanaryObjects(std::vector<ApplyItem>& items);
  boost::asio::awaitable<std::optional<std::string>> WaitHealthy(Pass& pass, const std::vector<ApplyItem>& items);
  boost::asio::awaitable<void> WriteStatus(Pass& pass);
  // Adds or removes our finalizer with a merge patch guarded by the resourceVersion; returns
  // the new resourceVersion.
  boost::asio::awaitable<std::string> SetFinalizer(const nlohmann::json& kustomization, bool present);
  // A Kustomization being deleted: with prune, delete what it applied, then let it go.
  boost::asio::awaitable<void> Finalize(Pass& pass);

  std::shared_ptr<kube::Client> client_;
  std::shared_ptr<kube::EventRecorder> events_;
  std::shared_ptr<ArtifactStore> artifacts_;
  KustomizationControllerOptions options_;
  std::shared_ptr<LiveObjects> live_;
  std::unique_ptr<Applier> applier_;
  boost::asio::thread_pool loader_{1};  // file reads and kustomize runs stay off the event loop
  kube::ApiResource resource_;
  std::shared_ptr<kube::Informer> informer_;
  std::shared_ptr<kube::Informer> canaries_;  // nullptr when the Canary CRD is not installed
  // The status we wrote last, until the watch delivers it: its resourceVersion and content.
  std::map<std::string, std::pair<std::string, nlohmann::json>> written_status_;
  SyncStats stats_;
};

}  // namespace sluice::gitops
