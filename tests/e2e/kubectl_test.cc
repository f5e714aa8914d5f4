// The real kubectl against the emulator: every command a Sluice user or test relies on.
#include <catch2/catch.hpp>

#include <filesystem>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/e2e/kubectl_harness.h"
#include "tests/support/fixtures.h"
#include "tests/support/skip.h"

using namespace sluice::testing;
using Catch::Matchers::Contains;
using nlohmann::json;

namespace {

struct Cluster {
  EmulatorProcess emulator;
  Kubectl kubectl{emulator};
};

void ApplyWidgetCrd(const Kubectl& k) {
  k.Ok({"apply", "-f", TestData("widgets-crd.yaml")});
  k.Ok({"wait", "--for=condition=Established", "crd/widgets.example.sluice.dev", "--timeout=20s"});
}

std::string Jsonpath(const Kubectl& k, const std::string& object, const std::string& path) {
  return k.Ok({"get", object, "-o", "jsonpath=" + path});
}

}  // namespace

TEST_CASE("kubectl discovers the emulator's built-in kinds and namespaces", "[kubectl]") {
  if (!HaveKubectl()) SLUICE_SKIP("kubectl is not installed (scripts/install-deps.sh installs it)");
  Cluster c;
  CHECK_THAT(c.kubectl.Ok({"get", "namespaces"}), Contains("default") && Contains("Active"));
  std::string resources = c.kubectl.Ok({"api-resources"});
  for (const char* kind : {"deployments", "configmaps", "secrets", "services", "events", "leases",
                           "horizontalpodautoscalers", "ingresses", "customresourcedefinitions", "daemonsets"})
    CHECK_THAT(resources, Contains(kind));
  CHECK_THAT(c.kubectl.Ok({"version", "-o", "json"}), Contains("serverVersion"));
}

TEST_CASE("the Gateway API and Istio CRDs load and are enforced", "[kubectl][crds]") {
  if (!HaveKubectl()) SLUICE_SKIP("kubectl is not installed");
  auto dir = CrdFixtureDir();
  if (!dir) SLUICE_SKIP("no CRD fixtures: set SLUICE_CRD_DIR or run scripts/fetch-crds.sh (see docs/testing.md)");
  Cluster c;
  c.kubectl.Ok({"apply", "-f", *dir});
  c.kubectl.Ok({"wait", "--for=condition=Established", "crd/httproutes.gateway.networking.k8s.io",
                "crd/virtualservices.networking.istio.io", "--timeout=20s"});

  CHECK_THAT(c.kubectl.Ok({"apply", "-f", TestData("httproute-good.yaml")}), Contains("created"));
  std::string table = c.kubectl.Ok({"get", "httproutes"});
  CHECK_THAT(table, Contains("HOSTNAMES") && Contains("app.example.com") && Contains("podinfo"));
  CHECK(Jsonpath(c.kubectl, "httproute/podinfo", "{.spec.rules[0].backendRefs[1].weight}") == "10");

  ProcessResult bad = c.kubectl({"apply", "-f", TestData("httproute-bad-weight.yaml")});
  INFO(bad.Describe());
  CHECK(bad.exit_code != 0);
  CHECK_THAT(bad.err, Contains("spec.rules[0].backendRefs[0].weight"));
  CHECK_THAT(bad.err, Contains("is invalid"));
  CHECK(c.kubectl({"get", "httproute", "broken"}).exit_code != 0);
}

