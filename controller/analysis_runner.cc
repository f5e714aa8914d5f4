#include "controller/analysis_runner.h"

namespace sluice::controller {
namespace {

class NoAnalysis final : public AnalysisRunner {
 public:
  boost::asio::awaitable<canary::AnalysisOutcome> Evaluate(const nlohmann::json&, const canary::AnalysisPlan&,
                                                           const canary::CanaryStatus&) override {
    co_return canary::AnalysisOutcome{};
  }
  boost::asio::awaitable<void> RunWebhooks(const nlohmann::json&, const std::string&,
                                           const canary::CanaryStatus&) override {
    co_return;
  }
};

}  // namespace

std::shared_ptr<AnalysisRunner> MakeNoAnalysis() { return std::make_shared<NoAnalysis>(); }

}  // namespace sluice::controller
