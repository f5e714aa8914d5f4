#include "analysis/runner.h"

#include <spdlog/spdlog.h>

namespace sluice::analysis {
namespace {

using nlohmann::json;

class ComposedAnalysis final : public AnalysisRunner {
 public:
  ComposedAnalysis(std::shared_ptr<GateRunner> gates, std::shared_ptr<MetricChecker> metrics,
                   std::shared_ptr<AlertSender> alerts)
      : gates_(std::move(gates)), metrics_(std::move(metrics)), alerts_(std::move(alerts)) {}

  boost::asio::awaitable<analysis::AnalysisOutcome> Evaluate(const json& canary, const api::CanarySpec& spec,
                                                           const analysis::AnalysisPlan& plan,
                                                           const api::CanaryStatus& status,
                                                           const ObjectLookup& lookup) override {
    analysis::AnalysisOutcome outcome;
    if (gates_) {
      auto run = gates_->Evaluate(canary, spec, plan, status, lookup, outcome);
      co_await std::move(run);
    }
    // A failed webhook check already fails this step; querying metrics would only add load.
    if (plan.checks && metrics_ && !outcome.check_failure && !outcome.pre_rollout_failure) {
      auto check = metrics_->Check(canary, spec, status, lookup, outcome);
      co_await std::move(check);
    }
    co_return outcome;
  }

  boost::asio::awaitable<void> RunWebhooks(const json& canary, const api::CanarySpec& spec, const std::string& type,
                                           const api::CanaryStatus& status, const ObjectLookup& lookup) override {
    if (!gates_) co_return;
    auto fire = gates_->Fire(canary, spec, type, status, lookup);
    co_await std::move(fire);
  }

  boost::asio::awaitable<std::vector<AlertFailure>> SendAlert(const json& canary, const Alert& alert,
                                                              const ObjectLookup& lookup) override {
    if (!alerts_) {
      const json& m = canary["metadata"];
      spdlog::log(alert.severity == "error" ? spdlog::level::err : spdlog::level::info, "alert canary {}/{}: {}: {}",
                  m.value("namespace", ""), m.value("name", ""), alert.reason, alert.message);
      co_return std::vector<AlertFailure>{};
    }
    auto send = alerts_->Send(canary, alert, lookup);
    co_return co_await std::move(send);
  }

 private:
  std::shared_ptr<GateRunner> gates_;
  std::shared_ptr<MetricChecker> metrics_;
  std::shared_ptr<AlertSender> alerts_;
};

}  // namespace

std::shared_ptr<AnalysisRunner> ComposeAnalysis(std::shared_ptr<GateRunner> gates,
                                                std::shared_ptr<MetricChecker> metrics,
                                                std::shared_ptr<AlertSender> alerts) {
  return std::make_shared<ComposedAnalysis>(std::move(gates), std::move(metrics), std::move(alerts));
}

std::shared_ptr<AnalysisRunner> MakeNoAnalysis() { return ComposeAnalysis(nullptr, nullptr, nullptr); }

}  // namespace sluice::analysis
