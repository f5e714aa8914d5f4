// Real Git repositories for GitOps tests, made with the `git` binary in temp dirs, and the
// servers that make them remote: `git daemon` (git://) and `git http-backend` behind a small
// CGI-calling HTTP server with optional basic auth (http://). Everything binds to loopback
// on a free port and stops with its owner.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include <thread>

#include "controller/gitops/artifact_store.h"
#include "controller/gitops/git_repository_controller.h"
#include "controller/gitops/receiver.h"
#include "tests/support/ports.h"
#include "tests/support/process.h"

namespace sluice::net {
class HttpServer;
}
namespace sluice::sandbox {
class Emulator;
}

namespace sluice::testing {

// A non-bare repository with a work tree; branch "main" from the first commit.
class GitRepo {
 public:
  // In a fresh temp dir of its own.
  GitRepo();
  // In `dir` (created if missing, kept afterwards): for repositories a server exports from
  // a base directory the test owns.
  explicit GitRepo(const std::string& dir);
  const std::string& path() const { return path_; }
  std::string FileUrl() const { return "file://" + path(); }

  // Writes (creates or replaces) files relative to the work tree, commits them all and
  // returns the new commit's 40-hex hash. An empty map makes an empty commit.
  std::string Commit(const std::map<std::string, std::string>& files, const std::string& message = "change");
  // Removes files, commits, returns the hash.
  std::string Remove(const std::vector<std::string>& files, const std::string& message = "remove");
  // A lightweight tag, or an annotated one (a tag object) when `annotated`.
  void Tag(const std::string& name, bool annotated = false);
  void Branch(const std::string& name);    // creates a branch at HEAD (stays on the current one)
  void Checkout(const std::string& name);  // switches branch
  std::string Head() const;
  // Runs git in the repository; FAILs the test on a non-zero exit.
  std::string Git(const std::vector<std::string>& args) const;

 private:
  std::unique_ptr<TempDir> owned_;
  std::string path_;
};

// `git daemon` exporting every repository under base_dir: git://127.0.0.1:<port>/<relative path>.
class GitDaemon {
 public:
  explicit GitDaemon(const std::string& base_dir);
  ~GitDaemon();
  std::string UrlFor(const std::string& repo_path) const;  // repo_path must be under base_dir
  uint16_t port() const { return port_; }

 private:
  std::string base_dir_;
  uint16_t port_ = 0;
  std::unique_ptr<BackgroundProcess> process_;
};

// Smart HTTP through /usr/lib/git-core/git-http-backend. Serves repositories under
// base_dir at http://127.0.0.1:<port>/<relative path>; with credentials set, every request
// needs that basic auth (else 401 with a Basic challenge).
class GitHttpServer {
 public:
  struct Counters {
    std::atomic<int> ref_advertisements{0};  // GET .../info/refs?service=git-upload-pack
    std::atomic<int> upload_packs{0};        // POST .../git-upload-pack: an actual fetch
    std::atomic<int> unauthorized{0};
  };

  explicit GitHttpServer(const std::string& base_dir, std::string username = "", std::string password = "");
  ~GitHttpServer();
  std::string UrlFor(const std::string& repo_path) const;
  uint16_t port() const;
  Counters& counters() { return counters_; }
  // From now on accept `Authorization: Bearer <token>` instead of basic auth.
  void RequireBearer(const std::string& token);

 private:
  std::string base_dir_;
  std::string username_, password_;
  std::mutex mu_;  // bearer_ is read on the server thread
  std::string bearer_;
  Counters counters_;
  std::unique_ptr<net::HttpServer> server_;
};

// A TCP listener that accepts connections and never answers: a remote that hangs.
class SilentServer {
 public:
  SilentServer();
  ~SilentServer();
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

bool GitHttpBackendAvailable();

// A private sshd on a loopback port (key auth only, for the current user) with its own host
// key, and a client key it accepts. Available() is false when no sshd is installed.
class SshServer {
 public:
  static bool Available();
  SshServer();
  ~SshServer();
  uint16_t port() const { return port_; }
  std::string UrlFor(const std::string& repo_path) const;  // ssh://user@127.0.0.1:port/path
  std::string ClientKey() const;        // private key the server accepts
  std::string OtherKey() const;         // a private key it does not accept
  std::string KnownHostsLine() const;   // "[127.0.0.1]:port <type> <key>"

 private:
  TempDir dir_;
  uint16_t port_ = 0;
  std::string user_;
  std::unique_ptr<BackgroundProcess> process_;
};

// The source side in one process: the API emulator with Sluice's CRDs, the GitRepository
// and Receiver controllers on one event loop (cache in a temp dir), the receiver routed on a
// loopback HTTP port, and the real kubectl for what users do.
class SourceCluster {
 public:
  SourceCluster();
  ~SourceCluster();

  // kubectl with this cluster's kubeconfig; FAILs the test on a non-zero exit.
  std::string Kubectl(const std::vector<std::string>& args, const std::string& input = "");
  ProcessResult TryKubectl(const std::vector<std::string>& args, const std::string& input = "");
  // `kubectl get <object> -o jsonpath=<path>`, "" on error.
  std::string Get(const std::string& object, const std::string& jsonpath);
  bool WaitFor(const std::string& object, const std::string& jsonpath, const std::string& value,
               std::chrono::milliseconds deadline);
  gitops::SourceStats Stats();  // read on the loop
  gitops::ArtifactStore& artifacts() { return *artifacts_; }
  gitops::ReceiverController& receiver() { return *receiver_; }
  std::string ReceiverUrl() const;  // http://127.0.0.1:<port>
  const std::string& cache_dir() const { return cache_.path(); }

 private:
  TempDir dir_;
  TempDir cache_;
  std::unique_ptr<sandbox::Emulator> emulator_;
  boost::asio::io_context io_;
  std::shared_ptr<gitops::ArtifactStore> artifacts_;
  std::shared_ptr<gitops::GitRepositoryController> sources_;
  std::shared_ptr<gitops::ReceiverController> receiver_;
  std::unique_ptr<net::HttpServer> hooks_;
  std::thread thread_;
};

}  // namespace sluice::testing