TEST_CASE("client-side apply of a custom resource: created, unchanged, configured", "[kubectl][apply]") {
  if (!HaveKubectl()) SLUICE_SKIP("kubectl is not installed");
  Cluster c;
  ApplyWidgetCrd(c.kubectl);
  CHECK_THAT(c.kubectl.Ok({"apply", "-f", TestData("widget-blue.yaml")}), Contains("widget.example.sluice.dev/blue created"));
  CHECK_THAT(c.kubectl.Ok({"apply", "-f", TestData("widget-blue.yaml")}), Contains("unchanged"));
  // Schema defaults are applied by the server.
  CHECK(Jsonpath(c.kubectl, "widget/blue", "{.spec.tier}") == "standard");

  std::string changed = ReadFile(TestData("widget-blue.yaml"));
  changed.replace(changed.find("size: 5"), 7, "size: 7");
  CHECK_THAT(c.kubectl.Ok({"apply", "-f", "-"}, changed), Contains("configured"));
  CHECK(Jsonpath(c.kubectl, "wd/blue", "{.spec.size}") == "7");
  CHECK(Jsonpath(c.kubectl, "wd/blue", "{.metadata.generation}") == "2");

  std::string invalid = changed;
  invalid.replace(invalid.find("color: blue"), 11, "color: pink");
  ProcessResult r = c.kubectl({"apply", "-f", "-"}, invalid);
  INFO(r.Describe());
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.err, Contains("spec.color") && Contains("Unsupported value"));
}

TEST_CASE("server-side apply: twice, after a change, conflicts and force", "[kubectl][apply]") {
  if (!HaveKubectl()) SLUICE_SKIP("kubectl is not installed");
  Cluster c;
  ApplyWidgetCrd(c.kubectl);
  CHECK_THAT(c.kubectl.Ok({"apply", "--server-side", "-f", TestData("widget-blue.yaml")}), Contains("serverside-applied"));
  CHECK_THAT(c.kubectl.Ok({"apply", "--server-side", "-f", TestData("widget-blue.yaml")}), Contains("serverside-applied"));
  std::string rv1 = Jsonpath(c.kubectl, "wd/blue", "{.metadata.resourceVersion}");
  c.kubectl.Ok({"apply", "--server-side", "-f", TestData("widget-blue.yaml")});
  CHECK(Jsonpath(c.kubectl, "wd/blue", "{.metadata.resourceVersion}") == rv1);  // a no-op apply writes nothing
  CHECK_THAT(Jsonpath(c.kubectl, "wd/blue", "{.metadata.managedFields[*].manager}"), Contains("kubectl"));

  std::string other = ReadFile(TestData("widget-blue.yaml"));
  other.replace(other.find("size: 5"), 7, "size: 9");
  ProcessResult conflict = c.kubectl({"apply", "--server-side", "--field-manager=ops", "-f", "-"}, other);
  INFO(conflict.Describe());
  CHECK(conflict.exit_code != 0);
  CHECK_THAT(conflict.err, Contains("conflict") && Contains(".spec.size"));
  c.kubectl.Ok({"apply", "--server-side", "--field-manager=ops", "--force-conflicts", "-f", "-"}, other);
  CHECK(Jsonpath(c.kubectl, "wd/blue", "{.spec.size}") == "9");
}

TEST_CASE("a Deployment applied client- and server-side rolls out", "[kubectl][apply][deployment]") {
  if (!HaveKubectl()) SLUICE_SKIP("kubectl is not installed");
  Cluster c;
  CHECK_THAT(c.kubectl.Ok({"apply", "-f", TestData("deployment-web.yaml")}), Contains("deployment.apps/web created"));
  CHECK_THAT(c.kubectl.Ok({"apply", "-f", TestData("deployment-web.yaml")}), Contains("unchanged"));
  CHECK_THAT(c.kubectl.Ok({"rollout", "status", "deployment/web", "--timeout=30s"}), Contains("successfully rolled out"));
  CHECK_THAT(c.kubectl.Ok({"get", "deploy", "web"}), Contains("2/2"));

  std::string changed = ReadFile(TestData("deployment-web.yaml"));
  changed.replace(changed.find("web:1.0.0"), 9, "web:1.1.0");
  CHECK_THAT(c.kubectl.Ok({"apply", "-f", "-"}, changed), Contains("configured"));
  CHECK(Jsonpath(c.kubectl, "deploy/web", "{.spec.template.spec.containers[0].image}") == "ghcr.io/example/web:1.1.0");
  CHECK(Jsonpath(c.kubectl, "deploy/web", "{.spec.template.spec.containers[1].name}") == "sidecar");
  CHECK_THAT(c.kubectl.Ok({"rollout", "status", "deployment/web", "--timeout=30s"}), Contains("successfully rolled out"));

  // Taking the Deployment over with server-side apply works on the same object.
  changed.replace(changed.find("replicas: 2"), 11, "replicas: 3");
  c.kubectl.Ok({"apply", "--server-side", "--force-conflicts", "-f", "-"}, changed);
  CHECK(Jsonpath(c.kubectl, "deploy/web", "{.spec.replicas}") == "3");
  CHECK_THAT(c.kubectl.Ok({"rollout", "status", "deployment/web", "--timeout=30s"}), Contains("successfully rolled out"));
}

