// State lives in the Canary's status: `sluice controller` killed with SIGKILL at random
// moments of a rollout and started again ends in the same promotion as an undisturbed run.
#include <catch2/catch.hpp>

#include <signal.h>

#include <random>
#include <thread>

#include "tests/e2e/canary_harness.h"
#include "tests/support/fixtures.h"
#include "tests/support/skip.h"

using namespace sluice::testing;

namespace {

std::unique_ptr<BackgroundProcess> StartController(const EmulatorProcess& emu) {
  return std::make_unique<BackgroundProcess>(std::vector<std::string>{
      SLUICE_BINARY, "controller", "--kubeconfig", emu.kubeconfig(), "--leader-elect=false", "--listen",
      "127.0.0.1:0", "--log-format", "text"});
}

}  // namespace

TEST_CASE("kill -9 of the controller mid-rollout, then a restart, ends in the same promotion", "[canary][e2e][restart]") {
  if (!HaveKubectl()) SLUICE_SKIP("kubectl is not installed");
  auto crds = CrdFixtureDir();
  if (!crds) SLUICE_SKIP("Gateway API CRDs not found: set SLUICE_CRD_DIR (docs/testing.md)");
  SluiceCrdCluster cluster(*crds, "300");
  const EmulatorProcess& emu = cluster.emulator();
  const Kubectl& k = cluster.kubectl();
  auto controller = StartController(emu);
  k.Ok({"apply", "-f", "-"}, AppManifest("1.0.0", R"(  service:
    port: 9898
  analysis:
    interval: 1s
    threshold: 2
    stepWeight: 10
    maxWeight: 50
)"));
  auto get = [&](const std::string& obj, const std::string& path) {
    ProcessResult r = k({"get", obj, "-o", "jsonpath=" + path});
    return r.exit_code == 0 ? r.out : "";
  };
  REQUIRE(WaitFor([&] { return get("canary/podinfo", "{.status.phase}") == "Initialized"; }, std::chrono::seconds(30)));
  k.Ok({"set", "image", "deployment/podinfo", "podinfo=ghcr.io/example/podinfo:2.0.0"});

  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> pause_ms(300, 1500);
  for (int kill = 0; kill < 4 && get("canary/podinfo", "{.status.phase}") != "Succeeded"; ++kill) {
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(rng)));
    ::kill(controller->pid(), SIGKILL);
    controller->Stop();
    controller = StartController(emu);
  }
  bool done = WaitFor([&] { return get("canary/podinfo", "{.status.phase}") == "Succeeded"; }, std::chrono::seconds(60));
  INFO(get("canary/podinfo", "{.status}") << "\n" << controller->Stdout() << controller->Stderr());
  REQUIRE(done);
  CHECK(get("deploy/podinfo-primary", "{.spec.template.spec.containers[0].image}") == "ghcr.io/example/podinfo:2.0.0");
  CHECK(get("httproute/podinfo", "{.spec.rules[0].backendRefs[1].weight}") == "0");
  CHECK(get("deploy/podinfo", "{.spec.replicas}") == "0");
  CHECK(get("canary/podinfo", "{.status.failedChecks}") == "0");
  CHECK(get("canary/podinfo", "{.status.conditions[?(@.type==\"Promoted\")].status}") == "True");
}
