// The invariant checker on hand-made sequences of changes: a clean rollout passes, and each
// invariant catches the sequence issue 13 describes for it. No cluster, no clock.
#include "tests/faults/harness/invariants.h"

#include <catch2/catch.hpp>

#include "core/clock.h"

using namespace sluice::testing::faults;
using Catch::Matchers::Contains;

namespace {

// Builds changes in commit order, one resourceVersion and 10 ms apart each.
class Cluster {
 public:
  Cluster() { checker.Track("default", "app", "gatewayapi"); }

  void Put(const char* key, json obj, const std::string& type = "") {
    rv_++;
    Change c{rv_, key, type, std::move(obj), rv_ * 0.01, wall_ + std::chrono::milliseconds(10 * rv_)};
    const std::string& name = c.object["metadata"]["name"];
    if (c.type.empty()) c.type = seen_.insert(std::string(key) + name).second ? "ADDED" : "MODIFIED";
    checker.Apply(c);
  }
  void Sleep(std::chrono::seconds s) { wall_ += s; }
  sluice::core::TimePoint Wall() const { return wall_ + std::chrono::milliseconds(10 * rv_); }

  void Target(const std::string& image, int replicas, int ready) {
    Put(kDeployments, Deploy("app", "app", image, replicas, ready));
  }
  void Primary(const std::string& image, int ready) {
    Put(kDeployments, Deploy("app-primary", "app-primary", image, 2, ready));
  }
  void Services() {
    for (const char* name : {"app-primary", "app-canary"})
      Put(kServices, Service(name, name == std::string("app-canary") ? "app" : "app-primary"));
    Put(kServices, Service("app", "app-primary"));
  }
  void Route(int canary, int rules = 1) {
    json split = {{"backendRefs", {Ref("app-primary", 100 - canary), Ref("app-canary", canary)}}};
    json list = json::array();
    if (rules > 1) list.push_back({{"backendRefs", {Ref("app-primary", 0), Ref("app-canary", 100)}}});
    list.push_back(split);
    Put(kRoutes, {{"kind", "HTTPRoute"}, {"metadata", Meta("app")}, {"spec", {{"rules", list}}}});
  }
  void Canary(const std::string& phase, const std::string& revision, const std::string& reason = "") {
    Put(kCanaries, {{"kind", "Canary"},
                    {"metadata", Meta("app")},
                    {"status",
                     {{"phase", phase},
                      {"lastAppliedSpec", revision},
                      {"conditions", {{{"type", "Ready"}, {"reason", reason.empty() ? phase : reason}}}}}}});
  }
  void Event(const std::string& name, const std::string& reason, const std::string& message, int count) {
    std::string stamp = sluice::core::FormatTime(Wall());
    Put(kEvents, {{"kind", "Event"},
                  {"metadata", {{"name", name}, {"namespace", "default"}}},
                  {"involvedObject", {{"kind", "Canary"}, {"name", "app"}, {"namespace", "default"}}},
                  {"reason", reason},
                  {"message", message},
                  {"count", count},
                  {"firstTimestamp", stamp},
                  {"lastTimestamp", stamp}});
  }

  static json Meta(const std::string& name, const json& managers = nullptr) {
    json m = {{"name", name}, {"namespace", "default"}};
    m["managedFields"] = managers.is_null() ? json::array({{{"manager", "sluice"}, {"operation", "Apply"}}}) : managers;
    return m;
  }
  static json Deploy(const std::string& name, const std::string& label, const std::string& image, int replicas,
                     int ready) {
    return {{"kind", "Deployment"},
            {"metadata", Meta(name)},
            {"spec",
             {{"replicas", replicas},
              {"template",
               {{"metadata", {{"labels", {{"app", label}}}}},
                {"spec", {{"containers", {{{"name", "app"}, {"image", image}}}}}}}}}},
            {"status", {{"readyReplicas", ready}}}};
  }
  static json Service(const std::string& name, const std::string& selects) {
    return {{"kind", "Service"}, {"metadata", Meta(name)}, {"spec", {{"selector", {{"app", selects}}}}}};
  }
  static json Ref(const std::string& service, int weight) {
    return {{"kind", "Service"}, {"name", service}, {"port", 9898}, {"weight", weight}};
  }

  // A rollout as the design wants it: status first where it narrows traffic... here, the
  // order that keeps every invariant: traffic moves only to ready pods of an analysed revision.
  void Initialize() {
    Target("app:1", 2, 0);
    Canary("Initializing", "");
    Target("app:1", 2, 2);
    Primary("app:1", 0);
    Primary("app:1", 2);
    Services();
    Route(0);
    Canary("Initialized", "r1");
    Target("app:1", 0, 2);
    Target("app:1", 0, 0);
  }

