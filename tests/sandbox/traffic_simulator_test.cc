// The traffic simulator: the split follows the routing weights, each version's errors and
// latencies match what it declares, and /metrics is Prometheus text with exactly the names
// and labels of each provider's real data plane.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "sandbox/sim/traffic_simulator.h"
#include "tests/support/process.h"
#include "tests/support/skip.h"

using nlohmann::json;
using sluice::sandbox::Backend;
using sluice::sandbox::ClusterView;
using sluice::sandbox::ParseVersionProfile;
using sluice::sandbox::TopologyFromCluster;
using sluice::sandbox::TrafficOptions;
using sluice::sandbox::TrafficSimulator;
using sluice::sandbox::TrafficTopology;
using sluice::sandbox::VersionProfile;

namespace {

TrafficTopology Topology(const std::string& provider, double primary_weight, double canary_weight,
                         VersionProfile primary = {}, VersionProfile canary = {}) {
  TrafficTopology t;
  t.provider = provider;
  t.ns = "test";
  t.service = "podinfo";
  t.port = 9898;
  t.backends.push_back(Backend{"primary", "podinfo-primary", {"podinfo-primary-abc-x1", "podinfo-primary-abc-x2"},
                               primary_weight, primary});
  t.backends.push_back(Backend{"canary", "podinfo", {"podinfo-def-y1"}, canary_weight, canary});
  return t;
}

TrafficSimulator Simulator(uint64_t seed = 42) {
  TrafficOptions o;
  o.seed = seed;
  return TrafficSimulator(o);
}

double Quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1))];
}

// Four standard deviations of a share estimated from n Bernoulli trials.
double Bound(double p, uint64_t n) { return 4 * std::sqrt(p * (1 - p) / static_cast<double>(n)) + 1e-9; }

json Deployment(const std::string& name, int ready, const json& annotations = json::object()) {
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", {{"name", name}, {"namespace", "test"}}},
          {"spec", {{"template", {{"metadata", {{"annotations", annotations}}}}}}},
          {"status", {{"readyReplicas", ready}}}};
}

json Canary(const std::string& provider, const std::string& phase) {
  return {{"metadata", {{"name", "podinfo"}, {"namespace", "test"}}},
          {"spec", {{"provider", provider}, {"targetRef", {{"name", "podinfo"}}}, {"service", {{"port", 9898}}}}},
          {"status", {{"phase", phase}}}};
}

json HttpRoute(int primary, int canary) {
  json refs = {{{"name", "podinfo-primary"}, {"port", 9898}, {"weight", primary}},
               {{"name", "podinfo-canary"}, {"port", 9898}, {"weight", canary}}};
  return {{"kind", "HTTPRoute"}, {"spec", {{"rules", {{{"backendRefs", refs}}}}}}};
}

const Backend* Find(const TrafficTopology& t, const std::string& variant) {
  for (const auto& b : t.backends)
    if (b.variant == variant) return &b;
  return nullptr;
}

}  // namespace

