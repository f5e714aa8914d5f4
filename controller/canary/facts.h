// Reading the cluster for the state machine: pure functions over cached objects, so the
// reconciler stays thin and these rules are unit-tested.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "controller/canary/state_machine.h"

namespace sluice::canary {

using json = nlohmann::json;

struct DeploymentReadiness {
  bool ready = false;              // rolled out: observed, updated and available at the threshold
  bool deadline_exceeded = false;  // Progressing=False reason ProgressDeadlineExceeded
  std::string message;             // why not ready, for conditions and logs
};

// As `kubectl rollout status` judges it, with a readiness threshold in percent of replicas.
DeploymentReadiness ReadinessOf(const json& deployment, int threshold_percent = 100);

// The sluice.dev/<verb> annotations present on the Canary.
std::vector<PendingRequest> RequestsFromAnnotations(const json& canary);

}  // namespace sluice::canary
