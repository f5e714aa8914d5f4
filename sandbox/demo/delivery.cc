#include "sandbox/demo/delivery.h"

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "sandbox/demo/process.h"
#include "sandbox/demo/wait.h"

namespace sluice::demo {

namespace fs = std::filesystem;
namespace asio = boost::asio;
using nlohmann::json;

LocalRepo::LocalRepo(std::string dir) : dir_(std::move(dir)) {
  fs::create_directories(dir_);
  Git({"init", "--quiet", "--initial-branch=main"});
  Git({"config", "user.name", "sluice sandbox"});
  Git({"config", "user.email", "sandbox@sluice.invalid"});
  Git({"config", "commit.gpgsign", "false"});
}

std::string LocalRepo::Git(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"git", "-C", dir_};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string output;
  int status = RunCommand(argv, std::chrono::seconds(30), output);
  if (status == 127) throw std::runtime_error("git is not installed (Debian package git)");
  if (status != 0) throw std::runtime_error("git " + args.at(0) + " in " + dir_ + " failed: " + output);
  return output;
}

std::string LocalRepo::Commit(const AppFiles& files, const std::string& message) {
  for (const auto& entry : fs::directory_iterator(dir_))
    if (entry.is_regular_file() && !files.count(entry.path().filename().string())) fs::remove(entry.path());
  for (const auto& [name, text] : files) std::ofstream(fs::path(dir_) / name, std::ios::binary) << text;
  Git({"add", "--all", "."});
  Git({"commit", "--quiet", "--allow-empty", "-m", message});
  std::string rev = Git({"rev-parse", "HEAD"});
  while (!rev.empty() && (rev.back() == '\n' || rev.back() == '\r')) rev.pop_back();
  return rev;
}

namespace {

// Server-side apply of one object; errors name the object.
asio::awaitable<void> ApplyObject(kube::Client& client, json doc, std::string manager) {
  std::string what = doc.value("kind", "?") + " " + doc["metadata"].value("name", "?");
  try {
    std::string api_version = doc.value("apiVersion", "");
    std::string kind = doc.value("kind", "");
    auto resolve = client.Resolve(api_version, kind);
    kube::ApiResource res = co_await std::move(resolve);
    bool force = true;
    std::string subresource;
    auto apply = client.Apply(res, doc, manager, force, subresource);
    co_await std::move(apply);
  } catch (const std::exception& e) {
    throw std::runtime_error(what + ": " + e.what());
  }
}

// Without Sluice's GitOps: each commit is applied as a sync would, by server-side apply of
// every manifest (Namespaces first) with one field manager.
class DirectApply final : public AppDelivery {
 public:
  explicit DirectApply(const DeliveryContext& context) : client_(context.client), repo_(context.repo_dir) {}

  asio::awaitable<std::string> Deliver(AppFiles files, std::string message) override {
    std::string revision = repo_.Commit(files, message);
    std::vector<json> docs = Manifests(files);
    std::string manager = "sluice-sandbox";
    for (json& doc : docs) {
      auto apply = ApplyObject(*client_, doc, manager);
      co_await std::move(apply);
    }
    co_return revision;
  }

  std::string Describe() const override { return "commit to " + repo_.dir() + ", then server-side apply"; }

 private:
  std::shared_ptr<kube::Client> client_;
  LocalRepo repo_;
};

// Sluice's GitOps: a GitRepository follows the local repository (file://, polled every
// second) and a Kustomization applies it; a delivery is done once the sync applied the commit.
class GitOpsDelivery final : public AppDelivery {
 public:
  explicit GitOpsDelivery(const DeliveryContext& context) : context_(context), repo_(context.repo_dir) {}

