// The invariants of issue 13, checked on every change the API server commits, in the order it
// committed them (one resourceVersion sequence across all kinds), so a check never compares
// a route from one moment with a Deployment from another.
//
//   (a) traffic never goes to a workload with no ready pods: every Service that an HTTPRoute
//       gives weight > 0, and the apex Service, select pods of a Deployment that has
//       replicas > 0 and readyReplicas > 0;
//   (b) traffic never goes to a revision that is not under analysis: the target Deployment
//       (the canary pods) gets traffic only while the Canary's phase is Progressing,
//       WaitingPromotion, Promoting or Finalising;
//   (c) weights never move back except on rollback, abort or promotion: while a Canary is
//       analysing one revision (Progressing, WaitingPromotion), a lower canary weight must be
//       followed by the Canary ending that revision (Failed, Succeeded/Reverted) or starting
//       another one, never by another route change or by Promoting;
//   (d) every rollout ends in the expected phase with the expected image on the primary (the
//       driver in fault_run.cc decides and records these);
//   (e) each Event on a Canary (reason + message, Event.count included) and each alert at
//       most once per rollout;
//   (f) the routing objects, the -primary/-canary Services and the -primary Deployment are
//       written only by the controller's field manager and the test's (and the simulated
//       kube-controller-manager on a Deployment's status).
//
// (a) and (b) are states: a violation is the interval in which the state held, reported with
// the values at its start. The rest are points. Not thread-safe: StoreTap (store_tap.h) feeds
// it from one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace sluice::testing::faults {

using nlohmann::json;
using WallTime = std::chrono::system_clock::time_point;

// One change as the API server committed it.
struct Change {
  uint64_t rv = 0;
  std::string key;   // the emulator's storage key: "apps/deployments", "/services", "/events", ...
  std::string type;  // ADDED | MODIFIED | DELETED
  json object;       // the state after the change (DELETED: the last state)
  double at = 0;     // seconds since the run started
  WallTime wall{};   // when, by the system clock (Event timestamps are compared with it)
};

struct Violation {
  char invariant = '?';       // 'a' .. 'f'
  std::string app;            // the Canary (and target Deployment) name
  double start = 0;           // seconds since the run started
  std::optional<double> end;  // for states: when it stopped holding; nullopt = held to the end
  bool state = false;         // an interval (a, b) rather than a point
  uint64_t rv = 0;            // the resourceVersion of the change that started it
  std::string detail;

  std::string Describe() const;
};

struct CheckerOptions {
  std::string controller_manager = "sluice";
  std::string test_manager = "faults-test";
  // Event reasons that report a failure each time it happens (a route write refused, an
  // alert not delivered) rather than a transition: they may repeat within a rollout.
  std::set<std::string> repeatable_reasons = {"RoutingFailed", "AlertFailed", "DeliveryFailed"};
};

// What the driver reads back about one app, from the same ordered stream.
struct AppView {
  bool canary_exists = false;
  std::string phase;
  std::string last_applied;
  std::string ready_reason;
  bool abort_annotation = false;
  std::string primary_image;
  std::optional<int> canary_weight;  // from the routing object
  int rollouts_seen = 0;             // target template changes after creation
  double last_event_at = -1;         // the last Event written about this Canary
};

class InvariantChecker {
 public:
  explicit InvariantChecker(CheckerOptions options = {});

  // A Canary `app` in `ns` targeting Deployment `app`, routed by `provider` (gatewayapi |
  // kubernetes). Changes to objects of untracked apps are ignored.
  void Track(const std::string& ns, const std::string& app, const std::string& provider);
  void Apply(const Change& change);
  // Whether the change is about a tracked app.
  bool Tracks(const Change& change) { return AppOf(change) != nullptr; }
  // An alert as the receiver got it (generic provider payload).
  void Alert(const std::string& app, const std::string& revision, const std::string& reason, const std::string& message,
             double at);
  // A point violation found by the driver (d).
  void Record(Violation v);
  // Closes open intervals at `at`, reports unresolved moves back (c) and repeated Events (e).
  void Finish(double at);

  const std::vector<Violation>& violations() const { return violations_; }
  // How many (a)/(b) states hold right now.
  size_t OpenStates() const;
  AppView View(const std::string& app) const;
  std::vector<std::string> Apps() const;

 private:
  struct Open {
    double start;
    uint64_t rv;
    std::string detail;
  };
  struct Pending {  // a lower canary weight while analysing, not yet explained (c)
    int from, to;
    double at;
    uint64_t rv;
    std::string revision;
  };
  struct App {
    std::string ns, name, provider;
    std::map<std::string, Open> open;  // (a)/(b) states holding now, by what holds
    std::optional<int> weight;
    std::optional<Pending> pending;
    std::string template_dump;                    // of the target: a change starts a rollout
    std::vector<WallTime> rollout_starts;         // wall time of each template (0: the creation)
    std::map<std::string, int64_t> event_counts;  // Event name -> count seen
    // (rollout, reason, message) -> occurrences, and which writes recorded them when.
    struct Seen {
      int64_t count = 0;
      double first_repeat = 0;
      std::string writes;
    };
    std::map<std::tuple<int, std::string, std::string>, Seen> transitions;
    std::set<std::string> reported_managers;
    double last_event_at = -1;
  };

  App* AppOf(const Change& change);
  void Evaluate(App& app, const Change& change);
  void CheckManagers(App& app, const Change& change);
  void CountEvent(App& app, const Change& change);
  void SetState(App& app, char invariant, const std::string& what, bool holds, const std::string& detail,
                const Change& change);
  std::optional<int> CanaryWeight(const App& app) const;
  const json* Find(const std::string& key, const std::string& ns, const std::string& name) const;

  CheckerOptions options_;
  std::map<std::string, App> apps_;  // by name
  // The live objects of the tracked apps: key -> "ns/name" -> object.
  std::map<std::string, std::map<std::string, json>> objects_;
  // (app, revision, reason, message) -> when each delivery came.
  std::map<std::tuple<std::string, std::string, std::string, std::string>, std::vector<double>> alerts_;
  std::vector<Violation> violations_;
};

// One line about a change, for tracing a run (SLUICE_FAULTS_TRACE): what a reader of a
// violation needs to rebuild the sequence (phase, weights, replicas, Event counts).
std::string Digest(const Change& change);

// Storage keys the checker reads.
inline constexpr const char* kDeployments = "apps/deployments";
inline constexpr const char* kServices = "/services";
inline constexpr const char* kEvents = "/events";
inline constexpr const char* kRoutes = "gateway.networking.k8s.io/httproutes";
inline constexpr const char* kCanaries = "sluice.dev/canaries";

}  // namespace sluice::testing::faults
