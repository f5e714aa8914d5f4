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

#include "controller/canary/types.h"

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
  RequestKind kind;
  std::string value;
};

struct StepInput {
  const CanarySpec& spec;
  const CanaryStatus& status;
  ClusterFacts facts;
  std::vector<PendingRequest> requests;
  TimePoint now{};
  int64_t generation = 0;
  // Set when the spec failed validation: the message names the field and what is expected.
  std::optional<std::string> spec_error;
};

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
  std::vector<MetricResult> metrics;  // every metric evaluated this tick (recorded in status)
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
  CanaryStatus status;
  std::vector<RequestKind> consumed;  // request annotations to remove (outcome in status)
  Millis requeue_after{0};            // 0 = only on the next change
};

AnalysisPlan PlanAnalysis(const StepInput& input);
Decision Step(const StepInput& input, const AnalysisOutcome& outcome = {});

}  // namespace sluice::canary