  // The target gets a new template (ready at once) and the Canary starts analysing it.
  void StartRollout(const std::string& image, const std::string& revision) {
    Target(image, 2, 2);
    Canary("Progressing", revision);
  }

  std::vector<Violation> Finish() {
    checker.Finish(rv_ * 0.01 + 1);
    return checker.violations();
  }

  InvariantChecker checker;

 private:
  uint64_t rv_ = 0;
  sluice::core::TimePoint wall_ = sluice::core::ParseTime("2026-01-01T00:00:00Z").value();
  std::set<std::string> seen_;
};

std::string Describe(const std::vector<Violation>& vs) {
  std::string s;
  for (const auto& v : vs) s += v.Describe() + "\n";
  return s;
}

std::vector<Violation> Of(const std::vector<Violation>& vs, char invariant) {
  std::vector<Violation> out;
  for (const auto& v : vs)
    if (v.invariant == invariant) out.push_back(v);
  return out;
}

// Ends the sequence and requires exactly one violation of `invariant`.
Violation Only(Cluster& c, char invariant) {
  auto vs = Of(c.Finish(), invariant);
  INFO(Describe(vs));
  REQUIRE(vs.size() == 1);
  return vs[0];
}

}  // namespace

TEST_CASE("a rollout that moves traffic only to ready, analysed pods keeps every invariant", "[faults][checker]") {
  Cluster c;
  c.Initialize();
  c.Sleep(std::chrono::seconds(5));
  c.Target("app:2", 2, 0);
  c.Canary("Progressing", "r2");
  c.Target("app:2", 2, 2);
  c.Event("e1", "Advance", "canary weight 20", 1);
  c.Route(20);
  c.Event("e2", "Advance", "canary weight 40", 1);
  c.Route(40);
  c.Canary("Promoting", "r2");
  c.Primary("app:2", 2);
  c.Canary("Finalising", "r2");
  c.Route(0);
  c.Target("app:2", 0, 2);
  c.Canary("Succeeded", "r2");
  c.Target("app:2", 0, 0);
  // The next rollout records the same step again: once per rollout is allowed.
  c.Sleep(std::chrono::seconds(5));
  c.Target("app:3", 2, 0);
  c.Canary("Progressing", "r3");
  c.Target("app:3", 2, 2);
  c.Event("e1", "Advance", "canary weight 20", 2);
  c.Route(20);
  c.Canary("Failed", "r3");
  c.Route(0);  // status first, then the route: (b) holds for the 10 ms between
  c.Target("app:3", 0, 2);
  auto vs = c.Finish();
  INFO(Describe(vs));
  REQUIRE(vs.size() == 1);
  CHECK(vs[0].invariant == 'b');
  CHECK(vs[0].end.has_value());
  CHECK_THAT(vs[0].detail, Contains("phase Failed"));
}

TEST_CASE("(a) a route that keeps weight on a canary scaled to zero is reported with its interval",
          "[faults][checker]") {
  Cluster c;
  c.Initialize();
  c.Target("app:2", 2, 0);
  c.Canary("Progressing", "r2");
  c.Route(20);  // before the canary pods are ready
  c.Target("app:2", 2, 2);
  c.Route(60);
  c.Canary("Promoting", "r2");
  c.Target("app:2", 0, 2);  // scaled down with the route still at 60
  c.Route(0);
  c.Canary("Succeeded", "r2");
  auto vs = Of(c.Finish(), 'a');
  INFO(Describe(vs));
  REQUIRE(vs.size() == 2);
  CHECK_THAT(vs[0].detail, Contains("gives 20 to") && Contains("Deployment app (replicas 2, readyReplicas 0)"));
  CHECK_THAT(vs[1].detail, Contains("gives 60 to") && Contains("Deployment app (replicas 0, readyReplicas 2)"));
  CHECK(vs[1].end.has_value());
}

TEST_CASE("(a) and (b) the kubernetes provider's apex Service left on a target scaled down after Succeeded",
          "[faults][checker]") {
  Cluster c;
  c.checker.Track("default", "app", "kubernetes");
  c.Target("app:1", 2, 2);
  c.Primary("app:1", 2);
  c.Services();
  c.Canary("Initialized", "r1");
  c.Target("app:1", 0, 0);
  c.Target("app:2", 2, 2);
  c.Canary("Progressing", "r2");
  c.Canary("Promoting", "r2");
  c.Put(kServices, Cluster::Service("app", "app"));  // the switch to the canary pods
  c.Primary("app:2", 2);
  c.Canary("Succeeded", "r2");
  c.Target("app:2", 0, 2);
  c.Target("app:2", 0, 0);
  auto vs = c.Finish();
  INFO(Describe(vs));
  REQUIRE(Of(vs, 'a').size() == 1);
  CHECK_FALSE(Of(vs, 'a')[0].end.has_value());
  CHECK_THAT(Of(vs, 'a')[0].detail, Contains("apex Service default/app selects"));
  REQUIRE(Of(vs, 'b').size() == 1);
  CHECK_THAT(Of(vs, 'b')[0].detail, Contains("phase Succeeded"));
}

