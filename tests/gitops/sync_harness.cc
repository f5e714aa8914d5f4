#include "tests/gitops/sync_harness.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>
#include <future>

#include "analysis/runner.h"
#include "kube/config.h"
#include "kube/event_recorder.h"
#include "core/yaml_json.h"

namespace sluice::testing {

namespace asio = boost::asio;
using json = nlohmann::json;

namespace {

class CountingClient final : public kube::Client {
 public:
  CountingClient(std::shared_ptr<kube::Client> inner, std::shared_ptr<RequestCounts> counts)
      : inner_(std::move(inner)), counts_(std::move(counts)) {}

  asio::awaitable<kube::ApiResource> Resolve(std::string api_version, std::string kind) override {
    auto op = inner_->Resolve(api_version, kind);
    co_return co_await std::move(op);
  }
  asio::awaitable<json> Get(const kube::ApiResource& res, std::string ns, std::string name, std::string sub) override {
    counts_->gets++;
    auto op = inner_->Get(res, ns, name, sub);
    co_return co_await std::move(op);
  }
  asio::awaitable<json> List(const kube::ApiResource& res, std::string ns, kube::ListOptions o) override {
    counts_->lists++;
    auto op = inner_->List(res, ns, o);
    co_return co_await std::move(op);
  }
  asio::awaitable<json> ListAll(const kube::ApiResource& res, std::string ns, kube::ListOptions o) override {
    counts_->lists++;
    auto op = inner_->ListAll(res, ns, o);
    co_return co_await std::move(op);
  }
  asio::awaitable<json> Create(const kube::ApiResource& res, std::string ns, json object, kube::WriteOptions o) override {
    counts_->creates++;
    auto op = inner_->Create(res, ns, object, o);
    co_return co_await std::move(op);
  }
  asio::awaitable<json> Update(const kube::ApiResource& res, json object, kube::WriteOptions o, std::string sub) override {
    counts_->updates++;
    auto op = inner_->Update(res, object, o, sub);
    co_return co_await std::move(op);
  }
  asio::awaitable<json> Patch(const kube::ApiResource& res, std::string ns, std::string name, kube::PatchType type,
                              json patch, kube::PatchOptions o) override {
    counts_->patches++;
    auto op = inner_->Patch(res, ns, name, type, patch, o);
    co_return co_await std::move(op);
  }
  asio::awaitable<json> Apply(const kube::ApiResource& res, json object, std::string manager, bool force,
                              std::string sub) override {
    counts_->patches++;
    auto op = inner_->Apply(res, object, manager, force, sub);
    co_return co_await std::move(op);
  }
  asio::awaitable<json> Delete(const kube::ApiResource& res, std::string ns, std::string name,
                               kube::DeleteOptions o) override {
    counts_->deletes++;
    auto op = inner_->Delete(res, ns, name, o);
    co_return co_await std::move(op);
  }
  asio::awaitable<std::unique_ptr<kube::WatchStream>> Watch(const kube::ApiResource& res, std::string ns,
                                                            kube::ListOptions o) override {
    counts_->watches++;
    auto op = inner_->Watch(res, ns, o);
    co_return co_await std::move(op);
  }
  asio::awaitable<json> GetPath(std::string path) override {
    counts_->discovery++;
    auto op = inner_->GetPath(path);
    co_return co_await std::move(op);
  }
  asio::any_io_executor executor() const override { return inner_->executor(); }
  const std::string& default_namespace() const override { return inner_->default_namespace(); }

