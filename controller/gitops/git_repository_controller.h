// The GitRepository reconciler: polls each repository's remote on its interval (with
// jitter), fetches a new commit into the controller's cache, exports its tree with the
// ignore rules applied and publishes it to the ArtifactStore the syncs follow. Reads come
// from informer caches (GitRepository, Secret); libgit2 runs on a small worker pool, never on
// the event loop; status is written by server-side apply only when it changes.
//
// A spec change, a Secret change or a new `sluice.dev/reconcile` annotation value
// reconciles at once; the handled annotation value is recorded as lastHandledReconcileAt.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include <map>
#include <memory>
#include <random>
#include <string>

#include "controller/gitops/artifact_store.h"
#include "controller/gitops/git_client.h"
#include "kube/client.h"
#include "core/clock.h"
#include "kube/event_recorder.h"
#include "kube/informer.h"
#include "kube/runtime/reconciler.h"

namespace sluice::gitops {

inline constexpr const char* kRequestReconcileAnnotation = "sluice.dev/reconcile";

struct GitRepositoryControllerOptions {
  std::string ns;         // "" = every namespace
  std::string cache_dir;  // bare repositories and exported trees live here
  int workers = 4;        // concurrent reconciles on the loop
  int git_threads = 2;    // libgit2 worker pool
  double jitter = 0.1;    // requeue after interval * [1, 1 + jitter)
  std::string field_manager = "sluice-source";
  const core::Clock* clock = &core::SystemClock::Instance();
};

struct SourceStats {
  uint64_t reconciles = 0;
  uint64_t polls = 0;          // remote listings
  uint64_t fetches = 0;        // polls that downloaded a pack
  uint64_t failures = 0;
  uint64_t status_writes = 0;
  uint64_t published = 0;
  uint64_t received_bytes = 0;
};

class GitRepositoryController final : public kube::runtime::Reconciler {
 public:
  static std::shared_ptr<GitRepositoryController> Create(std::shared_ptr<kube::Client> client,
                                                         std::shared_ptr<kube::EventRecorder> events,
                                                         std::shared_ptr<ArtifactStore> artifacts,
                                                         GitRepositoryControllerOptions options);
  ~GitRepositoryController();

  bool Synced() const { return Ready(); }

  boost::asio::awaitable<void> Reconcile(std::string key) override;
  const SourceStats& stats() const { return stats_; }

 private:
  GitRepositoryController(std::shared_ptr<kube::Client> client, std::shared_ptr<kube::EventRecorder> events,
                          std::shared_ptr<ArtifactStore> artifacts, GitRepositoryControllerOptions options);
  struct Pass;
  struct Outcome;

  boost::asio::awaitable<void> StartWatches() override;
  void StopWatches() override;
  void OnReconcileError(const std::string& key, const std::exception& error, bool will_retry) override;
  std::weak_ptr<GitRepositoryController> WeakSelf();
  void WireHandlers();
  boost::asio::awaitable<Outcome> Fetch(const Pass& pass);
  void Publish(const Pass& pass, const Outcome& outcome);
  // The GitRepository is gone: withdraw its artifact and drop its cache repository.
  void Forget(const std::string& key);
  boost::asio::awaitable<void> WriteStatus(const Pass& pass, const nlohmann::json& status);
  std::chrono::milliseconds Jittered(std::chrono::milliseconds interval);

  std::shared_ptr<kube::Client> client_;
  std::shared_ptr<kube::EventRecorder> events_;
  std::shared_ptr<ArtifactStore> artifacts_;
  GitRepositoryControllerOptions options_;
  kube::ApiResource resource_;
  std::shared_ptr<kube::Informer> repos_;
  std::shared_ptr<kube::Informer> secrets_;
  boost::asio::thread_pool pool_;
  GitClient git_;
  std::map<std::string, std::string> published_;  // key -> artifact path last published
  std::map<std::string, int> failures_;           // key -> consecutive failures (retry backoff)
  std::minstd_rand rng_;
  SourceStats stats_;
};

}  // namespace sluice::gitops
