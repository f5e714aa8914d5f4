// `sluice analyze`: the real binary reads a Canary and its MetricTemplate from the API
// emulator (objects applied with the real kubectl) and replays the analysis against the
// backfilled Prometheus, step by step.
#include <catch2/catch.hpp>

#include <filesystem>

#include "sandbox/emulator/emulator.h"
#include "tests/analysis/prom_harness.h"
#include "tests/e2e/kubectl_harness.h"
#include "tests/support/skip.h"

using namespace sluice;
using namespace sluice::testing;
using Catch::Matchers::Contains;

namespace {

struct Cluster {
  TempDir dir;
  sandbox::Emulator emulator;
  std::string kubeconfig = dir.File("kubeconfig");

  Cluster() {
    emulator.Start();
    emulator.WriteKubeconfig(kubeconfig);
    for (const auto& entry : std::filesystem::directory_iterator(std::string(SLUICE_SOURCE_DIR) + "/crds"))
      emulator.LoadCrdsYaml(ReadFile(entry.path()));
  }
  ~Cluster() { emulator.Stop(); }

  void Apply(const std::string& yaml) {
    ProcessResult r = Run({"kubectl", "--kubeconfig", kubeconfig, "apply", "-f", "-"},
                          {{"KUBECACHEDIR", dir.File("kubecache")}}, std::chrono::seconds(60), yaml);
    REQUIRE(r.exit_code == 0);
  }

  ProcessResult Analyze(std::vector<std::string> args) {
    std::vector<std::string> argv = {SLUICE_BINARY, "analyze", "--kubeconfig", kubeconfig};
    argv.insert(argv.end(), args.begin(), args.end());
    return Run(argv, {}, std::chrono::seconds(60));
  }
};

std::string Objects(const std::string& address) {
  return R"(apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: sluice.dev/v1beta1
kind: MetricTemplate
metadata:
  name: step
  namespace: shop
spec:
  provider:
    type: prometheus
    address: )" + address + R"(
  query: sluice_test_step{app="{{ variables.app }}"}
---
apiVersion: sluice.dev/v1beta1
kind: Canary
metadata:
  name: web
  namespace: shop
spec:
  provider: istio
  targetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: web
  service:
    port: 8080
  analysis:
    interval: 1m
    threshold: 3
    stepWeight: 10
    metrics:
      - name: shop-rate
        templateRef:
          name: step
        templateVariables:
          app: shop
        thresholdRange:
          min: 99
      - name: request-success-rate
        thresholdRange:
          min: 90
)";
}

}  // namespace

TEST_CASE("sluice analyze replays each step of a past window with values and verdicts", "[analysis][analyze]") {
  if (!HavePrometheus()) SLUICE_SKIP("prometheus and promtool are not installed");
  if (!HaveKubectl()) SLUICE_SKIP("kubectl is not installed");
  REQUIRE(SharedPrometheus().ready());
  Cluster cluster;
  cluster.Apply(Objects(SharedPrometheus().address()));

  ProcessResult r = cluster.Analyze({"web", "-n", "shop", "--from", "2026-01-01T00:05:00Z", "--to",
                                     "2026-01-01T00:15:00Z", "--prometheus-address", SharedPrometheus().address()});
  INFO(r.Describe());
  REQUIRE(r.exit_code == 0);
  std::vector<std::string> lines;
  std::string line;
  for (char c : r.out) {
    if (c == '\n') {
      lines.push_back(line);
      line.clear();
    } else {
      line += c;
    }
  }
  // A header, 11 steps x 2 metrics, a blank line and the summary.
  REQUIRE(lines.size() == 1 + 22 + 2);
  CHECK_THAT(lines[0], Contains("TIME") && Contains("METRIC") && Contains("VALUE") && Contains("VERDICT"));
  auto row = [&](const std::string& time, const std::string& metric) -> std::string {
    for (const auto& l : lines)
      if (l.starts_with(time) && l.find(" " + metric + " ") != std::string::npos) return l;
    return "";
  };
  CHECK_THAT(row("2026-01-01T00:05:00Z", "shop-rate"), Contains("99.5") && Contains("Pass"));
  CHECK_THAT(row("2026-01-01T00:09:00Z", "shop-rate"), Contains("99.5") && Contains("Pass"));
  CHECK_THAT(row("2026-01-01T00:10:00Z", "shop-rate"),
             Contains(" 80 ") && Contains("Fail") && Contains("80 is below the minimum 99"));
  CHECK_THAT(row("2026-01-01T00:15:00Z", "shop-rate"), Contains("Fail"));
  // The istio builtin over the backfilled data plane: the canary answers 95% non-5xx.
  CHECK_THAT(row("2026-01-01T00:07:00Z", "request-success-rate"), Contains(" 95 ") && Contains("Pass"));
  CHECK(lines.back() ==
        "11 steps, 5 passed, 6 failed; with threshold 3 the rollout would have rolled back at 2026-01-01T00:12:00Z");

  // A custom step.
  ProcessResult coarse = cluster.Analyze({"web", "-n", "shop", "--from", "2026-01-01T00:05:00Z", "--to",
                                          "2026-01-01T00:25:00Z", "--step", "10m", "--prometheus-address",
                                          SharedPrometheus().address()});
  REQUIRE(coarse.exit_code == 0);
  CHECK_THAT(coarse.out, Contains("3 steps, 1 passed, 2 failed"));
}

TEST_CASE("sluice analyze refuses bad times and a missing Canary clearly", "[analysis][analyze]") {
  if (!HaveKubectl()) SLUICE_SKIP("kubectl is not installed");
  Cluster cluster;
  ProcessResult missing = cluster.Analyze({"nope", "-n", "default", "--from", "-1h"});
  CHECK(missing.exit_code == 1);
  CHECK_THAT(missing.err, Contains("Canary default/nope not found"));

  ProcessResult bad_time = cluster.Analyze({"web", "--from", "yesterday"});
  CHECK(bad_time.exit_code == 2);
  CHECK_THAT(bad_time.err, Contains("--from and --to take RFC 3339 times"));

  ProcessResult reversed = cluster.Analyze({"web", "--from", "-1h", "--to", "-2h"});
  CHECK(reversed.exit_code == 2);
  CHECK_THAT(reversed.err, Contains("is before --from"));

  ProcessResult bad_step = cluster.Analyze({"web", "--from", "-1h", "--step", "often"});
  CHECK(bad_step.exit_code == 2);
  CHECK_THAT(bad_step.err, Contains("--step \"often\" is not a duration"));
}
