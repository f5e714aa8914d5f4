// A cluster for canary end-to-end tests: the API emulator and the canary controller in this
// process (so analysis results can be injected), and the real kubectl for what users do.
#pragma once

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "controller/canary/canary_controller.h"
#include "sandbox/emulator/emulator.h"
#include "tests/e2e/kubectl_harness.h"

namespace sluice::testing {

// Analysis whose verdicts the test sets while the controller runs.
class ScriptedAnalysis final : public analysis::AnalysisRunner {
 public:
  std::atomic<bool> checks_fail{false};
  std::atomic<bool> promotion_gate_open{true};
  std::atomic<int> evaluations{0};

  boost::asio::awaitable<analysis::AnalysisOutcome> Evaluate(const nlohmann::json&, const api::CanarySpec&, const analysis::AnalysisPlan& plan,
                                                           const api::CanaryStatus&,
                                                           const analysis::ObjectLookup&) override;
  boost::asio::awaitable<void> RunWebhooks(const nlohmann::json&, const api::CanarySpec&, const std::string&, const api::CanaryStatus&,
                                           const analysis::ObjectLookup&) override {
    co_return;
  }
  boost::asio::awaitable<std::vector<analysis::AlertFailure>> SendAlert(const nlohmann::json& canary,
                                                                       const analysis::Alert& alert,
                                                                       const analysis::ObjectLookup&) override {
    std::lock_guard lock(mu);
    alerts.push_back(canary["metadata"].value("name", "") + " " + alert.reason);
    co_return std::vector<analysis::AlertFailure>{};
  }
  // Every alert the controller asked to send: "<canary> <reason>".
  std::vector<std::string> Alerts() {
    std::lock_guard lock(mu);
    return alerts;
  }
  std::mutex mu;
  std::vector<std::string> alerts;
};

// A Deployment "podinfo" (image podinfo:<version>) and a Canary "podinfo" whose spec is the
// given YAML fragment indented under spec:.
std::string AppManifest(const std::string& version, const std::string& canary_spec_yaml);

// Makes the analysis the controller runs, on the controller's executor (e.g. a live
// Prometheus checker); without one the controller runs the ScriptedAnalysis.
using AnalysisFactory =
    std::function<std::shared_ptr<analysis::AnalysisRunner>(boost::asio::any_io_executor executor)>;

class CanaryCluster {
 public:
  explicit CanaryCluster(std::chrono::milliseconds ready_delay = std::chrono::milliseconds(300),
                         AnalysisFactory analysis = nullptr);
  ~CanaryCluster();

  Kubectl& kubectl() { return *kubectl_; }
  ScriptedAnalysis& analysis() { return *analysis_; }
  const canary::ReconcileStats& stats() const { return controller_->stats(); }
  sandbox::Emulator& emulator() { return emulator_; }

  // Applies a Deployment "podinfo" (image podinfo:<version>) and a Canary "podinfo" whose
  // spec is the given YAML fragment indented under spec:.
  void ApplyApp(const std::string& version, const std::string& canary_spec_yaml);
  void SetVersion(const std::string& version);
  std::string Get(const std::string& object, const std::string& jsonpath);
  // Waits until the Canary's phase is `phase`; FAILs with the status after `deadline`.
  void WaitForPhase(const std::string& phase, std::chrono::seconds deadline = std::chrono::seconds(30));
  bool WaitFor(const std::string& object, const std::string& jsonpath, const std::string& value,
               std::chrono::seconds deadline = std::chrono::seconds(30));

 private:
  TempDir dir_;
  sandbox::Emulator emulator_;
  std::unique_ptr<Kubectl> kubectl_;
  boost::asio::io_context io_;
  std::shared_ptr<ScriptedAnalysis> analysis_;
  std::shared_ptr<canary::CanaryController> controller_;
  std::thread thread_;
};

}  // namespace sluice::testing
