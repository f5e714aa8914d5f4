// The rollout logic as pure functions: (spec, status, observed facts, requests, analysis
// outcome, now) -> (actions, new status). No I/O and no clock of its own, so every flow is
// tested tick by tick; the reconciler gathers the inputs from informer caches and carries the
// actions out.
//
// A tick has two halves. PlanAnalysis says which checks and gates this tick needs (none when
// no step is due), the reconciler runs exactly those, and Step decides with their outcome.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "analysis/plan.h"
#include "api/canary_types.h"
#include "routing/router.h"

namespace sluice::canary {

// What the reconciler saw in its caches for this Canary.
struct ClusterFacts {
  bool target_found = false;
  std::string target_revision;  // hash of the target's pod template and tracked configs
  std::map<std::string, std::string> target_configs;  // tracked ConfigMaps/Secrets -> data hash
  bool primary_found = false;
  bool primary_ready = false;  // rolled out and available at the primary ready threshold
  bool canary_ready = false;   // target rolled out and available at the canary ready threshold
  bool canary_deadline_exceeded = false;  // the Deployment reports ProgressDeadlineExceeded
  bool deleting = false;  // the Canary has a deletionTimestamp
};

struct PendingRequest {
  api::RequestKind kind;
  std::string value;
};

struct StepInput {
  const api::CanarySpec& spec;
  const api::CanaryStatus& status;
  ClusterFacts facts;
  std::vector<PendingRequest> requests;
  core::TimePoint now{};
  int64_t generation = 0;
  // Set when the spec failed validation: the message names the field and what is expected.
  std::optional<std::string> spec_error;
};

struct Action {
  enum class Type {
    kInitializePrimary,  // create the -primary Deployment (and config copies) from the target
    kScaleCanaryUp,      // give the target its replicas back: a new revision is under test
    kScaleCanaryDown,    // scale the target to zero: primary serves everything
    kRoute,              // write the routing object: primary_weight / canary_weight
    kPromotePrimary,     // copy the canary's pod template (and configs) to the primary
    kRunWebhooks,        // fire-and-forget hooks: post-rollout, rollback, event
    kEvent,              // a Kubernetes Event on the Canary
    kAlert,              // a message to the configured alert providers
    kFinalize,           // deletion: revert the target and routing if revertOnDeletion
  };
  Type type;
  int primary_weight = 100;
  int canary_weight = 0;
  bool ab_match = false;  // A/B: the analysis matches go to the canary
  bool mirror = false;
  std::string webhook_type;  // kRunWebhooks
  std::string event_type;    // Normal | Warning
  std::string reason;
  std::string message;
  std::string severity;  // kAlert: info | warn | error
  bool revert = false;   // kFinalize
};

struct Decision {
  std::vector<Action> actions;
  api::CanaryStatus status;
  std::vector<api::RequestKind> consumed;  // request annotations to remove (outcome in status)
  api::Millis requeue_after{0};            // 0 = only on the next change
};

analysis::AnalysisPlan PlanAnalysis(const StepInput& input);

// Where traffic belongs for a status, derived from it alone: the reconciler writes the route
// from this on every reconcile (after the status is durable), so a route write that failed or
// a cache that missed a change is corrected by the next pass. nullopt while the route is not
// the controller's to set (Initializing before the primary is ready, and deletion).
std::optional<routing::Weights> TrafficFor(const api::CanarySpec& spec, const api::CanaryStatus& status);

// Whether the target (the canary pods) should run for a status: true while a revision is
// under test or being promoted, false when primary serves alone; nullopt when the reconciler
// should leave its replicas alone (Initializing, Waiting, deletion).
std::optional<bool> CanaryShouldRun(const api::CanaryStatus& status);
Decision Step(const StepInput& input, const analysis::AnalysisOutcome& outcome = {});

}  // namespace sluice::canary
