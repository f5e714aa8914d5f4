// How a new app version reaches the sandbox's cluster. Each version is committed to a local
// Git repository (what a user would push). With Sluice's GitOps (the GitRepository and
// Kustomization CRDs are loaded), a GitRepository follows that repository and a
// Kustomization applies it, and delivery waits until the sync applied the commit; without
// them, the sandbox applies each commit itself by server-side apply. MakeAppDelivery is the
// one place that chooses.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "sandbox/demo/app.h"
#include "kube/client.h"

namespace sluice::demo {

// A Git repository in a local folder, committed to with the `git` program.
class LocalRepo {
 public:
  // `git init` in dir (created when missing). Throws std::runtime_error with git's words.
  explicit LocalRepo(std::string dir);
  // Writes the files (and removes tracked files not among them), commits, returns the revision.
  std::string Commit(const AppFiles& files, const std::string& message);
  const std::string& dir() const { return dir_; }

 private:
  std::string Git(const std::vector<std::string>& args);
  std::string dir_;
};

class AppDelivery {
 public:
  virtual ~AppDelivery() = default;
  // Commits the files and gets them into the cluster; returns the Git revision. Throws
  // std::runtime_error naming the file and object the cluster refused.
  virtual boost::asio::awaitable<std::string> Deliver(AppFiles files, std::string message) = 0;
  // How it delivers, for the terminal ("server-side apply", "GitOps").
  virtual std::string Describe() const = 0;
  // The sync the revisions go through ("namespace/name"), "" when the sandbox applies itself.
  virtual std::string SyncName() const { return ""; }
};

struct DeliveryContext {
  std::shared_ptr<kube::Client> client;
  std::string repo_dir;
  bool gitops = false;  // the cluster serves GitRepository and Kustomization
  std::string sync_namespace = "sluice-system";  // where the GitRepository and Kustomization live
  std::string sync_name = "podinfo";
  std::chrono::seconds sync_timeout{60};  // from commit to applied
};

std::shared_ptr<AppDelivery> MakeAppDelivery(const DeliveryContext& context);

}  // namespace sluice::demo
