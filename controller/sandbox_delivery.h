// How a new app version reaches the sandbox's cluster. Each version is committed to a local
// Git repository (what a user would push); the manifests then reach the cluster by
// server-side apply. When Sluice's own GitOps (GitRepository + sync) is available, the
// switch is MakeAppDelivery alone: the commit stays, the apply becomes the sync's job.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>

#include "controller/sandbox_app.h"
#include "kube/client.h"

namespace sluice::sandboxrun {

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
};

struct DeliveryContext {
  std::shared_ptr<kube::Client> client;
  std::string repo_dir;
};

std::shared_ptr<AppDelivery> MakeAppDelivery(const DeliveryContext& context);

}  // namespace sluice::sandboxrun