 private:
  std::shared_ptr<kube::Client> inner_;
  std::shared_ptr<RequestCounts> counts_;
};

const json* FindCondition(const json& obj, const std::string& type) {
  if (!obj.is_object() || !obj.contains("status") || !obj["status"].contains("conditions")) return nullptr;
  for (const auto& c : obj["status"]["conditions"])
    if (c.value("type", "") == type) return &c;
  return nullptr;
}

}  // namespace

std::shared_ptr<kube::Client> MakeCountingClient(std::shared_ptr<kube::Client> inner, std::shared_ptr<RequestCounts> counts) {
  return std::make_shared<CountingClient>(std::move(inner), std::move(counts));
}

// --- SyncRepo ------------------------------------------------------------------------------

SyncRepo::SyncRepo() : work_(dir_.File("work")) {
  std::filesystem::create_directories(work_);
  Git({"init", "-q", "-b", "main"});
}

std::string SyncRepo::Git(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"git", "-C", work_, "-c", "user.name=Sluice Test", "-c", "user.email=test@sluice.dev",
                                   "-c", "commit.gpgsign=false"};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessResult r = Run(argv, {}, std::chrono::seconds(30));
  if (r.exit_code != 0) FAIL("git failed: " << r.Describe());
  while (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
  return r.out;
}

std::string SyncRepo::Commit(const std::map<std::string, std::string>& files, const std::vector<std::string>& removed) {
  for (const auto& [rel, text] : files) {
    std::filesystem::path p = std::filesystem::path(work_) / rel;
    std::filesystem::create_directories(p.parent_path());
    dir_.Write("work/" + rel, text);
  }
  for (const auto& rel : removed) Git({"rm", "-q", "-r", rel});
  Git({"add", "-A"});
  Git({"commit", "-q", "--allow-empty", "-m", "change"});
  return Git({"rev-parse", "HEAD"});
}

std::string SyncRepo::Export(const std::string& commit) {
  std::string out = dir_.File("export-" + std::to_string(++exports_));
  std::filesystem::create_directories(out);
  ProcessResult r = Run({"sh", "-c", "git -C \"$0\" archive \"$1\" | tar -x -C \"$2\"", work_, commit, out}, {},
                        std::chrono::seconds(30));
  if (r.exit_code != 0) FAIL("git archive failed: " << r.Describe());
  return out;
}

// --- SyncCluster ---------------------------------------------------------------------------

namespace {
sandbox::EmulatorOptions EmulatorOpts(std::chrono::milliseconds ready_delay) {
  sandbox::EmulatorOptions o;
  o.deployment_ready_delay = ready_delay;
  return o;
}
}  // namespace

SyncCluster::SyncCluster(SyncClusterOptions options) : emulator_(EmulatorOpts(options.ready_delay)) {
  if (std::getenv("SLUICE_TEST_DEBUG")) spdlog::set_level(spdlog::level::debug);
  emulator_.Start();
  for (const auto& entry : std::filesystem::directory_iterator(std::string(SLUICE_SOURCE_DIR) + "/crds"))
    if (entry.path().extension() == ".yaml") emulator_.LoadCrdsYaml(ReadFile(entry.path()));
  auto config = kube::ParseKubeconfig(emulator_.KubeconfigYaml());

  test_work_ = std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(test_io_.get_executor());
  test_client_ = kube::MakeHttpClient(test_io_.get_executor(), config);
  test_thread_ = std::thread([this] { test_io_.run(); });

  counts_ = std::make_shared<RequestCounts>();
  artifacts_ = std::make_shared<gitops::ArtifactStore>();
  kube::ClientOptions client_options;
  client_options.qps = options.qps;
  client_options.burst = options.burst;
  auto raw = kube::MakeHttpClient(io_.get_executor(), config, client_options);
  auto client = MakeCountingClient(raw, counts_);
  auto events = kube::EventRecorder::Create(raw);
  gitops::KustomizationControllerOptions ko;
  ko.dependency_requeue = std::chrono::milliseconds(500);
  ko.health_poll = std::chrono::milliseconds(200);
  ko.kustomize_path = options.kustomize_path;
  syncs_ = gitops::KustomizationController::Create(client, events, artifacts_, ko);
  asio::co_spawn(io_, syncs_->Run(), asio::detached);
  if (options.git_sources) {
    gitops::GitRepositoryControllerOptions so;
    so.cache_dir = dir_.File("git-cache");
    sources_ = gitops::GitRepositoryController::Create(raw, events, artifacts_, so);
    asio::co_spawn(io_, sources_->Run(), asio::detached);
  }
  if (options.canary_engine) {
    canaries_ = canary::CanaryController::Create(raw, events, analysis::MakeNoAnalysis());
    asio::co_spawn(io_, canaries_->Run(), asio::detached);
  }
  thread_ = std::thread([this] { io_.run(); });
  if (!WaitFor([this] { return syncs_->Synced(); }, std::chrono::seconds(10)))
    FAIL("the kustomization controller did not sync its caches");
}

SyncCluster::~SyncCluster() {
  asio::post(io_, [this] {
    syncs_->Stop();
    if (canaries_) canaries_->Stop();
    if (sources_) sources_->Stop();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  io_.stop();
  thread_.join();
  test_work_.reset();
  test_io_.stop();
  test_thread_.join();
  emulator_.Stop();
}

gitops::SyncStats SyncCluster::Stats() {
  std::promise<gitops::SyncStats> p;
  auto f = p.get_future();
  asio::post(io_, [&] { p.set_value(syncs_->stats()); });
  return f.get();
}

template <class T>
T SyncCluster::Call(asio::awaitable<T> op) {
  return asio::co_spawn(test_io_, std::move(op), asio::use_future).get();
}

kube::ApiResource SyncCluster::Resolve(const std::string& api_version, const std::string& kind) {
  return Call(test_client_->Resolve(api_version, kind));
}

std::string SyncCluster::Publish(SyncRepo& repo, const std::string& commit, const std::string& source) {
  gitops::Artifact a;
  a.revision = "main@sha1:" + commit;
  a.path = repo.Export(commit);
  a.fetched = std::chrono::system_clock::now();
  artifacts_->Publish(source.find('/') == std::string::npos ? "default/" + source : source, a);
  return a.revision;
}

json SyncCluster::Get(const std::string& api_version, const std::string& kind, const std::string& ns,
                      const std::string& name) {
  auto res = Resolve(api_version, kind);
  try {
    return Call(test_client_->Get(res, ns, name));
  } catch (const core::ApiError& e) {
    if (e.IsNotFound()) return nullptr;
    throw;
  }
}

void SyncCluster::Apply(const std::string& yaml) {
  for (const auto& doc : core::ParseYamlDocuments(yaml)) {
    auto res = Resolve(doc["apiVersion"], doc["kind"]);
    Call(test_client_->Apply(res, doc, "test", true));
  }
}

void SyncCluster::MergePatch(const std::string& api_version, const std::string& kind, const std::string& ns,
                             const std::string& name, const json& patch) {
  auto res = Resolve(api_version, kind);
  kube::PatchOptions po;
  po.field_manager = "test";
  Call(test_client_->Patch(res, ns, name, kube::PatchType::kMerge, patch, po));
}

void SyncCluster::Delete(const std::string& api_version, const std::string& kind, const std::string& ns,
                         const std::string& name) {
  auto res = Resolve(api_version, kind);
  Call(test_client_->Delete(res, ns, name));
}

void SyncCluster::ApplyKustomization(const std::string& name, const std::string& path, const std::string& extra,
                                     const std::string& source) {
  Apply("apiVersion: sluice.dev/v1beta1\nkind: Kustomization\nmetadata:\n  name: " + name +
        "\n  namespace: default\nspec:\n  sourceRef:\n    kind: GitRepository\n    name: " + source + "\n  path: " + path +
        "\n" + (extra.find("interval:") == std::string::npos ? "  interval: 1m\n" : "") + extra);
}

std::string SyncCluster::ReadyStatus(const std::string& name) {
  const json k = Kustomization(name);
  const json* c = FindCondition(k, "Ready");
  return c ? c->value("status", "") : "";
}

std::vector<json> SyncCluster::Events(const std::string& name, const std::string& ns) {
  auto res = Resolve("v1", "Event");
  kube::ListOptions options;
  options.field_selector = "involvedObject.kind=Kustomization,involvedObject.name=" + name;
  json list = Call(test_client_->ListAll(res, ns, options));
  std::vector<json> out;
  for (const auto& e : list.value("items", json::array()))
    if (e["involvedObject"].value("name", "") == name && e["involvedObject"].value("kind", "") == "Kustomization")
      out.push_back(e);
  return out;
}

std::string SyncCluster::ReadyMessage(const std::string& name) {
  const json k = Kustomization(name);
  const json* c = FindCondition(k, "Ready");
  return c ? c->value("message", "") : "";
}

void SyncCluster::WaitApplied(const std::string& name, const std::string& revision, std::chrono::seconds deadline) {
  bool ok = WaitFor(
      [&] {
        json k = Kustomization(name);
        return ReadyStatus(name) == "True" && k.value("status", json::object()).value("lastAppliedRevision", "") == revision;
      },
      deadline);
  if (!ok) FAIL("Kustomization " << name << " did not apply " << revision << "; status:\n" << Kustomization(name)["status"].dump(2));
}

void SyncCluster::WaitFailed(const std::string& name, const std::string& text, std::chrono::seconds deadline) {
  bool ok = WaitFor([&] { return ReadyStatus(name) == "False" && ReadyMessage(name).find(text) != std::string::npos; },
                    deadline);
  if (!ok) FAIL("Kustomization " << name << " did not fail with \"" << text << "\"; status:\n" << Kustomization(name)["status"].dump(2));
}

}  // namespace sluice::testing
