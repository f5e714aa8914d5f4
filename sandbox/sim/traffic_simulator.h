// The sandbox's data plane, simulated: a steady request rate to the example app, split by
// the weights of the routing object the controller wrote, each request's status and latency
// drawn from the behaviour the serving version declares in its pod template annotations, and
// the counters and histograms a real data plane of that provider exports, so the builtin
// metrics and the metric templates run unchanged against it (names and labels:
// docs/sandbox.md, "Traffic simulator").
//
// Requests are virtual: Advance() simulates a time span's worth of them without sockets.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace sluice::sandbox {

// Pod template annotations the example app's versions use to declare their behaviour.
inline constexpr char kErrorRateAnnotation[] = "sandbox.sluice.dev/error-rate";
inline constexpr char kLatencyAnnotation[] = "sandbox.sluice.dev/latency-ms";

// How one version of the app answers: a share of 5xx and a log-normal latency fitted to its
// median and 99th percentile.
struct VersionProfile {
  double error_rate = 0.0;  // 0..1
  double p50_ms = 20.0;
  double p99_ms = 80.0;
  bool operator==(const VersionProfile&) const = default;
};

// From a pod template's metadata.annotations (absent annotations keep the defaults above).
// Throws std::invalid_argument naming the annotation and what is expected, e.g.
// `annotation sandbox.sluice.dev/latency-ms: "p50=x": expected p50=<ms>,p99=<ms>`.
VersionProfile ParseVersionProfile(const nlohmann::json& annotations);

// One destination of the traffic at an instant.
struct Backend {
  std::string variant;  // "primary" or "canary"
  std::string workload;  // the Deployment serving it
  std::vector<std::string> pods;  // its pods' names (the kubernetes provider labels by pod)
  double weight = 0;  // relative share of the requests
  VersionProfile profile;
};

// Where requests go: the app, as the provider names it, and its backends.
struct TrafficTopology {
  std::string provider;  // gatewayapi | istio | nginx | kubernetes
  std::string ns;
  std::string service;  // the apex Service (Canary spec.service.name or the target)
  int port = 0;
  std::vector<Backend> backends;
};

// What the cluster shows, as read from the API: the Canary, its routing object (HTTPRoute
// or VirtualService; null when not written yet), the apex Service, and the Deployments by name.
struct ClusterView {
  nlohmann::json canary;
  nlohmann::json route;
  nlohmann::json apex_service;
  std::map<std::string, nlohmann::json> deployments;
};

// The routing object a provider's data plane follows (none for kubernetes: the apex Service).
struct RouteRef {
  std::string api_version;
  std::string kind;
  std::string name;
};
// Throws std::invalid_argument for a provider the simulator does not know.
std::optional<RouteRef> RouteObjectFor(const std::string& provider, const std::string& service);

// The topology a real data plane would route by. A canary with ready pods but no weight
// while the Canary is Progressing (blue/green, A/B, or before the first step) gets
// `load_tester_share` of the requests, as the load tester users run beside a rollout would
// send. Throws std::invalid_argument naming the object and field when they cannot be read
// (an unknown provider, a pod template annotation that does not parse).
TrafficTopology TopologyFromCluster(const ClusterView& view, double load_tester_share);

// Pod names a Deployment would have: <name>-<pod-template-hash>-<5 chars>, one per ready
// replica, stable for a given pod template.
std::vector<std::string> SimulatedPods(const nlohmann::json& deployment);

struct TrafficOptions {
  double requests_per_second = 100;
  uint64_t seed = 0;  // 0: seeded from the clock
};

class TrafficSimulator {
 public:
  explicit TrafficSimulator(TrafficOptions options = {});

  void SetTopology(TrafficTopology topology);
  // Simulates the requests of `elapsed` at the configured rate (the fraction left over is
  // carried to the next call, so the long-run rate is exact).
  void Advance(std::chrono::milliseconds elapsed);
  // Simulates exactly `count` requests.
  void Send(uint64_t count);

  // The provider's series in the Prometheus text exposition format (version 0.0.4).
  std::string Serialize() const;

  static constexpr size_t kMaxKeptLatencies = 100000;
  struct Tally {
    uint64_t requests = 0;
    uint64_t errors = 0;
    std::vector<double> latencies_ms;  // the first kMaxKeptLatencies requests' latencies (for tests)
  };
  // What each variant served so far (tests).
  std::map<std::string, Tally> Tallies() const;

 private:
  struct Series;
  void ServeOne();
  const Backend* Pick();

  TrafficOptions options_;
  mutable std::mutex mu_;
  std::mt19937_64 rng_;
  TrafficTopology topology_;
  double carry_ = 0;
  std::shared_ptr<Series> series_;
  std::map<std::string, Tally> tallies_;
};

}  // namespace sluice::sandbox
