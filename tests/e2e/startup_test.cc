// `sluice controller` started before its API: it waits (with backoff, up to
// --startup-timeout) and comes up when the API does; an API that never answers ends in exit 1
// saying it could not be reached; an API without Sluice's CRDs ends in exit 1 saying to apply
// them. Never exit 0 for any of these.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <thread>

#include "tests/e2e/canary_harness.h"
#include "tests/support/ports.h"
#include "tests/support/skip.h"

using namespace sluice::testing;
using Catch::Matchers::Contains;
using std::chrono::seconds;

namespace {

// A kubeconfig naming a plain-HTTP server on a loopback port, written before anything listens.
std::string KubeconfigFor(const TempDir& dir, uint16_t port) {
  dir.Write("kubeconfig", "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:" +
                              std::to_string(port) +
                              "\ncontexts:\n- name: c\n  context: {cluster: c, user: u, namespace: default}\n"
                              "current-context: c\nusers:\n- name: u\n  user: {}\n");
  return dir.File("kubeconfig");
}

std::vector<std::string> ControllerArgs(const std::string& kubeconfig, const std::string& startup_timeout) {
  return {SLUICE_BINARY, "controller", "--kubeconfig", kubeconfig, "--leader-elect=false", "--listen", "127.0.0.1:0",
          "--log-format", "text", "--startup-timeout", startup_timeout};
}

// `sluice emulator` on a given port, with Sluice's CRDs when asked.
std::unique_ptr<BackgroundProcess> StartEmulator(const TempDir& dir, uint16_t port, bool sluice_crds) {
  std::vector<std::string> argv = {SLUICE_BINARY, "emulator", "--listen", "127.0.0.1:" + std::to_string(port),
                                   "--kubeconfig", dir.File("emulator.kubeconfig"), "--ready-delay", "200"};
  if (sluice_crds) argv.insert(argv.end(), {"--crds", std::string(SLUICE_SOURCE_DIR) + "/crds"});
  auto emulator = std::make_unique<BackgroundProcess>(argv);
  bool up = WaitFor([&] { return emulator->Stdout().find("serving the Kubernetes API") != std::string::npos; },
                    seconds(20));
  INFO(emulator->Stdout() << emulator->Stderr());
  REQUIRE(up);
  return emulator;
}

}  // namespace

TEST_CASE("controller: started 3 s before its API, it waits, then comes up and works", "[e2e][startup]") {
  if (!HaveKubectl()) SLUICE_SKIP("kubectl is not installed");
  TempDir dir;
  uint16_t port = FreeLoopbackPort();
  BackgroundProcess controller(ControllerArgs(KubeconfigFor(dir, port), "30"));
  std::this_thread::sleep_for(seconds(3));
  REQUIRE(controller.Running());
  auto emulator = StartEmulator(dir, port, true);
  Kubectl k(dir.File("emulator.kubeconfig"));

  k.Ok({"apply", "-f", "-"}, AppManifest("1.0.0", R"(  provider: kubernetes
  service:
    port: 9898
  analysis:
    interval: 1s
    iterations: 2
)"));
  k.Ok({"apply", "-f", "-"}, R"(apiVersion: v1
kind: Secret
metadata: {name: hook-token, namespace: default}
stringData: {token: t0ps3cret}
---
apiVersion: sluice.dev/v1beta1
kind: Receiver
metadata: {name: push, namespace: default}
spec:
  type: github
  secretRef: {name: hook-token}
  resources: [{kind: GitRepository, name: app}]
)");
  auto get = [&](const std::string& object, const std::string& path) {
    return k({"get", object, "-o", "jsonpath=" + path}).out;
  };
  bool initialized = WaitFor([&] { return get("canary/podinfo", "{.status.phase}") == "Initialized"; }, seconds(30));
  bool receiving = WaitFor([&] { return get("receiver/push", "{.status.conditions[0].status}") == "True"; }, seconds(10));
  std::string logs = controller.Stdout() + controller.Stderr();
  INFO(logs);
  CHECK(initialized);
  CHECK(receiving);  // the receivers did not give up while the API was away
  CHECK(controller.Running());
  CHECK_THAT(logs, Contains("waiting for the API"));
  CHECK_THAT(logs, !Contains("stopped"));
}

TEST_CASE("controller: an API that never answers ends in exit 1 after --startup-timeout, saying so",
          "[e2e][startup]") {
  TempDir dir;
  uint16_t port = FreeLoopbackPort();  // nothing listens there
  auto started = std::chrono::steady_clock::now();
  ProcessResult r = Run(ControllerArgs(KubeconfigFor(dir, port), "2"), {}, seconds(30));
  auto took = std::chrono::steady_clock::now() - started;
  INFO(r.Describe());
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out + r.err, Contains("the API could not be reached within 2s"));
  CHECK_THAT(r.out + r.err, Contains("Connection refused"));
  CHECK_THAT(r.out + r.err, Contains("retrying may help"));
  CHECK_THAT(r.out + r.err, !Contains("does not serve"));
  CHECK(took >= std::chrono::milliseconds(1900));
  CHECK(took < seconds(10));
}

TEST_CASE("controller: an API without Sluice's CRDs ends in exit 1 with the apply-crds hint", "[e2e][startup]") {
  TempDir dir;
  uint16_t port = FreeLoopbackPort();
  auto emulator = StartEmulator(dir, port, false);
  ProcessResult r = Run(ControllerArgs(KubeconfigFor(dir, port), "30"), {}, seconds(30));
  INFO(r.Describe());
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out + r.err, Contains("the API does not serve sluice.dev/v1beta1 Canary (apply crds/)"));
  CHECK_THAT(r.out + r.err, !Contains("could not be reached"));
}
