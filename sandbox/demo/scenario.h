// The stories `sluice sandbox --scenario NAME` tells: which Canary of examples/podinfo it
// uses and the steps (app versions to commit, requests to make) with the outcome each must
// reach. The sandbox exits non-zero when a step does not reach its outcome.
#pragma once

#include <string>
#include <vector>

#include "sandbox/demo/app.h"

namespace sluice::demo {

struct ScenarioStep {
  enum class Kind {
    kRelease,  // commit `version` and wait for `expect_phase`
    kAbort,    // once the rollout under way shifted traffic, `kubectl annotate ... sluice.dev/abort`
    kOpenGate,  // open the Canary's promotion gate on the loadtester
  };
  Kind kind = Kind::kRelease;
  std::string headline;
  AppVersion version;
  // The phase the Canary must reach for this step's revision: Initialized (first version),
  // Succeeded (promoted), Failed (rolled back), or "" to go on at once (an abort follows).
  std::string expect_phase;
  std::string expect_reason;  // the Ready condition's reason, when it matters (Aborted)
};

struct Scenario {
  std::string name;
  std::string description;
  std::vector<ScenarioStep> steps;
  // Starts `sluice loadtester` and substitutes ${SANDBOX_LOADTESTER} (host:port) in the app.
  bool loadtester = false;
};

// nullptr for an unknown name.
const Scenario* FindScenario(const std::string& name);
std::vector<std::string> ScenarioNames();

}  // namespace sluice::demo
