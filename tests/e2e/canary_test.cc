// Canary rollouts end to end: the controller against the API emulator, users acting through
// the real kubectl, analysis verdicts injected by the test.
#include <catch2/catch.hpp>

#include <set>

#include "tests/e2e/canary_harness.h"
#include "tests/support/fixtures.h"
#include "tests/support/skip.h"

using namespace sluice::testing;
using Catch::Matchers::Contains;

namespace {

const char* kProgressive = R"(  provider: gatewayapi
  service:
    port: 9898
  progressDeadlineSeconds: 30
  analysis:
    interval: 1s
    threshold: 2
    stepWeight: 20
    maxWeight: 60
)";

bool HaveRoutes() { return CrdFixture("gateway-api-v1.6.1-httproutes.yaml").has_value(); }

#define REQUIRE_ENVIRONMENT()                                                          \
  if (!HaveKubectl()) SLUICE_SKIP("kubectl is not installed (scripts/install-deps.sh)");      \
  if (!HaveRoutes()) SLUICE_SKIP("Gateway API CRDs not found: set SLUICE_CRD_DIR (docs/testing.md)")

std::string CanaryWeight(CanaryCluster& c) {
  return c.Get("httproute/podinfo", "{.spec.rules[0].backendRefs[1].weight}");
}

}  // namespace

TEST_CASE("a new version is promoted step by step through Gateway API weights", "[canary][e2e]") {
  REQUIRE_ENVIRONMENT();
  CanaryCluster c;
  c.ApplyApp("1.0.0", kProgressive);
  c.WaitForPhase("Initialized");
  CHECK(c.Get("deploy/podinfo-primary", "{.spec.template.spec.containers[0].image}") == "ghcr.io/example/podinfo:1.0.0");
  CHECK(c.Get("deploy/podinfo", "{.spec.replicas}") == "0");
  CHECK(c.Get("svc/podinfo", "{.spec.selector.app}") == "podinfo-primary");
  CHECK(c.Get("svc/podinfo-canary", "{.spec.selector.app}") == "podinfo");
  CHECK(CanaryWeight(c) == "0");

  c.SetVersion("1.1.0");
  std::set<std::string> weights;
  bool done = WaitFor(
      [&] {
        weights.insert(CanaryWeight(c));
        return c.Get("canary/podinfo", "{.status.phase}") == "Succeeded";
      },
      std::chrono::seconds(40));
  INFO(c.Get("canary/podinfo", "{.status}"));
  REQUIRE(done);
  CHECK(weights.count("20"));
  CHECK(weights.count("40"));
  CHECK(weights.count("60"));
  CHECK(CanaryWeight(c) == "0");
  CHECK(c.Get("deploy/podinfo-primary", "{.spec.template.spec.containers[0].image}") == "ghcr.io/example/podinfo:1.1.0");
  CHECK(c.Get("deploy/podinfo", "{.spec.replicas}") == "0");
  CHECK(c.Get("canary/podinfo", "{.status.conditions[?(@.type==\"Promoted\")].status}") == "True");
  // What users see in `kubectl get canaries`.
  CHECK_THAT(c.kubectl().Ok({"get", "canaries"}), Contains("STATUS") && Contains("WEIGHT") && Contains("Succeeded"));
}

TEST_CASE("failing analysis reaching the threshold rolls back", "[canary][e2e]") {
  REQUIRE_ENVIRONMENT();
  CanaryCluster c;
  c.ApplyApp("1.0.0", kProgressive);
  c.WaitForPhase("Initialized");
  c.analysis().checks_fail = true;
  c.SetVersion("2.0.0");
  c.WaitForPhase("Failed");
  CHECK(c.Get("canary/podinfo", "{.status.failedChecks}") == "2");
  CHECK(CanaryWeight(c) == "0");
  CHECK(c.Get("deploy/podinfo-primary", "{.spec.template.spec.containers[0].image}") == "ghcr.io/example/podinfo:1.0.0");
  CHECK(c.WaitFor("deploy/podinfo", "{.spec.replicas}", "0"));
  CHECK_THAT(c.Get("canary/podinfo", "{.status.conditions[?(@.type==\"Ready\")].message}"),
             Contains("request-success-rate"));
}

