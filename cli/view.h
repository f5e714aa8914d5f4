// What `sluice get`, `sluice status` and `sluice watch` print: pure functions of the objects
// read from the API and the time, so the layout is unit-tested without a cluster.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "core/clock.h"

namespace sluice::cli {

// A kubectl-style table of Canaries: NAMESPACE (with all_namespaces), NAME, STATUS, WEIGHT,
// FAILEDCHECKS, LASTTRANSITION.
std::string CanaryTable(const std::vector<nlohmann::json>& canaries, bool all_namespaces);

// A table of GitOps objects (GitRepository or Kustomization): NAME, READY, STATUS, REVISION, AGE.
std::string GitOpsTable(const std::vector<nlohmann::json>& objects, bool all_namespaces, core::TimePoint now);

// The rollout of one Canary as a tree: phase and since when, a bar of the canary weight with
// the step, failed checks against the threshold, iterations, revisions, each metric's last
// value and verdict, conditions, pending and answered requests, and the newest events.
std::string CanaryStatusTree(const nlohmann::json& canary, const std::vector<nlohmann::json>& events,
                             core::TimePoint now, size_t max_events = 8);

// "████░░░░" for a weight in percent, `width` cells wide.
std::string WeightBar(int weight, int width = 20);

}  // namespace sluice::cli
