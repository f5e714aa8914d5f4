// The user commands against the emulator and a running controller, as `sluice ...` and as
// the kubectl plugin `kubectl sluice ...`.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>

#include "tests/e2e/canary_harness.h"
#include "tests/support/fixtures.h"
#include "tests/support/skip.h"

using namespace sluice::testing;
using Catch::Matchers::Contains;

namespace {

ProcessResult Sluice(const EmulatorProcess& emu, std::vector<std::string> args) {
  args.insert(args.begin(), SLUICE_BINARY);
  return Run(args, {{"KUBECONFIG", emu.kubeconfig()}});
}

}  // namespace

TEST_CASE("sluice get, status, pause, resume, abort and retry drive a rollout, kubectl sluice works too", "[e2e][cli]") {
  if (!HaveKubectl()) SLUICE_SKIP("kubectl is not installed");
  auto crds = CrdFixtureDir();
  if (!crds) SLUICE_SKIP("Gateway API CRDs not found: set SLUICE_CRD_DIR (docs/testing.md)");
  SluiceCrdCluster cluster(*crds, "200");
  const EmulatorProcess& emu = cluster.emulator();
  const Kubectl& k = cluster.kubectl();
  BackgroundProcess controller({SLUICE_BINARY, "controller", "--kubeconfig", emu.kubeconfig(), "--leader-elect=false",
                                "--listen", "127.0.0.1:0", "--log-format", "text"});
  k.Ok({"apply", "-f", "-"}, AppManifest("1.0.0", R"(  service:
    port: 9898
  analysis:
    interval: 1s
    threshold: 2
    stepWeight: 10
    maxWeight: 50
)"));
  auto phase = [&] { return k({"get", "canary/podinfo", "-o", "jsonpath={.status.phase}"}).out; };
  REQUIRE(WaitFor([&] { return phase() == "Initialized"; }, std::chrono::seconds(30)));

  ProcessResult get = Sluice(emu, {"get", "canaries"});
  REQUIRE(get.exit_code == 0);
  CHECK_THAT(get.out, Contains("NAME      STATUS        WEIGHT   FAILEDCHECKS   LASTTRANSITION"));
  CHECK_THAT(get.out, Contains("podinfo   Initialized   0        0"));
  CHECK_THAT(Sluice(emu, {"get", "canaries", "-A"}).out, Contains("default     podinfo"));
  CHECK_THAT(Sluice(emu, {"get", "canaries", "-n", "elsewhere"}).err, Contains("No resources found in elsewhere namespace."));
  CHECK_THAT(Sluice(emu, {"get", "widgets"}).err, Contains("unknown kind \"widgets\""));

  // Pause first, so the new revision waits; then resume and let it progress.
  ProcessResult pause = Sluice(emu, {"pause", "podinfo"});
  REQUIRE(pause.exit_code == 0);
  CHECK(k({"get", "canary/podinfo", "-o", "jsonpath={.spec.suspend}"}).out == "true");
  k.Ok({"set", "image", "deployment/podinfo", "podinfo=ghcr.io/example/podinfo:2.0.0"});
  CHECK(WaitFor([&] { return Sluice(emu, {"status", "podinfo"}).out.find("(suspended)") != std::string::npos; },
                std::chrono::seconds(10)));
  REQUIRE(Sluice(emu, {"resume", "podinfo"}).exit_code == 0);
  REQUIRE(WaitFor([&] { return phase() == "Progressing"; }, std::chrono::seconds(30)));

  ProcessResult status;
  WaitFor(
      [&] {
        status = Sluice(emu, {"status", "podinfo"});
        return status.out.find("Normal Advance") != std::string::npos;
      },
      std::chrono::seconds(15));
  INFO(status.out << status.err);
  REQUIRE(status.exit_code == 0);
  CHECK_THAT(status.out, Contains("Canary default/podinfo"));
  CHECK_THAT(status.out, Contains("Target: Deployment/podinfo (provider gatewayapi, canary)"));
  CHECK_THAT(status.out, Contains("Phase: Progressing"));
  CHECK_THAT(status.out, Contains("% of max 50, step 10"));
  CHECK_THAT(status.out, Contains("Normal Advance: canary weight"));  // events, found by field selector

  // The kubectl plugin is the same binary under the name kubectl finds on PATH.
  std::string plugin_dir = std::filesystem::path(SLUICE_BINARY).parent_path().string();
  REQUIRE(std::filesystem::exists(plugin_dir + "/kubectl-sluice"));
  std::string path = plugin_dir + ":" + std::getenv("PATH");
  ProcessResult plugin = Run({"kubectl", "sluice", "status", "podinfo"}, {{"KUBECONFIG", emu.kubeconfig()}, {"PATH", path}});
  INFO(plugin.err);
  CHECK(plugin.exit_code == 0);
  CHECK_THAT(plugin.out, Contains("Canary default/podinfo"));

  ProcessResult abort = Sluice(emu, {"abort", "podinfo", "--reason", "latency looks wrong", "--wait"});
  INFO(abort.out << abort.err);
  REQUIRE(abort.exit_code == 0);
  CHECK_THAT(abort.out, Contains("abort requested"));
  CHECK(phase() == "Failed");
  CHECK(k({"get", "httproute/podinfo", "-o", "jsonpath={.spec.rules[0].backendRefs[1].weight}"}).out == "0");
  CHECK_THAT(Sluice(emu, {"status", "podinfo"}).out, Contains("latency looks wrong"));

  REQUIRE(Sluice(emu, {"retry", "podinfo", "--wait"}).exit_code == 0);
  CHECK(WaitFor([&] { return phase() == "Succeeded"; }, std::chrono::seconds(40)));

  ProcessResult missing = Sluice(emu, {"status", "nope"});
  CHECK(missing.exit_code == 1);
  CHECK_THAT(missing.err, Contains("Error from server (NotFound)"));
  CHECK(Sluice(emu, {"reconcile", "canary", "podinfo"}).exit_code == 0);
  ProcessResult watch = Sluice(emu, {"watch", "podinfo", "--timeout", "1s"});
  CHECK(watch.exit_code == 0);
  CHECK_THAT(watch.out, Contains("Phase: Succeeded"));
}