TEST_CASE("(c) a weight that moves back and then on is reported, a rollback that moves it back is not",
          "[faults][checker]") {
  Cluster c;
  c.Initialize();
  c.StartRollout("app:2", "r2");
  c.Route(20);
  c.Route(40);
  c.Route(20);  // a step ran again from a stale status
  c.Route(40);
  c.Route(0);  // the rollback, written before its status
  c.Canary("Failed", "r2", "RolledBack");
  CHECK_THAT(Only(c, 'c').detail, Contains("from 40 to 20") && Contains("then changed to 40"));
}

TEST_CASE("(c) a weight moved back just before a promotion is reported", "[faults][checker]") {
  Cluster c;
  c.Initialize();
  c.StartRollout("app:2", "r2");
  c.Route(20);
  c.Route(40);
  c.Route(20);  // re-derived from a stale status
  c.Canary("Promoting", "r2");
  CHECK_THAT(Only(c, 'c').detail, Contains("from 40 to 20") && Contains("went on to Promoting"));
}

TEST_CASE("(c) a weight moved back while the Canary stays Progressing to the end is reported", "[faults][checker]") {
  Cluster c;
  c.Initialize();
  c.StartRollout("app:2", "r2");
  c.Route(40);
  c.Route(0);
  CHECK_THAT(Only(c, 'c').detail, Contains("never left"));
}

TEST_CASE("(e) one step's Event recorded twice in a rollout, counting Event.count, and an alert sent twice",
          "[faults][checker]") {
  Cluster c;
  c.Initialize();
  c.StartRollout("app:2", "r2");
  c.Event("e1", "Advance", "canary weight 60", 1);
  c.Event("e1", "Advance", "canary weight 60", 2);  // the recorder's count patch
  c.Event("e2", "Advance", "canary weight 60", 1);  // another Event object, same transition
  c.Event("e3", "RoutingFailed", "the API answered 500", 1);
  c.Event("e4", "RoutingFailed", "the API answered 500", 1);  // a failure report may repeat
  c.checker.Alert("app", "r2", "Promoted", "revision r2 promoted", 3);
  c.checker.Alert("app", "r2", "Promoted", "revision r2 promoted", 4);
  c.checker.Alert("app", "r3", "Promoted", "revision r3 promoted", 5);
  auto vs = Of(c.Finish(), 'e');
  INFO(Describe(vs));
  REQUIRE(vs.size() == 2);
  CHECK_THAT(Describe(vs), Contains("Event Advance \"canary weight 60\" recorded 3 times in rollout 1"));
  CHECK_THAT(Describe(vs), Contains("alert Promoted \"revision r2 promoted\" for revision r2 delivered 2 times"));
}

TEST_CASE("(f) a routing object with fields of another manager is reported once", "[faults][checker]") {
  Cluster c;
  c.Initialize();
  json route = {
      {"kind", "HTTPRoute"},
      {"metadata", Cluster::Meta("app", json::array({{{"manager", "sluice"}, {"operation", "Apply"}},
                                                     {{"manager", "kubectl-edit"}, {"operation", "Update"}}}))},
      {"spec", {{"rules", json::array({{{"backendRefs", json::array({Cluster::Ref("app-primary", 100)})}}})}}}};
  c.Put(kRoutes, route);
  c.Put(kRoutes, route);
  // The simulated kube-controller-manager owns a Deployment's status; the test its own writes.
  json primary = Cluster::Deploy("app-primary", "app-primary", "app:1", 2, 2);
  primary["metadata"]["managedFields"] = {
      {{"manager", "sluice"}, {"operation", "Apply"}},
      {{"manager", "kube-controller-manager"}, {"operation", "Update"}, {"subresource", "status"}}};
  c.Put(kDeployments, primary);
  auto vs = c.Finish();
  INFO(Describe(vs));
  REQUIRE(Of(vs, 'f').size() == 1);
  CHECK_THAT(Of(vs, 'f')[0].detail, Contains("kubectl-edit"));
}
