// Runs a controller process: the runnables (reconcilers, receivers), leader election, and
// the operations port (/metrics from the one registry, /healthz, /readyz, extra routes),
// until SIGINT/SIGTERM or the loss of the lease. `sluice controller` is a composition of
// runnables on a Manager.
//
// Start: before any runnable starts, the API must answer discovery for the kinds the
// runnables name. An API that cannot be reached (refused, timed out, 5xx, 429) is retried
// with backoff up to `startup_timeout`, then the process exits 1 saying so; a kind that
// discovery answered without (its CRD is not applied) stops the process at once when the
// runnable is required, and only that runnable otherwise.
//
// Readiness: not ready before that check passes; then a follower is ready (it serves and
// stands by to take the lease); the leader is ready once every leader-only runnable that
// runs has synced its caches.
#pragma once

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kube/client.h"
#include "kube/leader_election.h"
#include "kube/runtime/runnable.h"
#include "net/http_server.h"

namespace prometheus {
class Registry;
template <typename T>
class Family;
class Gauge;
}  // namespace prometheus

namespace sluice::kube::runtime {

struct ManagerOptions {
  std::string listen = "127.0.0.1:8080";  // the operations port; port 0 picks a free one
  bool leader_elect = true;
  // Lease name, namespace, identity and timing; the Manager sets the callbacks.
  LeaderElectionConfig lease;
  // After SIGINT/SIGTERM: time for the lease release before the process leaves.
  std::chrono::milliseconds shutdown_grace{2000};
  // How long an unreachable API is waited for at start before the process gives up.
  std::chrono::milliseconds startup_timeout{60000};
  // Answers the start-up discovery probes. Best without retries of its own (max_retries 0)
  // and with a short request timeout, so every failure is seen, logged and backed off here
  // within the deadline. Null: the Manager's client.
  std::shared_ptr<Client> probe_client;
};

// A kind a runnable cannot run without.
struct RequiredKind {
  std::string api_version;  // "sluice.dev/v1beta1"
  std::string kind;         // "Canary"
};

struct RunnableOptions {
  // Runs only while this replica leads (everything that writes). Otherwise on every replica.
  bool leader_only = true;
  // When it cannot run at all, the process stops (without it the controller is useless);
  // otherwise the failure is logged with `hint` and the rest runs on.
  bool required = false;
  std::string hint;  // e.g. "is crds/sluice.dev_kustomizations.yaml applied?"
  // Checked through discovery before anything starts (see the top of this file).
  std::vector<RequiredKind> kinds;
};

class Manager {
 public:
  Manager(boost::asio::io_context& io, std::shared_ptr<Client> client, ManagerOptions options);
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // The one registry /metrics serves; register families here.
  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

  void Add(std::shared_ptr<Runnable> runnable, RunnableOptions options = {});
  // Requests whose path starts with `prefix` go to `handler` (the receivers' /hook/).
  void AddRoute(std::string prefix, net::HttpServer::Handler handler);

  // Serves the ops port, waits for the API, elects a leader (or leads at once), runs until a
  // signal or the loss of the lease. Returns the process exit code: 0 after a signal; 1 when
  // the ops port, the start-up check or a required runnable failed, or the lease was lost.
  int Run();

  bool Ready() const;
  bool Leading() const { return leading_; }

 private:
  struct Entry {
    std::shared_ptr<Runnable> runnable;
    RunnableOptions options;
    // Set when it stopped with an error: an optional runnable that cannot run (its CRD is not
    // installed) no longer holds /readyz back; the log says why it stopped.
    std::shared_ptr<std::atomic<bool>> failed = std::make_shared<std::atomic<bool>>(false);
  };
  void Start(const Entry& entry);
  void StartRunnables();
  void StartLeading();
  void StopAll();
  void Fail(const std::string& message);
  boost::asio::awaitable<void> WaitForApi();
  // One pass over every runnable's kinds: "" when all answered (not served ones marked),
  // else why the API could not be asked. Throws StartupError when retrying cannot help.
  boost::asio::awaitable<std::string> CheckKinds();
  net::HttpResponse Serve(const net::HttpRequest& request) const;

  boost::asio::io_context& io_;
  std::shared_ptr<Client> client_;
  ManagerOptions options_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Gauge* leader_gauge_ = nullptr;
  std::vector<Entry> entries_;
  std::vector<std::pair<std::string, net::HttpServer::Handler>> routes_;
  std::unique_ptr<net::HttpServer> ops_;
  std::shared_ptr<LeaderElector> elector_;
  std::atomic<bool> leading_{false};  // read by /readyz on the ops server's thread
  std::atomic<bool> started_{false};  // the start-up check passed; read by /readyz too
  std::string last_api_error_;        // why the API could not be reached, for the give-up message
  int exit_code_ = 0;
};

}  // namespace sluice::kube::runtime
