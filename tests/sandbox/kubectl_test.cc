// The real kubectl against the emulator: kubectl compatibility is what the emulator is for.
#include <catch2/catch.hpp>

#include "tests/sandbox/fixture.h"
#include "tests/support/fixtures.h"
#include "tests/support/process.h"

#include <filesystem>

using namespace sluice::sandbox;
using sluice::testing::ProcessResult;
using sluice::testing::Run;
using sluice::testing::TempDir;

namespace {

struct Kubectl {
  explicit Kubectl(Emulator& e) {
    kubeconfig = dir.File("kubeconfig");
    e.WriteKubeconfig(kubeconfig);
  }
  ProcessResult operator()(std::vector<std::string> args, const std::string& input = "") {
    std::vector<std::string> argv = {"kubectl", "--kubeconfig", kubeconfig};
    argv.insert(argv.end(), args.begin(), args.end());
    return Run(argv, {{"KUBECACHEDIR", dir.File("cache")}, {"HOME", dir.path()}}, std::chrono::seconds(60), input);
  }
  TempDir dir;
  std::string kubeconfig;
};

bool HaveKubectl() { return std::filesystem::exists("/usr/bin/kubectl"); }

}  // namespace

TEST_CASE("kubectl: get, create, rollout status, apply, patch, annotate, delete", "[sandbox][kubectl]") {
  if (!HaveKubectl()) {
    WARN("kubectl is not installed; skipping");
    return;
  }
  EmulatorOptions o;
  o.deployment_ready_delay = std::chrono::milliseconds(300);
  testing::EmulatorFixture f(o);
  Kubectl k(f.emulator);

  auto ns = k({"get", "ns"});
  INFO(ns.Describe());
  REQUIRE(ns.exit_code == 0);
  CHECK(ns.out.find("kube-system") != std::string::npos);

  // `kubectl create deploy` sends protobuf, which the emulator does not decode; apply sends JSON.
  auto create = k({"apply", "-f", "-"},
                  "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  selector:\n    matchLabels:\n"
                  "      app: x\n  template:\n    metadata:\n      labels:\n        app: x\n    spec:\n"
                  "      containers:\n      - name: nginx\n        image: nginx\n");
  INFO(create.Describe());
  REQUIRE(create.exit_code == 0);
  auto rollout = k({"rollout", "status", "deploy/x", "--timeout=20s"});
  INFO(rollout.Describe());
  CHECK(rollout.exit_code == 0);
  CHECK(rollout.out.find("successfully rolled out") != std::string::npos);
  auto get = k({"get", "deploy", "x"});
  INFO(get.Describe());
  CHECK(get.exit_code == 0);
  CHECK(get.out.find("x") != std::string::npos);

  std::string cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  a: \"1\"\n";
  auto apply1 = k({"apply", "-f", "-"}, cm);
  INFO(apply1.Describe());
  CHECK(apply1.exit_code == 0);
  CHECK(apply1.out.find("created") != std::string::npos);
  auto apply2 = k({"apply", "-f", "-"}, cm);
  INFO(apply2.Describe());
  CHECK(apply2.exit_code == 0);
  CHECK(apply2.out.find("unchanged") != std::string::npos);
  auto apply3 = k({"apply", "-f", "-"}, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  a: \"2\"\n");
  INFO(apply3.Describe());
  CHECK(apply3.exit_code == 0);
  CHECK(apply3.out.find("configured") != std::string::npos);
  auto ssa = k({"apply", "--server-side", "-f", "-"},
               "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  a: \"1\"\n");
  INFO(ssa.Describe());
  CHECK(ssa.exit_code == 0);

  auto annotate = k({"annotate", "cm", "app", "team=web"});
  INFO(annotate.Describe());
  CHECK(annotate.exit_code == 0);
  auto patch = k({"patch", "cm", "app", "-p", R"({"data":{"b":"3"}})"});
  INFO(patch.Describe());
  CHECK(patch.exit_code == 0);
  auto json = k({"get", "cm", "app", "-o", "json"});
  REQUIRE(json.exit_code == 0);
  auto obj = nlohmann::json::parse(json.out);
  CHECK(obj["metadata"]["annotations"]["team"] == "web");
  CHECK(obj["data"]["b"] == "3");

  auto del = k({"delete", "cm", "app", "--timeout=20s"});
  INFO(del.Describe());
  CHECK(del.exit_code == 0);
  CHECK(k({"get", "cm", "app"}).exit_code != 0);
}

TEST_CASE("kubectl: a real CRD, wait for established, custom resources and printer columns", "[sandbox][kubectl][crd]") {
  auto crd = sluice::testing::CrdFixture("gateway-api-v1.6.1-httproutes.yaml");
  if (!HaveKubectl() || !crd) {
    WARN("kubectl or the Gateway API fixtures are missing; skipping");
    return;
  }
  testing::EmulatorFixture f;
  Kubectl k(f.emulator);
  auto apply = k({"apply", "-f", *crd});
  INFO(apply.Describe());
  REQUIRE(apply.exit_code == 0);
  auto wait = k({"wait", "--for", "condition=established", "crd/httproutes.gateway.networking.k8s.io", "--timeout=20s"});
  INFO(wait.Describe());
  CHECK(wait.exit_code == 0);
  std::string route =
      "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: web\nspec:\n"
      "  parentRefs:\n  - name: gw\n  hostnames: [\"web.example.com\"]\n  rules:\n  - backendRefs:\n"
      "    - name: web-primary\n      port: 80\n      weight: 90\n    - name: web-canary\n      port: 80\n"
      "      weight: 10\n";
  auto created = k({"apply", "-f", "-"}, route);
  INFO(created.Describe());
  CHECK(created.exit_code == 0);
  auto get = k({"get", "httproutes"});
  INFO(get.Describe());
  CHECK(get.exit_code == 0);
  CHECK(get.out.find("HOSTNAMES") != std::string::npos);
  CHECK(get.out.find("web.example.com") != std::string::npos);
  auto merge = k({"patch", "httproute", "web", "--type", "merge", "-p", R"({"metadata":{"labels":{"a":"b"}}})"});
  INFO(merge.Describe());
  CHECK(merge.exit_code == 0);
  auto strategic = k({"patch", "httproute", "web", "-p", R"({"metadata":{"labels":{"a":"c"}}})"});
  CHECK(strategic.exit_code != 0);
  CHECK(strategic.err.find("application/merge-patch+json") != std::string::npos);
  auto del = k({"delete", "httproute", "web", "--timeout=20s"});
  INFO(del.Describe());
  CHECK(del.exit_code == 0);
}
