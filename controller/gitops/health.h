// Whether an applied object is ready, in the spirit of kstatus: Deployments rolled out
// (as `kubectl rollout status` decides), Canaries Ready (or Initialized / Succeeded),
// Namespaces active, CRDs established, and any other object by its Ready condition (an
// object without conditions is ready once it exists). Pure functions of the live object.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace sluice::gitops {

struct Health {
  enum class State { kCurrent, kInProgress, kFailed };
  State state = State::kInProgress;
  std::string message;  // why it is not ready yet, or why it failed

  bool Ready() const { return state == State::kCurrent; }
};

Health AssessHealth(const nlohmann::json& object);

}  // namespace sluice::gitops