TEST_CASE("kubectl get renders printer columns, wide, yaml, jsonpath and all namespaces", "[kubectl][get]") {
  if (!HaveKubectl()) SLUICE_SKIP("kubectl is not installed");
  Cluster c;
  ApplyWidgetCrd(c.kubectl);
  c.kubectl.Ok({"apply", "-f", TestData("widget-blue.yaml")});
  c.kubectl.Ok({"apply", "-f", "-"}, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-b\n");
  std::string red = ReadFile(TestData("widget-blue.yaml"));
  red.replace(red.find("name: blue"), 10, "name: red");
  red.replace(red.find("namespace: default"), 18, "namespace: team-b");
  red.replace(red.find("color: blue"), 11, "color: red");
  c.kubectl.Ok({"apply", "-f", "-"}, red);

  std::string table = c.kubectl.Ok({"get", "widgets"});
  CHECK_THAT(table, Contains("NAME") && Contains("COLOR") && Contains("SIZE") && Contains("AGE") && Contains("blue"));
  CHECK_THAT(table, !Contains("TIER") && !Contains("red"));
  CHECK_THAT(c.kubectl.Ok({"get", "wd", "-o", "wide"}), Contains("TIER") && Contains("standard"));
  std::string all = c.kubectl.Ok({"get", "wd", "-A"});
  CHECK_THAT(all, Contains("NAMESPACE") && Contains("team-b") && Contains("red") && Contains("blue"));
  CHECK_THAT(c.kubectl.Ok({"get", "wd", "blue", "-o", "yaml"}), Contains("kind: Widget") && Contains("uid:"));
  CHECK_THAT(c.kubectl.Ok({"get", "sluice-test"}), Contains("blue"));  // by category
  CHECK_THAT(c.kubectl.Ok({"get", "wd", "-l", "team=a", "-A", "-o", "name"}), Contains("widget.example.sluice.dev/blue"));
}

TEST_CASE("annotate, label and the three patch types", "[kubectl][patch]") {
  if (!HaveKubectl()) SLUICE_SKIP("kubectl is not installed");
  Cluster c;
  ApplyWidgetCrd(c.kubectl);
  c.kubectl.Ok({"apply", "-f", TestData("widget-blue.yaml")});
  c.kubectl.Ok({"apply", "-f", TestData("deployment-web.yaml")});

  c.kubectl.Ok({"annotate", "wd", "blue", "sluice.dev/abort=bad latency"});
  CHECK(Jsonpath(c.kubectl, "wd/blue", "{.metadata.annotations.sluice\\.dev/abort}") == "bad latency");
  c.kubectl.Ok({"annotate", "wd", "blue", "sluice.dev/abort-"});
  CHECK(Jsonpath(c.kubectl, "wd/blue", "{.metadata.annotations}").find("sluice.dev/abort") == std::string::npos);
  c.kubectl.Ok({"label", "wd", "blue", "team=b", "--overwrite"});
  CHECK_THAT(c.kubectl.Ok({"get", "wd", "-l", "team=b", "-o", "name"}), Contains("blue"));

  c.kubectl.Ok({"patch", "wd", "blue", "--type", "merge", "-p", R"({"spec":{"size":8}})"});
  CHECK(Jsonpath(c.kubectl, "wd/blue", "{.spec.size}") == "8");
  c.kubectl.Ok({"patch", "wd", "blue", "--type", "json", "-p", R"([{"op":"replace","path":"/spec/color","value":"green"}])"});
  CHECK(Jsonpath(c.kubectl, "wd/blue", "{.spec.color}") == "green");
  ProcessResult failed_test = c.kubectl(
      {"patch", "wd", "blue", "--type", "json", "-p", R"([{"op":"test","path":"/spec/color","value":"red"}])"});
  CHECK(failed_test.exit_code != 0);

  // Strategic merge is for built-in kinds only, as on a real cluster.
  ProcessResult smp = c.kubectl({"patch", "wd", "blue", "-p", R"({"spec":{"size":2}})"});
  INFO(smp.Describe());
  CHECK(smp.exit_code != 0);
  // The server's refusal, which kubectl 1.20 prints as it is and 1.32 prefixes with its own words.
  CHECK_THAT(smp.err, Contains("accepted media types include: application/json-patch+json"));
  c.kubectl.Ok({"patch", "deploy", "web", "-p",
                R"({"spec":{"template":{"spec":{"containers":[{"name":"web","image":"ghcr.io/example/web:2.0.0"}]}}}})"});
  CHECK(Jsonpath(c.kubectl, "deploy/web", "{.spec.template.spec.containers[*].name}") == "web sidecar");
  CHECK(Jsonpath(c.kubectl, "deploy/web", "{.spec.template.spec.containers[0].image}") == "ghcr.io/example/web:2.0.0");
  CHECK(Jsonpath(c.kubectl, "deploy/web", "{.spec.template.spec.containers[0].env[0].value}") == "blue");
}

TEST_CASE("kubectl wait --for=condition and get -w see status changes", "[kubectl][watch]") {
  if (!HaveKubectl()) SLUICE_SKIP("kubectl is not installed");
  Cluster c;
  ApplyWidgetCrd(c.kubectl);
  c.kubectl.Ok({"apply", "-f", TestData("widget-blue.yaml")});

  auto watch = c.kubectl.Background({"get", "wd", "-w"});
  REQUIRE(watch->WaitForOutput("blue", std::chrono::seconds(15)));
  auto wait = c.kubectl.Background({"wait", "--for=condition=Ready", "wd/blue", "--timeout=30s"});
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(wait->Running());

  // A controller's status write. `patch --subresource` needs kubectl 1.24; a PUT of the status
  // subresource through `replace --raw` works with every kubectl the suite supports.
  json blue = json::parse(c.kubectl.Ok({"get", "wd", "blue", "-o", "json"}));
  blue["status"] = json::parse(
      R"({"observedGeneration":1,"conditions":[{"type":"Ready","status":"True","reason":"Done","message":"ok"}]})");
  c.kubectl.Ok({"replace", "--raw", "/apis/example.sluice.dev/v1/namespaces/default/widgets/blue/status", "-f", "-"},
               blue.dump());
  CHECK(WaitFor([&] { return !wait->Running(); }, std::chrono::seconds(15)));
  CHECK_THAT(wait->Stdout(), Contains("condition met"));
  // The status write shows up on the open watch as a row with READY True.
  CHECK(watch->WaitForOutput("True", std::chrono::seconds(15)));
  // A status write does not bump the generation of an object with a status subresource.
  CHECK(Jsonpath(c.kubectl, "wd/blue", "{.metadata.generation}") == "1");
}

TEST_CASE("kubectl create of namespaces, configmaps and secrets (protobuf bodies)", "[kubectl][create]") {
  if (!HaveKubectl()) SLUICE_SKIP("kubectl is not installed");
  Cluster c;
  CHECK_THAT(c.kubectl.Ok({"create", "namespace", "team-c"}), Contains("created"));
  c.kubectl.Ok({"create", "configmap", "settings", "-n", "team-c", "--from-literal=mode=blue"});
  CHECK(c.kubectl.Ok({"get", "cm", "settings", "-n", "team-c", "-o", "jsonpath={.data.mode}"}) == "blue");
  c.kubectl.Ok({"create", "secret", "generic", "token", "--from-literal=t=s3cret"});
  CHECK(Jsonpath(c.kubectl, "secret/token", "{.data.t}") == "czNjcmV0");
}

TEST_CASE("delete with and without finalizers", "[kubectl][delete]") {
  if (!HaveKubectl()) SLUICE_SKIP("kubectl is not installed");
  Cluster c;
  ApplyWidgetCrd(c.kubectl);
  c.kubectl.Ok({"apply", "-f", TestData("widget-blue.yaml")});
  c.kubectl.Ok({"apply", "-f", "-"}, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\ndata:\n  a: b\n");
  CHECK_THAT(c.kubectl.Ok({"delete", "configmap", "plain"}), Contains("deleted"));
  CHECK(c.kubectl({"get", "configmap", "plain"}).exit_code != 0);

  c.kubectl.Ok({"patch", "wd", "blue", "--type", "merge", "-p", R"({"metadata":{"finalizers":["example.sluice.dev/keep"]}})"});
  c.kubectl.Ok({"delete", "wd", "blue", "--wait=false"});
  CHECK_FALSE(Jsonpath(c.kubectl, "wd/blue", "{.metadata.deletionTimestamp}").empty());
  auto waiter = c.kubectl.Background({"wait", "--for=delete", "wd/blue", "--timeout=30s"});
  c.kubectl.Ok({"patch", "wd", "blue", "--type", "json", "-p", R"([{"op":"remove","path":"/metadata/finalizers"}])"});
  CHECK(WaitFor([&] { return !waiter->Running(); }, std::chrono::seconds(15)));
  ProcessResult gone = c.kubectl({"get", "wd", "blue"});
  CHECK(gone.exit_code != 0);
  CHECK_THAT(gone.err, Contains("NotFound") || Contains("not found"));
}

// A fresh Debian 12 gets kubectl 1.20, which validates against /openapi/v2 (protobuf) and
// explains from it; kubectl 1.32 uses /openapi/v3 and server-side field validation. Both must
// work against the emulator, so this runs every kubectl the machine has.
TEST_CASE("every kubectl the suite supports: create, apply, explain and validation of a Canary",
          "[kubectl][versions]") {
  auto binaries = KubectlBinaries();
  if (binaries.empty()) SLUICE_SKIP("kubectl is not installed (scripts/install-deps.sh installs it)");
  for (const auto& binary : binaries) {
    const std::string version = KubectlVersion(binary);
    INFO("kubectl " << binary << " " << version);
    EmulatorProcess emulator;
    Kubectl k(emulator, binary);
    k.Ok({"apply", "-f", std::string(SLUICE_SOURCE_DIR) + "/crds"});
    k.Ok({"wait", "--for=condition=Established", "crd/canaries.sluice.dev", "--timeout=20s"});
    k.Ok({"create", "namespace", "demo"});

    std::string explain = k.Ok({"explain", "canary.spec.analysis"});
    CHECK_THAT(explain, Contains("KIND:") && Contains("Canary") && Contains("stepWeight") && Contains("interval"));
    CHECK_THAT(k.Ok({"explain", "canary.metadata"}), Contains("ObjectMeta") || Contains("annotations"));

    std::string canary = ReadFile(std::string(SLUICE_SOURCE_DIR) + "/examples/podinfo/canary.yaml");
    CHECK_THAT(k.Ok({"create", "-f", "-"}, canary), Contains("canary.sluice.dev/podinfo created"));
    CHECK_THAT(k.Ok({"get", "canaries", "-n", "demo"}), Contains("podinfo"));
    CHECK_THAT(k.Ok({"apply", "-f", "-"}, canary), Contains("podinfo"));
    CHECK_THAT(k.Ok({"apply", "--server-side", "--force-conflicts", "-f", "-"}, canary),
               Contains("serverside-applied"));

    // A typo is refused, by kubectl 1.20 from the v2 schema, by 1.32 from the server.
    std::string typo = canary;
    typo.replace(typo.find("stepWeight:"), 11, "stepWieght:");
    ProcessResult bad = k({"apply", "-f", "-"}, typo);
    INFO(bad.Describe());
    CHECK(bad.exit_code != 0);
    CHECK_THAT(bad.err, Contains("stepWieght"));
    CHECK(k.Ok({"get", "canary", "podinfo", "-n", "demo", "-o", "jsonpath={.spec.analysis.stepWeight}"}) == "20");

    k.Ok({"annotate", "canary", "podinfo", "-n", "demo", "sluice.dev/reconcile=now"});
    CHECK_THAT(k.Ok({"delete", "canary", "podinfo", "-n", "demo"}), Contains("deleted"));
  }
}