TEST_CASE("version profiles come from pod template annotations", "[sandbox][traffic]") {
  VersionProfile p = ParseVersionProfile(
      json{{"sandbox.sluice.dev/error-rate", "0.2"}, {"sandbox.sluice.dev/latency-ms", "p99=80, p50=20"}});
  CHECK(p.error_rate == Approx(0.2));
  CHECK(p.p50_ms == Approx(20));
  CHECK(p.p99_ms == Approx(80));
  CHECK(ParseVersionProfile(json::object()) == VersionProfile{});
  CHECK(ParseVersionProfile(json()) == VersionProfile{});

  auto message = [](const json& annotations) {
    try {
      ParseVersionProfile(annotations);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK_THAT(message({{"sandbox.sluice.dev/error-rate", "1.5"}}),
             Catch::Contains("sandbox.sluice.dev/error-rate") && Catch::Contains("between 0 and 1"));
  CHECK_THAT(message({{"sandbox.sluice.dev/error-rate", "lots"}}), Catch::Contains("\"lots\""));
  CHECK_THAT(message({{"sandbox.sluice.dev/latency-ms", "p50=90,p99=80"}}),
             Catch::Contains("sandbox.sluice.dev/latency-ms") && Catch::Contains("p50 <= p99"));
  CHECK_THAT(message({{"sandbox.sluice.dev/latency-ms", "p50=20"}}), Catch::Contains("p50=<ms>,p99=<ms>"));
  CHECK_THAT(message({{"sandbox.sluice.dev/latency-ms", "p75=20,p99=80"}}), Catch::Contains("p50=<ms>,p99=<ms>"));
}

TEST_CASE("requests split by the routing weights within statistical bounds", "[sandbox][traffic]") {
  for (auto [primary, canary] : {std::pair{90, 10}, {50, 50}, {20, 80}}) {
    auto sim = Simulator(primary);
    sim.SetTopology(Topology("gatewayapi", primary, canary));
    const uint64_t n = 20000;
    sim.Send(n);
    auto tallies = sim.Tallies();
    double share = static_cast<double>(tallies["canary"].requests) / n;
    double expected = canary / 100.0;
    INFO("weights " << primary << "/" << canary << ", canary share " << share);
    CHECK(tallies["primary"].requests + tallies["canary"].requests == n);
    CHECK(std::abs(share - expected) < Bound(expected, n));
  }
  auto all_primary = Simulator();
  all_primary.SetTopology(Topology("gatewayapi", 100, 0));
  all_primary.Send(1000);
  CHECK(all_primary.Tallies()["canary"].requests == 0);
}

TEST_CASE("errors and latencies match the serving version's profile", "[sandbox][traffic]") {
  auto sim = Simulator();
  sim.SetTopology(Topology("gatewayapi", 50, 50, VersionProfile{0.0, 20, 80}, VersionProfile{0.3, 50, 400}));
  sim.Send(40000);
  auto tallies = sim.Tallies();
  const auto& primary = tallies["primary"];
  const auto& canary = tallies["canary"];
  CHECK(primary.errors == 0);
  double rate = static_cast<double>(canary.errors) / static_cast<double>(canary.requests);
  CHECK(std::abs(rate - 0.3) < Bound(0.3, canary.requests));
  CHECK(Quantile(primary.latencies_ms, 0.5) == Approx(20).epsilon(0.05));
  CHECK(Quantile(primary.latencies_ms, 0.99) == Approx(80).epsilon(0.12));
  CHECK(Quantile(canary.latencies_ms, 0.5) == Approx(50).epsilon(0.05));
  CHECK(Quantile(canary.latencies_ms, 0.99) == Approx(400).epsilon(0.12));
}

TEST_CASE("Advance keeps the long-run request rate exact", "[sandbox][traffic]") {
  TrafficOptions o;
  o.seed = 7;
  o.requests_per_second = 30;
  TrafficSimulator sim(o);
  sim.SetTopology(Topology("gatewayapi", 100, 0));
  for (int i = 0; i < 100; ++i) sim.Advance(std::chrono::milliseconds(70));  // 7 s in odd slices
  CHECK(sim.Tallies()["primary"].requests == 210);
}

TEST_CASE("each provider's series carry exactly the real data plane's names and labels", "[sandbox][traffic]") {
  auto sim = Simulator();
  SECTION("gatewayapi (Envoy, Contour cluster names)") {
    sim.SetTopology(Topology("gatewayapi", 0, 100, {}, VersionProfile{1.0, 20, 80}));
    sim.Send(5);
    std::string text = sim.Serialize();
    CHECK_THAT(text, Catch::Contains("# TYPE envoy_cluster_upstream_rq counter\n"));
    CHECK_THAT(text, Catch::Contains(
                         "envoy_cluster_upstream_rq{envoy_cluster_name=\"test_podinfo-canary_9898\",envoy_response_code=\"500\"} 5\n"));
    CHECK_THAT(text, Catch::Contains("# TYPE envoy_cluster_upstream_rq_time histogram\n"));
    CHECK_THAT(text, Catch::Contains("envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"test_podinfo-canary_9898\",le=\"+Inf\"} 5\n"));
    CHECK_THAT(text, Catch::Contains("envoy_cluster_upstream_rq_time_count{envoy_cluster_name=\"test_podinfo-canary_9898\"} 5\n"));
    CHECK_THAT(text, Catch::Contains("le=\"100\""));
  }
  SECTION("istio") {
    sim.SetTopology(Topology("istio", 100, 0));
    sim.Send(3);
    std::string text = sim.Serialize();
    CHECK_THAT(text, Catch::Contains("istio_requests_total{reporter=\"destination\",destination_workload_namespace=\"test\","
                                     "destination_workload=\"podinfo-primary\",destination_service_name=\"podinfo-primary\","
                                     "response_code=\"200\"} 3\n"));
    CHECK_THAT(text, Catch::Contains("istio_request_duration_milliseconds_bucket{reporter=\"destination\","
                                     "destination_workload_namespace=\"test\",destination_workload=\"podinfo-primary\",le=\"+Inf\"} 3\n"));
  }
  SECTION("nginx (seconds, canary label only on canary traffic)") {
    sim.SetTopology(Topology("nginx", 0, 100));
    sim.Send(2);
    std::string text = sim.Serialize();
    CHECK_THAT(text, Catch::Contains("nginx_ingress_controller_requests{namespace=\"test\",ingress=\"podinfo\","
                                     "service=\"podinfo-canary\",canary=\"test-podinfo-canary-9898\",status=\"200\"} 2\n"));
    CHECK_THAT(text, Catch::Contains("nginx_ingress_controller_request_duration_seconds_bucket{namespace=\"test\","
                                     "ingress=\"podinfo\",service=\"podinfo-canary\",canary=\"test-podinfo-canary-9898\",le=\"0.1\"}"));
  }
  SECTION("kubernetes (the app's own metrics, per pod, seconds)") {
    sim.SetTopology(Topology("kubernetes", 0, 100));
    sim.Send(4);
    std::string text = sim.Serialize();
    CHECK_THAT(text, Catch::Contains("http_requests_total{namespace=\"test\",pod=\"podinfo-def-y1\",code=\"200\"} 4\n"));
    CHECK_THAT(text, Catch::Contains("http_request_duration_seconds_count{namespace=\"test\",pod=\"podinfo-def-y1\"} 4\n"));
  }
}

TEST_CASE("the exposition parses as Prometheus text format (promtool)", "[sandbox][traffic]") {
  if (access("/usr/bin/promtool", X_OK) != 0) SLUICE_SKIP("promtool is not installed (Debian package prometheus)");
  for (std::string provider : {"gatewayapi", "istio", "nginx", "kubernetes"}) {
    auto sim = Simulator();
    sim.SetTopology(Topology(provider, 70, 30, VersionProfile{0.01, 20, 80}, VersionProfile{0.5, 30, 300}));
    sim.Send(500);
    auto r = sluice::testing::Run({"promtool", "check", "metrics"}, {}, std::chrono::seconds(30), sim.Serialize());
    INFO(provider << ": " << r.Describe());
    // Exit 1 is a parse error. Exit 3 is lint only; allowed are the lints the real names
    // break: no _total suffix on Envoy's and ingress-nginx's counters, and Istio's duration
    // in milliseconds.
    REQUIRE((r.exit_code == 0 || r.exit_code == 3));
    std::istringstream lines(r.out + r.err);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.empty()) continue;
      bool total_suffix = line.find("counter metrics should have \"_total\" suffix") != std::string::npos &&
                          (line.rfind("envoy_cluster_upstream_rq ", 0) == 0 ||
                           line.rfind("nginx_ingress_controller_requests ", 0) == 0);
      bool istio_unit = line.rfind("istio_request_duration_milliseconds use base unit \"seconds\"", 0) == 0;
      bool allowed = total_suffix || istio_unit;
      CHECK(allowed);
      if (!allowed) WARN("promtool: " << line);
    }
  }
}