TEST_CASE("kubectl annotate sluice.dev/abort stops a rollout at once", "[canary][e2e][requests]") {
  REQUIRE_ENVIRONMENT();
  CanaryCluster c;
  c.ApplyApp("1.0.0", R"(  service:
    port: 9898
  analysis:
    interval: 3s
    threshold: 2
    stepWeight: 10
    maxWeight: 50
)");
  c.WaitForPhase("Initialized");
  c.SetVersion("1.1.0");
  REQUIRE(c.WaitFor("httproute/podinfo", "{.spec.rules[0].backendRefs[1].weight}", "10"));
  c.kubectl().Ok({"annotate", "canary", "podinfo", "sluice.dev/abort=latency regression"});
  // Handled as the watch delivers it, well before the next 3 s step.
  CHECK(c.WaitFor("httproute/podinfo", "{.spec.rules[0].backendRefs[1].weight}", "0", std::chrono::seconds(2)));
  c.WaitForPhase("Failed", std::chrono::seconds(5));
  CHECK(c.Get("canary/podinfo", "{.status.conditions[?(@.type==\"Ready\")].reason}") == "Aborted");
  CHECK_THAT(c.Get("canary/podinfo", "{.status.conditions[?(@.type==\"Ready\")].message}"), Contains("latency regression"));
  CHECK(c.WaitFor("canary/podinfo", "{.metadata.annotations.sluice\\.dev/abort}", ""));
  CHECK_THAT(c.Get("canary/podinfo", "{.status.requests.abort.outcome}"), Contains("aborted"));
  // The aborted revision does not restart by itself.
  std::this_thread::sleep_for(std::chrono::seconds(4));
  CHECK(c.Get("canary/podinfo", "{.status.phase}") == "Failed");
  CHECK_THAT(c.kubectl().Ok({"get", "events"}), Contains("Aborted"));

  SECTION("retry runs it again, and promote finishes it") {
    c.kubectl().Ok({"annotate", "canary", "podinfo", "sluice.dev/retry=1"});
    c.WaitForPhase("Progressing", std::chrono::seconds(10));
    c.kubectl().Ok({"annotate", "canary", "podinfo", "sluice.dev/promote=now"});
    c.WaitForPhase("Succeeded", std::chrono::seconds(20));
    CHECK(c.Get("deploy/podinfo-primary", "{.spec.template.spec.containers[0].image}") == "ghcr.io/example/podinfo:1.1.0");
  }
}

TEST_CASE("a new revision in the middle of a rollout restarts the analysis", "[canary][e2e]") {
  REQUIRE_ENVIRONMENT();
  CanaryCluster c;
  c.ApplyApp("1.0.0", R"(  service:
    port: 9898
  analysis:
    interval: 2s
    threshold: 2
    stepWeight: 20
    maxWeight: 60
)");
  c.WaitForPhase("Initialized");
  c.SetVersion("1.1.0");
  REQUIRE(c.WaitFor("httproute/podinfo", "{.spec.rules[0].backendRefs[1].weight}", "20"));
  std::string first = c.Get("canary/podinfo", "{.status.lastAppliedSpec}");
  c.SetVersion("1.2.0");
  CHECK(c.WaitFor("httproute/podinfo", "{.spec.rules[0].backendRefs[1].weight}", "0", std::chrono::seconds(5)));
  CHECK(c.Get("canary/podinfo", "{.status.lastAppliedSpec}") != first);
  c.WaitForPhase("Succeeded", std::chrono::seconds(40));
  CHECK(c.Get("deploy/podinfo-primary", "{.spec.template.spec.containers[0].image}") == "ghcr.io/example/podinfo:1.2.0");
}

TEST_CASE("a canary that never gets ready exceeds its progress deadline and rolls back", "[canary][e2e]") {
  REQUIRE_ENVIRONMENT();
  CanaryCluster c;
  c.ApplyApp("1.0.0", R"(  service:
    port: 9898
  progressDeadlineSeconds: 3
  analysis:
    interval: 1s
    stepWeight: 50
)");
  c.WaitForPhase("Initialized");
  c.kubectl().Ok({"patch", "deploy", "podinfo", "--type", "merge", "-p",
                  R"({"spec":{"template":{"metadata":{"annotations":{"sandbox.sluice.dev/fail-readiness":"true"}}}}})"});
  c.kubectl().Ok({"annotate", "deploy", "podinfo", "sandbox.sluice.dev/fail-readiness=true"});
  c.WaitForPhase("Failed", std::chrono::seconds(20));
  CHECK(c.Get("canary/podinfo", "{.status.conditions[?(@.type==\"Ready\")].reason}") == "ProgressDeadlineExceeded");
  CHECK(CanaryWeight(c) == "0");
}

