// An in-process cluster for sync tests: the API emulator, the Kustomization controller (and,
// when asked, the canary engine) on one event loop, a synchronous client for the test's own
// reads and writes, and Git repositories whose commits the test publishes as artifacts the
// way the GitRepository reconciler does.
#pragma once

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "controller/canary/canary_controller.h"
#include "controller/gitops/artifact_store.h"
#include "controller/gitops/git_repository_controller.h"
#include "controller/gitops/kustomization_controller.h"
#include "kube/client.h"
#include "sandbox/emulator/emulator.h"
#include "tests/support/process.h"

namespace sluice::testing {

// Requests one client sent, by verb (watch streams counted when opened).
struct RequestCounts {
  std::atomic<uint64_t> gets{0}, lists{0}, watches{0}, creates{0}, updates{0}, patches{0}, deletes{0}, discovery{0};
  uint64_t NonWatch() const { return gets + lists + creates + updates + patches + deletes; }
  uint64_t Writes() const { return creates + updates + patches + deletes; }
};

// Forwards every call to `inner`, counting it.
std::shared_ptr<kube::Client> MakeCountingClient(std::shared_ptr<kube::Client> inner, std::shared_ptr<RequestCounts> counts);

// A Git repository whose revisions are exported to directories, as checked-out artifacts.
class SyncRepo {
 public:
  SyncRepo();
  // Writes the files, deletes `removed`, commits; returns the commit hash.
  std::string Commit(const std::map<std::string, std::string>& files, const std::vector<std::string>& removed = {});
  // The tree of `commit` in a directory of its own (kept until the repo goes).
  std::string Export(const std::string& commit);
  std::string Git(const std::vector<std::string>& args);
  const std::string& path() const { return work_; }

 private:
  TempDir dir_;
  std::string work_;
  int exports_ = 0;
};

struct SyncClusterOptions {
  bool canary_engine = false;
  bool git_sources = false;  // run the GitRepository reconciler too (else the test publishes)
  std::chrono::milliseconds ready_delay{300};
  std::string kustomize_path;
  double qps = 50;  // the controller client's rate limit (the default of --kube-api-qps)
  int burst = 100;
};

class SyncCluster {
 public:
  explicit SyncCluster(SyncClusterOptions options = {});
  ~SyncCluster();

  sandbox::Emulator& emulator() { return emulator_; }
  gitops::ArtifactStore& artifacts() { return *artifacts_; }
  const RequestCounts& sync_requests() const { return *counts_; }
  gitops::SyncStats Stats();  // read on the controller's loop

  // Publishes `commit` of `repo` as the artifact of GitRepository default/<source> (or of
  // <source> when it reads "namespace/name").
  std::string Publish(SyncRepo& repo, const std::string& commit, const std::string& source = "repo");

  // The test's own client (manager "test").
  nlohmann::json Get(const std::string& api_version, const std::string& kind, const std::string& ns,
                     const std::string& name);  // null when not found
  void Apply(const std::string& yaml);  // server-side apply of every document
  void MergePatch(const std::string& api_version, const std::string& kind, const std::string& ns,
                  const std::string& name, const nlohmann::json& patch);
  void Delete(const std::string& api_version, const std::string& kind, const std::string& ns, const std::string& name);

  // A Kustomization default/<name> following GitRepository default/<source>; `extra` is YAML
  // indented under spec:.
  void ApplyKustomization(const std::string& name, const std::string& path, const std::string& extra = "",
                          const std::string& source = "repo");
  nlohmann::json Kustomization(const std::string& name, const std::string& ns = "default") {
    return Get("sluice.dev/v1beta1", "Kustomization", ns, name);
  }
  // The Events about Kustomization <ns>/<name>, those `kubectl describe` lists.
  std::vector<nlohmann::json> Events(const std::string& name, const std::string& ns = "default");
  std::string ReadyStatus(const std::string& name);
  std::string ReadyMessage(const std::string& name);
  // Waits until Ready=True with lastAppliedRevision == revision; FAILs with the status.
  void WaitApplied(const std::string& name, const std::string& revision, std::chrono::seconds deadline = std::chrono::seconds(20));
  // Waits until Ready=False with a message containing `text`; FAILs with the status.
  void WaitFailed(const std::string& name, const std::string& text, std::chrono::seconds deadline = std::chrono::seconds(20));

 private:
  template <class T>
  T Call(boost::asio::awaitable<T> op);
  kube::ApiResource Resolve(const std::string& api_version, const std::string& kind);

  TempDir dir_;
  sandbox::Emulator emulator_;
  boost::asio::io_context io_;  // the controllers
  boost::asio::io_context test_io_;  // the test's client
  std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> test_work_;
  std::shared_ptr<kube::Client> test_client_;
  std::shared_ptr<RequestCounts> counts_;
  std::shared_ptr<gitops::ArtifactStore> artifacts_;
  std::shared_ptr<gitops::KustomizationController> syncs_;
  std::shared_ptr<canary::CanaryController> canaries_;
  std::shared_ptr<gitops::GitRepositoryController> sources_;
  std::thread thread_;
  std::thread test_thread_;
};

}  // namespace sluice::testing
