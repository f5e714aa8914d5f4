// A seeded fault run: rollouts of every strategy on both routing providers, some promoted,
// some failing their analysis, some aborted by annotation, while the fault proxy injects
// errors, conflicts, delays, cut watches and refused connections between the controller and
// the API, and the controller is killed with SIGKILL at seeded moments and started again.
// The invariant checker (invariants.h) watches the emulator directly the whole time.
//
// The short run (a few rollouts, a few kills, a few minutes) and the soak (lanes repeating
// rollouts for N minutes, many kills) are the same code with different options.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sandbox/faults/fault_plan.h"
#include "tests/faults/harness/invariants.h"

namespace sluice::testing::faults {

enum class Outcome { kPromote, kFail, kAbort };
const char* ToString(Outcome outcome);

// One Canary and its target, running rollouts one after another.
struct Lane {
  std::string app;            // Canary and Deployment name
  std::string provider;       // gatewayapi | kubernetes
  std::string strategy;       // for the report: "canary stepWeight", "blue/green", ...
  nlohmann::json analysis;    // the strategy's fields of spec.analysis
  std::vector<Outcome> plan;  // the short run's rollouts; the soak draws them from the seed
};

struct RunOptions {
  uint64_t seed = 13;
  // 0: the short run, each lane's plan once. Otherwise the soak: lanes start rollouts with
  // outcomes drawn from the seed until this much time has passed.
  std::chrono::seconds soak{0};
  sandbox::faults::FaultOptions faults;          // its seed is set from `seed`
  int max_kills = 3;                             // the short run stops killing after these
  std::chrono::milliseconds kill_gap_min{8000};  // between kills, uniform
  std::chrono::milliseconds kill_gap_max{25000};
  std::chrono::milliseconds restart_pause_max{1500};  // down time after a kill, uniform 0..max
  std::chrono::seconds rollout_deadline{90};
  // Waits end by this time into the run, and no rollout starts in its last 30 s (0 = none):
  // the short run ends within ctest's timeout even on a machine far busier than planned.
  std::chrono::seconds run_deadline{0};
  std::chrono::seconds initialize_deadline{60};
  std::chrono::milliseconds ready_delay{500};
  std::string fixture_crd_dir;
  std::string log_dir;      // controller logs; kept by the caller when the run fails
  std::vector<Lane> lanes;  // empty: DefaultLanes()
};

// The short run: every strategy on both providers, each lane two or three rollouts.
RunOptions ShortRun(uint64_t seed);
// The soak: `minutes` of rollouts, a kill every 5-40 s, faults at the rates.
RunOptions Soak(uint64_t seed, int minutes);
std::vector<Lane> DefaultLanes();

struct RolloutResult {
  std::string app, strategy, provider;
  Outcome expected;
  std::string result;  // "Succeeded/Succeeded", "Failed/RolledBack", "Failed/Aborted", "unfinished"
  bool as_expected = false;
  double seconds = 0;
};

struct RunReport {
  uint64_t seed = 0;
  double seconds = 0;
  sandbox::faults::FaultCounts faults;
  int kills = 0;
  std::vector<double> kill_times;  // seconds into the run
  int controller_starts = 0;
  uint64_t changes_checked = 0;
  std::vector<RolloutResult> rollouts;
  std::vector<Violation> violations;
  std::vector<std::string> controller_logs;

  // Faults injected by kind, kills, rollouts by outcome, invariant violations.
  std::string Summary() const;
};

// Throws std::runtime_error when the cluster cannot start.
RunReport RunFaultSuite(const RunOptions& options);

}  // namespace sluice::testing::faults
