// The canary engine's eyes: the checks and gates a step needs (metrics, webhooks). The
// engine calls it once per step with the plan the state machine made; tests inject results.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <memory>
#include <string>

#include "controller/canary/state_machine.h"

namespace sluice::controller {

class AnalysisRunner {
 public:
  virtual ~AnalysisRunner() = default;
  // Evaluates what `plan` asks for, for this Canary at this status.
  virtual boost::asio::awaitable<canary::AnalysisOutcome> Evaluate(const nlohmann::json& canary,
                                                                   const canary::AnalysisPlan& plan,
                                                                   const canary::CanaryStatus& status) = 0;
  // Fire-and-forget webhooks of one type (post-rollout, rollback, event).
  virtual boost::asio::awaitable<void> RunWebhooks(const nlohmann::json& canary, const std::string& type,
                                                   const canary::CanaryStatus& status) = 0;
};

// A Canary without metrics or webhooks: every check passes and every gate is open, as
// with the peers. Metric providers replace it as they arrive.
std::shared_ptr<AnalysisRunner> MakeNoAnalysis();

}  // namespace sluice::controller