TEST_CASE("A/B testing routes matching requests to the canary through the HTTPRoute", "[canary][e2e]") {
  REQUIRE_ENVIRONMENT();
  CanaryCluster c;
  c.ApplyApp("1.0.0", R"(  service:
    port: 9898
  analysis:
    interval: 2s
    iterations: 3
    match:
      - headers:
          x-canary:
            exact: insider
      - headers:
          cookie:
            regex: "^(.*?;)?(canary=always)(;.*)?$"
)");
  c.WaitForPhase("Initialized");
  c.SetVersion("1.1.0");
  // The route the controller writes passes the real Gateway API schema in the emulator.
  REQUIRE(c.WaitFor("httproute/podinfo", "{.spec.rules[0].matches[0].headers[0].value}", "insider"));
  CHECK(c.Get("httproute/podinfo", "{.spec.rules[0].backendRefs[1].name}") == "podinfo-canary");
  CHECK(c.Get("httproute/podinfo", "{.spec.rules[0].backendRefs[1].weight}") == "100");
  CHECK(c.Get("httproute/podinfo", "{.spec.rules[1].backendRefs[0].weight}") == "100");
  c.WaitForPhase("Succeeded", std::chrono::seconds(30));
  CHECK(c.Get("canary/podinfo", "{.status.iterations}") == "3");
  CHECK(c.Get("httproute/podinfo", "{.spec.rules[1]}").empty());  // back to one rule, all on primary
}

TEST_CASE("blue/green with the kubernetes provider switches the apex Service", "[canary][e2e]") {
  if (!HaveKubectl()) SLUICE_SKIP("kubectl is not installed");
  CanaryCluster c;
  c.ApplyApp("1.0.0", R"(  provider: kubernetes
  service:
    port: 9898
  analysis:
    interval: 1s
    iterations: 2
)");
  c.WaitForPhase("Initialized");
  CHECK(c.Get("svc/podinfo", "{.spec.selector.app}") == "podinfo-primary");
  c.SetVersion("1.1.0");
  c.WaitForPhase("Succeeded", std::chrono::seconds(30));
  CHECK(c.Get("svc/podinfo", "{.spec.selector.app}") == "podinfo-primary");
  CHECK(c.Get("deploy/podinfo-primary", "{.spec.template.spec.containers[0].image}") == "ghcr.io/example/podinfo:1.1.0");
  CHECK(c.Get("canary/podinfo", "{.status.iterations}") == "2");
}

TEST_CASE("bad Canaries report InvalidSpec naming the field while good ones keep running", "[canary][e2e][bad-input]") {
  REQUIRE_ENVIRONMENT();
  CanaryCluster c;
  c.ApplyApp("1.0.0", kProgressive);
  c.WaitForPhase("Initialized");
  auto bad = [&](const std::string& name, const std::string& spec) {
    std::string manifest = "apiVersion: sluice.dev/v1beta1\nkind: Canary\nmetadata:\n  name: " + name +
                           "\n  namespace: default\nspec:\n" + spec;
    ProcessResult r = c.kubectl()({"apply", "--validate=false", "-f", "-"}, manifest);
    INFO(r.Describe());
    REQUIRE(r.exit_code == 0);
  };
  // A second Canary on the same target: the first keeps it.
  bad("shared", "  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}\n  service: {port: 9898}\n"
                "  analysis: {interval: 1s, stepWeight: 10}\n");
  // stepWeights that go down pass the schema but not the controller.
  bad("down", "  targetRef: {apiVersion: apps/v1, kind: Deployment, name: other}\n  service: {port: 9898}\n"
              "  analysis: {interval: 1s, stepWeights: [10, 50, 20]}\n");
  auto reason = [&](const std::string& name) {
    return c.Get("canary/" + name, "{.status.conditions[?(@.type==\"Ready\")].reason}");
  };
  CHECK(WaitFor([&] { return reason("shared") == "InvalidSpec"; }, std::chrono::seconds(10)));
  CHECK_THAT(c.Get("canary/shared", "{.status.conditions[?(@.type==\"Ready\")].message}"),
             Contains("spec.targetRef.name") && Contains("Canary podinfo"));
  CHECK(WaitFor([&] { return reason("down") == "InvalidSpec"; }, std::chrono::seconds(10)));
  CHECK_THAT(c.Get("canary/down", "{.status.conditions[?(@.type==\"Ready\")].message}"),
             Contains("spec.analysis.stepWeights[2]"));
  // The schema itself refuses what it can express: weights over 100, an unknown provider.
  ProcessResult over = c.kubectl()({"apply", "-f", "-"},
                                   "apiVersion: sluice.dev/v1beta1\nkind: Canary\nmetadata: {name: over, namespace: default}\n"
                                   "spec:\n  provider: linkerd\n  targetRef: {apiVersion: apps/v1, kind: Deployment, name: x}\n"
                                   "  service: {port: 9898}\n  analysis: {stepWeight: 150}\n");
  CHECK(over.exit_code != 0);
  CHECK_THAT(over.err, Contains("spec.analysis.stepWeight") && Contains("spec.provider"));
  // The good Canary still rolls out.
  c.SetVersion("1.1.0");
  c.WaitForPhase("Succeeded", std::chrono::seconds(40));
}