  asio::awaitable<std::string> Deliver(AppFiles files, std::string message) override {
    std::string commit = repo_.Commit(files, message);
    if (!bootstrapped_) {
      // What a user does once with `kubectl apply -f sync.yaml`.
      std::string manager = "sluice-sandbox";
      std::vector<json> sync = SyncObjects();
      for (json& doc : sync) {
        auto apply = ApplyObject(*context_.client, doc, manager);
        co_await std::move(apply);
      }
      bootstrapped_ = true;
    }
    auto wait = WaitApplied(commit);
    co_return co_await std::move(wait);
  }

  std::string Describe() const override {
    return "commit to " + repo_.dir() + "; GitRepository + Kustomization " + SyncName() + " apply it";
  }
  std::string SyncName() const override { return context_.sync_namespace + "/" + context_.sync_name; }

 private:
  std::vector<json> SyncObjects() const {
    const std::string& ns = context_.sync_namespace;
    const std::string& name = context_.sync_name;
    return {
        {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}},
        {{"apiVersion", "sluice.dev/v1beta1"},
         {"kind", "GitRepository"},
         {"metadata", {{"name", name}, {"namespace", ns}}},
         {"spec", {{"url", "file://" + repo_.dir()}, {"ref", {{"branch", "main"}}}, {"interval", "1s"}, {"timeout", "20s"}}}},
        {{"apiVersion", "sluice.dev/v1beta1"},
         {"kind", "Kustomization"},
         {"metadata", {{"name", name}, {"namespace", ns}}},
         {"spec",
          {{"sourceRef", {{"kind", "GitRepository"}, {"name", name}}},
           {"path", "./"},
           {"prune", true},
           {"interval", "1m"},
           {"timeout", "30s"}}}},
    };
  }

  // The Kustomization's lastAppliedRevision once it names `commit`; throws with the sync's
  // Ready message when it refused the commit or the deadline passed.
  asio::awaitable<std::string> WaitApplied(std::string commit) {
    std::string api_version = "sluice.dev/v1beta1";
    std::string kind = "Kustomization";
    auto resolve = context_.client->Resolve(api_version, kind);
    kube::ApiResource res = co_await std::move(resolve);
    auto end = std::chrono::steady_clock::now() + context_.sync_timeout;
    std::string ready_message, ready_status;
    while (std::chrono::steady_clock::now() < end) {
      json ks;
      try {
        std::string sub;
        auto get = context_.client->Get(res, context_.sync_namespace, context_.sync_name, sub);
        ks = co_await std::move(get);
      } catch (const core::ApiError& e) {
        if (!e.IsNotFound()) throw;
      }
      json status = ks.is_object() ? ks.value("status", json::object()) : json::object();
      std::string applied = status.value("lastAppliedRevision", "");
      if (applied.find(commit) != std::string::npos) co_return applied;
      for (const auto& c : status.value("conditions", json::array())) {
        if (c.value("type", "") != "Ready") continue;
        ready_message = c.value("message", "");
        ready_status = c.value("status", "");
      }
      // A bad revision: attempted, Ready=False, and the last good one stays applied.
      bool refused = status.value("lastAttemptedRevision", "").find(commit) != std::string::npos && ready_status == "False";
      if (refused)
        throw std::runtime_error("Kustomization " + SyncName() + " did not apply " + commit.substr(0, 12) + ": " +
                                 ready_message);
      co_await Sleep(std::chrono::milliseconds(250));
    }
    throw std::runtime_error("Kustomization " + SyncName() + " did not apply " + commit.substr(0, 12) + " within " +
                             std::to_string(context_.sync_timeout.count()) + "s" +
                             (ready_message.empty() ? "" : ": " + ready_message));
  }

  DeliveryContext context_;
  LocalRepo repo_;
  bool bootstrapped_ = false;
};

}  // namespace

std::shared_ptr<AppDelivery> MakeAppDelivery(const DeliveryContext& context) {
  if (context.gitops) return std::make_shared<GitOpsDelivery>(context);
  return std::make_shared<DirectApply>(context);
}

}  // namespace sluice::demo