TEST_CASE("topology follows the routing object the controller wrote", "[sandbox][traffic]") {
  ClusterView view;
  view.canary = Canary("gatewayapi", "Progressing");
  view.deployments["podinfo-primary"] = Deployment("podinfo-primary", 2, {{"sandbox.sluice.dev/error-rate", "0"}});
  view.deployments["podinfo"] =
      Deployment("podinfo", 1, {{"sandbox.sluice.dev/error-rate", "0.3"}, {"sandbox.sluice.dev/latency-ms", "p50=30,p99=90"}});

  SECTION("HTTPRoute backendRefs weights") {
    view.route = HttpRoute(70, 30);
    auto t = TopologyFromCluster(view, 0.1);
    CHECK(t.service == "podinfo");
    CHECK(t.port == 9898);
    REQUIRE(Find(t, "primary"));
    REQUIRE(Find(t, "canary"));
    CHECK(Find(t, "primary")->weight == 70);
    CHECK(Find(t, "primary")->pods.size() == 2);
    CHECK(Find(t, "canary")->weight == 30);
    CHECK(Find(t, "canary")->profile == VersionProfile{0.3, 30, 90});
    CHECK(Find(t, "canary")->pods[0].rfind("podinfo-", 0) == 0);
  }
  SECTION("no route yet: no traffic") {
    auto t = TopologyFromCluster(view, 0.1);
    CHECK(t.backends.empty());
  }
  SECTION("a Progressing canary at weight 0 gets the load tester's share") {
    view.route = HttpRoute(100, 0);
    auto t = TopologyFromCluster(view, 0.1);
    REQUIRE(Find(t, "canary"));
    CHECK(Find(t, "canary")->weight / (Find(t, "canary")->weight + Find(t, "primary")->weight) == Approx(0.1));
    view.canary["status"]["phase"] = "Succeeded";
    CHECK_FALSE(Find(TopologyFromCluster(view, 0.1), "canary"));
  }
  SECTION("kubernetes provider: the apex Service selector switches") {
    view.canary = Canary("kubernetes", "Promoting");
    view.apex_service = {{"spec", {{"selector", {{"app", "podinfo"}}}}}};
    auto t = TopologyFromCluster(view, 0.1);
    REQUIRE(t.backends.size() == 1);
    CHECK(t.backends[0].variant == "canary");
    view.apex_service["spec"]["selector"]["app"] = "podinfo-primary";
    t = TopologyFromCluster(view, 0.1);
    REQUIRE(t.backends.size() == 1);
    CHECK(t.backends[0].variant == "primary");
  }
  SECTION("a bad annotation names the Deployment and the field") {
    view.route = HttpRoute(50, 50);
    view.deployments["podinfo"] = Deployment("podinfo", 1, {{"sandbox.sluice.dev/error-rate", "2"}});
    CHECK_THROWS_WITH(TopologyFromCluster(view, 0.1),
                      Catch::Contains("Deployment podinfo spec.template.metadata.annotation sandbox.sluice.dev/error-rate"));
  }
  SECTION("an unknown provider is refused") {
    view.canary["spec"]["provider"] = "linkerd";
    CHECK_THROWS_WITH(TopologyFromCluster(view, 0.1), Catch::Contains("unknown provider \"linkerd\""));
  }
}

TEST_CASE("a backend without ready pods answers 503 at the proxy", "[sandbox][traffic]") {
  auto sim = Simulator();
  auto t = Topology("gatewayapi", 0, 100);
  t.backends[1].pods.clear();
  sim.SetTopology(t);
  sim.Send(10);
  CHECK_THAT(sim.Serialize(), Catch::Contains("envoy_response_code=\"503\"} 10\n"));
  CHECK(sim.Tallies()["canary"].errors == 10);
}
