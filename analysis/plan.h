// What a rollout step asks of the analysis and what the analysis answers: the contract
// between the state machine (which plans a step and decides with the outcome) and the
// analysis runner (which evaluates the plan). Pure data, so both sides stay testable.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "api/canary_types.h"

namespace sluice::analysis {

// Checks and gates the reconciler must evaluate before calling Step. A webhook type with no
// webhook configured counts as open/passed; no metrics count as passed.
struct AnalysisPlan {
  bool confirm_rollout = false;
  bool pre_rollout = false;
  bool rollback_gate = false;  // rollback webhooks: 2xx means "roll back now"
  bool checks = false;         // rollout webhooks, then every metric
  bool confirm_traffic_increase = false;
  bool confirm_promotion = false;

  bool Empty() const {
    return !confirm_rollout && !pre_rollout && !rollback_gate && !checks && !confirm_traffic_increase &&
           !confirm_promotion;
  }
};

struct AnalysisOutcome {
  bool confirm_rollout_open = true;
  bool confirm_traffic_increase_open = true;
  bool confirm_promotion_open = true;
  bool rollback_requested = false;
  std::optional<std::string> pre_rollout_failure;  // in words, naming the webhook
  std::optional<std::string> check_failure;        // the first failing webhook or metric
  std::vector<api::MetricResult> metrics;  // every metric evaluated this tick (recorded in status)
};

}  // namespace sluice::analysis
