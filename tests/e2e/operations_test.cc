// What an operator sees of `sluice controller`: two replicas elect one leader by default, the
// follower takes over when the leader dies, and /metrics, /healthz and /readyz answer on the
// one port with the rollout's figures.
#include <catch2/catch.hpp>

#include <signal.h>

#include "tests/e2e/canary_harness.h"
#include "tests/support/fixtures.h"
#include "tests/support/http_get.h"
#include "tests/support/skip.h"

using namespace sluice::testing;
using Catch::Matchers::Contains;

namespace {

// A replica as a Deployment would run it: leader election is not turned on by a flag.
struct Replica {
  std::unique_ptr<BackgroundProcess> process;
  uint16_t port = 0;

  explicit Replica(const EmulatorProcess& emu) {
    process = std::make_unique<BackgroundProcess>(std::vector<std::string>{
        SLUICE_BINARY, "controller", "--kubeconfig", emu.kubeconfig(), "--listen", "127.0.0.1:0", "--log-format",
        "text", "--lease-duration", "3", "--renew-deadline", "2", "--retry-period", "0.5"});
    port = WaitForOpsPort(*process, std::chrono::seconds(10));
  }
  std::string Metrics() const { return HttpGet(port, "/metrics").body; }
  bool Leading() const { return Metrics().find("\nsluice_leader 1") != std::string::npos; }
};

}  // namespace

TEST_CASE("two replicas elect one leader, /metrics, /healthz and /readyz report the rollout", "[e2e][operations]") {
  if (!HaveKubectl()) SLUICE_SKIP("kubectl is not installed");
  auto crds = CrdFixtureDir();
  if (!crds) SLUICE_SKIP("Gateway API CRDs not found: set SLUICE_CRD_DIR (docs/testing.md)");
  SluiceCrdCluster cluster(*crds, "200");
  const EmulatorProcess& emu = cluster.emulator();
  const Kubectl& k = cluster.kubectl();

  Replica a(emu), b(emu);
  REQUIRE(a.port != 0);
  REQUIRE(b.port != 0);
  REQUIRE(WaitFor([&] { return a.Leading() != b.Leading(); }, std::chrono::seconds(15)));
  Replica& leader = a.Leading() ? a : b;
  Replica& follower = a.Leading() ? b : a;
  CHECK(HttpGet(leader.port, "/healthz").status == 200);
  CHECK(HttpGet(follower.port, "/healthz").status == 200);
  CHECK(WaitFor([&] { return HttpGet(leader.port, "/readyz").status == 200; }, std::chrono::seconds(10)));
  // A follower stands by, ready to lead, once its own start-up check of the API has passed.
  CHECK(WaitFor([&] { return HttpGet(follower.port, "/readyz").status == 200; }, std::chrono::seconds(10)));
  CHECK(HttpGet(leader.port, "/nothing").status == 404);
  CHECK(k({"get", "lease", "sluice-controller", "-n", "default"}).exit_code == 0);

  k.Ok({"apply", "-f", "-"}, AppManifest("1.0.0", R"(  service:
    port: 9898
  analysis:
    interval: 1s
    threshold: 2
    stepWeight: 25
    maxWeight: 50
)"));
  auto phase = [&] { return k({"get", "canary/podinfo", "-o", "jsonpath={.status.phase}"}).out; };
  REQUIRE(WaitFor([&] { return phase() == "Initialized"; }, std::chrono::seconds(30)));
  k.Ok({"set", "image", "deployment/podinfo", "podinfo=ghcr.io/example/podinfo:2.0.0"});
  REQUIRE(WaitFor([&] { return phase() == "Progressing"; }, std::chrono::seconds(30)));
  CHECK(WaitFor([&] { return leader.Metrics().find(R"(sluice_canary_weight{name="podinfo",namespace="default"} 25)") !=
                             std::string::npos; },
                std::chrono::seconds(15)));
  REQUIRE(WaitFor([&] { return phase() == "Succeeded"; }, std::chrono::seconds(40)));

  std::string metrics = leader.Metrics();
  INFO(metrics);
  CHECK_THAT(metrics, Contains(R"(sluice_canary_phase{name="podinfo",namespace="default",phase="Succeeded"} 1)"));
  CHECK_THAT(metrics, Contains(R"(sluice_canary_weight{name="podinfo",namespace="default"} 0)"));
  CHECK_THAT(metrics, Contains(R"(sluice_canary_rollouts_total{result="succeeded",strategy="canary"} 1)"));
  CHECK_THAT(metrics, Contains("sluice_canary_rollout_duration_seconds_count{strategy=\"canary\"} 1"));
  CHECK_THAT(metrics, Contains("sluice_workqueue_depth "));
  CHECK_THAT(metrics, Contains("sluice_reconcile_errors_total "));
  CHECK(follower.Metrics().find("sluice_canary_weight{") == std::string::npos);  // the follower did nothing

  // The leader dies without releasing the lease: the follower takes over after the lease
  // expires and carries the next rollout.
  ::kill(leader.process->pid(), SIGKILL);
  leader.process->Stop();
  REQUIRE(WaitFor([&] { return follower.Leading(); }, std::chrono::seconds(15)));
  k.Ok({"set", "image", "deployment/podinfo", "podinfo=ghcr.io/example/podinfo:3.0.0"});
  bool promoted = WaitFor(
      [&] {
        return k({"get", "deploy/podinfo-primary", "-o", "jsonpath={.spec.template.spec.containers[0].image}"}).out ==
               "ghcr.io/example/podinfo:3.0.0";
      },
      std::chrono::seconds(40));
  INFO(follower.process->Stdout() << follower.process->Stderr());
  CHECK(promoted);
}
