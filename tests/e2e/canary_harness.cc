#include "tests/e2e/canary_harness.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>

#include "kube/client.h"
#include "tests/support/fixtures.h"

namespace sluice::testing {

namespace asio = boost::asio;

asio::awaitable<analysis::AnalysisOutcome> ScriptedAnalysis::Evaluate(const nlohmann::json&, const api::CanarySpec&,
                                                                    const analysis::AnalysisPlan& plan,
                                                                    const api::CanaryStatus&,
                                                                    const analysis::ObjectLookup&) {
  evaluations++;
  analysis::AnalysisOutcome o;
  if (plan.checks && checks_fail) o.check_failure = "metric request-success-rate 80 below the minimum 99";
  o.confirm_promotion_open = promotion_gate_open;
  co_return o;
}

namespace {

sandbox::EmulatorOptions Options(std::chrono::milliseconds ready_delay) {
  sandbox::EmulatorOptions o;
  o.deployment_ready_delay = ready_delay;
  return o;
}

}  // namespace

CanaryCluster::CanaryCluster(std::chrono::milliseconds ready_delay, AnalysisFactory analysis)
    : emulator_(Options(ready_delay)) {
  if (std::getenv("SLUICE_TEST_DEBUG")) spdlog::set_level(spdlog::level::debug);
  emulator_.Start();
  std::string kubeconfig = dir_.File("kubeconfig");
  emulator_.WriteKubeconfig(kubeconfig);
  for (const auto& entry : std::filesystem::directory_iterator(std::string(SLUICE_SOURCE_DIR) + "/crds"))
    emulator_.LoadCrdsYaml(ReadFile(entry.path()));
  if (auto routes = CrdFixture("gateway-api-v1.6.1-httproutes.yaml")) emulator_.LoadCrdsYaml(ReadFile(*routes));
  kubectl_ = std::make_unique<Kubectl>(kubeconfig);

  auto client = kube::MakeHttpClient(io_.get_executor(), kube::ParseKubeconfig(emulator_.KubeconfigYaml()));
  auto events = kube::EventRecorder::Create(client);
  analysis_ = std::make_shared<ScriptedAnalysis>();
  std::shared_ptr<analysis::AnalysisRunner> runner = analysis_;
  if (analysis) runner = analysis(io_.get_executor());
  controller_ = canary::CanaryController::Create(client, events, runner);
  asio::co_spawn(io_, controller_->Run(), asio::detached);
  thread_ = std::thread([this] { io_.run(); });
}

CanaryCluster::~CanaryCluster() {
  asio::post(io_, [this] { controller_->Stop(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  io_.stop();
  thread_.join();
  emulator_.Stop();
}

std::string AppManifest(const std::string& version, const std::string& canary_spec_yaml) {
  return R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
  namespace: default
spec:
  replicas: 2
  selector:
    matchLabels:
      app: podinfo
  template:
    metadata:
      labels:
        app: podinfo
    spec:
      containers:
        - name: podinfo
          image: ghcr.io/example/podinfo:)" + version + R"(
          ports:
            - containerPort: 9898
---
apiVersion: sluice.dev/v1beta1
kind: Canary
metadata:
  name: podinfo
  namespace: default
spec:
  targetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: podinfo
)" + canary_spec_yaml;
}

void CanaryCluster::ApplyApp(const std::string& version, const std::string& canary_spec_yaml) {
  kubectl_->Ok({"apply", "-f", "-"}, AppManifest(version, canary_spec_yaml));
}

void CanaryCluster::SetVersion(const std::string& version) {
  kubectl_->Ok({"set", "image", "deployment/podinfo", "podinfo=ghcr.io/example/podinfo:" + version});
}

std::string CanaryCluster::Get(const std::string& object, const std::string& jsonpath) {
  ProcessResult r = (*kubectl_)({"get", object, "-o", "jsonpath=" + jsonpath});
  return r.exit_code == 0 ? r.out : "";
}

bool CanaryCluster::WaitFor(const std::string& object, const std::string& jsonpath, const std::string& value,
                            std::chrono::seconds deadline) {
  return sluice::testing::WaitFor([&] { return Get(object, jsonpath) == value; }, deadline);
}

void CanaryCluster::WaitForPhase(const std::string& phase, std::chrono::seconds deadline) {
  if (WaitFor("canary/podinfo", "{.status.phase}", phase, deadline)) return;
  FAIL("canary did not reach " << phase << " within " << deadline.count() << "s; status:\n"
                               << Get("canary/podinfo", "{.status}"));
}

}  // namespace sluice::testing
