// The traffic simulator at work in `sluice sandbox`: every quarter second it reads the Canary,
// its routing object, the apex Service and both Deployments through the API, routes the
// virtual requests of the elapsed time by what it read, and serves the data plane's series
// on /metrics for Prometheus.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "kube/client.h"
#include "net/http_server.h"
#include "sandbox/sim/traffic_simulator.h"

namespace sluice::demo {

struct TrafficServiceOptions {
  std::string ns;
  std::string canary;  // the Canary whose app receives the traffic
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  double requests_per_second = 100;
  double load_tester_share = 0.1;
};

class TrafficService {
 public:
  TrafficService(std::shared_ptr<kube::Client> client, TrafficServiceOptions options);
  ~TrafficService();
  // Serves /metrics; throws std::runtime_error when the port cannot be bound.
  void Start();
  uint16_t port() const;
  // Runs on the client's executor until Stop(). `on_problem` hears each new error once
  // (an unreadable object, a bad annotation), so the terminal can show it.
  boost::asio::awaitable<void> Run(std::function<void(const std::string&)> on_problem);
  void Stop();
  // Until Sluice's GitOps exports it, the sandbox is what applies the app's revisions, so
  // /metrics also carries sluice_sync_revision_info{namespace, name, revision} 1 for the
  // last one applied (docs/sandbox.md).
  void SetSyncRevision(const std::string& ns, const std::string& name, const std::string& revision);

 private:
  boost::asio::awaitable<sandbox::ClusterView> Read();

  std::shared_ptr<kube::Client> client_;
  TrafficServiceOptions options_;
  std::shared_ptr<sandbox::TrafficSimulator> simulator_;
  std::unique_ptr<net::HttpServer> server_;
  struct Revision;
  std::shared_ptr<Revision> revision_;
  std::atomic<bool> stopped_{false};
};

}  // namespace sluice::demo
