#include "controller/canary/state_machine.h"

#include <algorithm>

namespace sluice::canary {
namespace {

// Helpers take the status explicitly: within a tick, Step works on its updated copy.
bool StepDue(const StepInput& in, const api::CanaryStatus& status) {
  return in.now - status.last_step >= in.spec.analysis.interval;
}

// Phases in which an abort (or a promote request) has something to act on.
bool Abortable(api::Phase phase) {
  return phase == api::Phase::kProgressing || phase == api::Phase::kWaitingPromotion || phase == api::Phase::kWaiting;
}

bool HasRequest(const StepInput& in, api::RequestKind kind) {
  return std::any_of(in.requests.begin(), in.requests.end(), [&](const auto& r) { return r.kind == kind; });
}

bool NewRevision(const StepInput& in, const api::CanaryStatus& status) {
  const auto& rev = in.facts.target_revision;
  return in.facts.target_found && !rev.empty() && rev != status.last_applied_spec && rev != status.last_promoted_spec;
}

// Weight reached the ceiling, or enough iterations ran: the next good step promotes.
bool ReadyToPromote(const api::CanarySpec& spec, const api::CanaryStatus& status) {
  if (spec.strategy() == api::Strategy::kCanary) return status.canary_weight >= spec.EffectiveMaxWeight();
  return status.iterations >= spec.analysis.iterations;
}

int NextWeight(const api::CanarySpec& spec, const api::CanaryStatus& status) {
  int max = spec.EffectiveMaxWeight();
  const auto& steps = spec.analysis.step_weights;
  if (!steps.empty()) {
    size_t i = std::min<size_t>(status.step_index, steps.size() - 1);
    return std::min(steps[i], max);
  }
  return std::min(status.canary_weight + spec.analysis.step_weight, max);
}

class Stepper {
 public:
  Stepper(const StepInput& in, const analysis::AnalysisOutcome& outcome) : in_(in), outcome_(outcome) {
    d_.status = in.status;
    if (!outcome.metrics.empty()) d_.status.metrics = outcome.metrics;
  }

  Decision Run() {
    d_.requeue_after = in_.spec.analysis.interval;
    if (in_.facts.deleting) return Finalize();
    if (in_.spec_error) return InvalidSpec();
    if (HandleAbort()) return Done();
    if (in_.spec.suspend) {
      SetReady("Unknown", "Suspended", "spec.suspend is true: the rollout waits where it is");
      return Done();
    }
    HandleRetry();
    HandleReconcile();
    if (HandlePromote()) return Done();
    switch (s().phase) {
      case api::Phase::kInitializing:
        Initialize();
        break;
      case api::Phase::kInitialized:
      case api::Phase::kSucceeded:
      case api::Phase::kFailed:
        Idle();
        break;
      case api::Phase::kWaiting:
        Waiting();
        break;
      case api::Phase::kProgressing:
      case api::Phase::kWaitingPromotion:
        Progress();
        break;
      case api::Phase::kPromoting:
        Promoting();
        break;
      case api::Phase::kFinalising:
        Finalise();
        break;
      case api::Phase::kTerminating:
      case api::Phase::kTerminated:
        break;
    }
    return Done();
  }

 private:
  api::CanaryStatus& s() { return d_.status; }
  const api::CanarySpec& spec() const { return in_.spec; }

  api::Millis UntilNextStep() const {
    return spec().analysis.interval - std::chrono::duration_cast<api::Millis>(in_.now - d_.status.last_step);
  }

  Decision Done() {
    s().observed_generation = in_.generation;
    if (route_action_ >= 0) {
      Action& a = d_.actions[static_cast<size_t>(route_action_)];
      routing::Weights w = TrafficFor(spec(), s()).value_or(routing::Weights{100 - s().canary_weight, s().canary_weight});
      a.primary_weight = w.primary;
      a.canary_weight = w.canary;
      a.ab_match = w.ab_match;
      a.mirror = w.mirror;
    }
    return std::move(d_);
  }

  // --- outputs -------------------------------------------------------------------------
  void Emit(Action a) { d_.actions.push_back(std::move(a)); }

  void Event(const std::string& type, const std::string& reason, const std::string& message) {
    Action a{Action::Type::kEvent};
    a.event_type = type;
    a.reason = reason;
    a.message = message;
    Emit(a);
  }

  // Alerts are queued in status with the step that decides them and delivered after that
  // status is written (docs/reliability.md); the action is the record of the decision.
  void Alert(const std::string& severity, const std::string& reason, const std::string& message) {
    Action a{Action::Type::kAlert};
    a.severity = severity;
    a.reason = reason;
    a.message = message;
    Emit(a);
    if (!spec().analysis.alerts.empty()) s().pending_alerts.push_back({severity, reason, message});
  }

  void Webhooks(const std::string& type) {
    Action a{Action::Type::kRunWebhooks};
    a.webhook_type = type;
    Emit(a);
  }

  // Moves traffic. One kRoute action per tick at most, filled in by Done() from the final
  // status (TrafficFor), so the action and the route the reconciler converges to never differ.
  void Route(int canary_weight) {
    if (route_action_ < 0) {
      route_action_ = static_cast<int>(d_.actions.size());
      Emit(Action{Action::Type::kRoute});
    }
    s().canary_weight = canary_weight;
  }

  void Simple(Action::Type type) { Emit(Action{type}); }

  void SetReady(const std::string& status, const std::string& reason, const std::string& message) {
    s().SetCondition({"Ready", status, reason, message, {}}, in_.now);
  }

  void SetPromoted(const std::string& status, const std::string& reason, const std::string& message) {
    s().SetCondition({"Promoted", status, reason, message, {}}, in_.now);
  }

  void Transition(api::Phase phase, const std::string& reason, const std::string& message) {
    if (s().phase != phase) {
      s().phase = phase;
      s().last_transition = in_.now;
      Event(phase == api::Phase::kFailed ? "Warning" : "Normal", reason, message);
    }
  }

  void Consume(api::RequestKind kind, const std::string& outcome) {
    d_.consumed.push_back(kind);
    std::string value;
    for (const auto& r : in_.requests)
      if (r.kind == kind) value = r.value;
    s().requests[ToString(kind)] = {value, outcome, in_.now};
  }

  // --- requests --------------------------------------------------------------------------
  bool HandleAbort() {
    for (const auto& r : in_.requests) {
      if (r.kind != api::RequestKind::kAbort) continue;
      if (!Abortable(s().phase)) {
        Consume(api::RequestKind::kAbort, std::string("nothing to abort: phase is ") + ToString(s().phase));
        return false;
      }
      std::string reason = r.value.empty() ? "no reason given" : r.value;
      Consume(api::RequestKind::kAbort, "aborted: traffic returned to primary, canary scaled down");
      Rollback("Aborted", "rollout of " + s().last_applied_spec + " aborted by request: " + reason);
      return true;
    }
    return false;
  }

  void HandleRetry() {
    if (!HasRequest(in_, api::RequestKind::kRetry)) return;
    if (s().phase != api::Phase::kFailed) {
      Consume(api::RequestKind::kRetry, std::string("nothing to retry: phase is ") + ToString(s().phase));
      return;
    }
    Consume(api::RequestKind::kRetry, "retrying revision " + in_.facts.target_revision);
    s().last_applied_spec.clear();  // the failed revision counts as new again
  }

  void HandleReconcile() {
    if (!HasRequest(in_, api::RequestKind::kReconcile)) return;
    Consume(api::RequestKind::kReconcile, "reconciled");
    s().last_step = core::TimePoint{};  // the next step is due now
  }

  // Promote waits until the canary is ready; until then the annotation stays.
  bool HandlePromote() {
    if (!HasRequest(in_, api::RequestKind::kPromote)) return false;
    if (s().phase == api::Phase::kPromoting || s().phase == api::Phase::kFinalising) {
      Consume(api::RequestKind::kPromote, "already promoting");
      return false;
    }
    if (!Abortable(s().phase) || s().phase == api::Phase::kWaiting) {
      Consume(api::RequestKind::kPromote, std::string("nothing to promote: phase is ") + ToString(s().phase));
      return false;
    }
    if (!in_.facts.canary_ready) return false;
    Consume(api::RequestKind::kPromote, "promotion requested: skipping the rest of the analysis");
    StartPromotion("PromotionRequested", "promotion of " + s().last_applied_spec + " requested by annotation");
    return true;
  }

  // --- flows -----------------------------------------------------------------------------
  Decision InvalidSpec() {
    SetReady("False", "InvalidSpec", *in_.spec_error);
    d_.requeue_after = api::Millis(0);
    return Done();
  }

  Decision Finalize() {
    Action a{Action::Type::kFinalize};
    a.revert = spec().revert_on_deletion;
    Emit(a);
    Transition(api::Phase::kTerminating, "Terminating",
               spec().revert_on_deletion ? "restoring the target Deployment and routing before deletion"
                                         : "Canary deleted");
    d_.requeue_after = api::Millis(0);
    return Done();
  }

  void Initialize() {
    if (!in_.facts.target_found) {
      SetReady("False", "TargetNotFound", "Deployment " + spec().target_name + " not found");
      return;
    }
    if (!in_.facts.primary_found) Simple(Action::Type::kInitializePrimary);
    if (!in_.facts.primary_found || !in_.facts.primary_ready) {
      SetReady("Unknown", "Initializing", "waiting for " + spec().target_name + "-primary to be ready");
      d_.requeue_after = std::min(spec().analysis.interval, api::Millis(5000));
      return;
    }
    Route(0);
    Simple(Action::Type::kScaleCanaryDown);
    s().last_applied_spec = s().last_promoted_spec = in_.facts.target_revision;
    s().tracked_configs = in_.facts.target_configs;
    Transition(api::Phase::kInitialized, "Initialized",
               "primary " + spec().target_name + "-primary serves all traffic; waiting for a new revision");
    SetReady("True", "Initialized", "primary serves revision " + in_.facts.target_revision);
  }

  void Idle() {
    if (!NewRevision(in_, s())) return;
    Gate("confirm-rollout", outcome_.confirm_rollout_open);
  }

  void Waiting() {
    if (!in_.facts.target_found) return;
    if (in_.facts.target_revision == s().last_promoted_spec) {
      Transition(api::Phase::kSucceeded, "Reverted", "target is back at the promoted revision; nothing to roll out");
      return;
    }
    Gate("confirm-rollout", outcome_.confirm_rollout_open);
  }

  void Gate(const std::string& gate, bool open) {
    if (!open) {
      if (s().phase != api::Phase::kWaiting) Alert("info", "WaitingForApproval", "revision " + in_.facts.target_revision + " waits for approval (" + gate + ")");
      Transition(api::Phase::kWaiting, "Waiting", gate + " gate is closed: waiting for approval");
      SetReady("Unknown", "Waiting", gate + " gate is closed");
      s().last_step = in_.now;
      return;
    }
    StartRollout("New revision " + in_.facts.target_revision + " detected, starting the analysis");
  }

  void StartRollout(const std::string& message) {
    s().last_applied_spec = in_.facts.target_revision;
    s().tracked_configs = in_.facts.target_configs;
    s().failed_checks = 0;
    s().iterations = 0;
    s().step_index = 0;
    s().canary_weight = 0;
    s().last_step = in_.now;
    s().canary_wait_started = in_.now;
    Simple(Action::Type::kScaleCanaryUp);
    // Always an Event, also when a new revision restarts a rollout already Progressing.
    s().phase = api::Phase::kProgressing;
    s().last_transition = in_.now;
    Event("Normal", "Progressing", message);
    SetReady("Unknown", "Progressing", message);
    SetPromoted("Unknown", "Progressing", "revision " + s().last_applied_spec + " under analysis");
  }

  void Progress() {
    if (!in_.facts.target_found) {
      Rollback("TargetNotFound", "Deployment " + spec().target_name +
                                     " was deleted during the rollout: traffic returned to the primary");
      return;
    }
    if (in_.facts.target_found && in_.facts.target_revision == s().last_promoted_spec &&
        s().last_applied_spec != s().last_promoted_spec) {
      EndReverted();
      return;
    }
    if (NewRevision(in_, s())) {
      Route(0);
      Event("Normal", "NewRevision", "revision changed during the rollout: restarting the analysis");
      StartRollout("New revision " + in_.facts.target_revision + " detected during the rollout, restarting");
      return;
    }
    if (!CanaryReady()) return;
    if (spec().skip_analysis) {
      StartPromotion("SkipAnalysis", "spec.skipAnalysis is true: promoting without analysis");
      return;
    }
    if (!StepDue(in_, s())) {
      d_.requeue_after = UntilNextStep();
      return;
    }
    s().last_step = in_.now;
    RunStep();
  }

  // Waits for the canary; past the progress deadline the rollout fails.
  bool CanaryReady() {
    if (in_.facts.canary_ready) return true;
    bool late = in_.now - s().canary_wait_started > spec().progress_deadline;
    if (in_.facts.canary_deadline_exceeded || late) {
      Rollback("ProgressDeadlineExceeded", "canary " + spec().target_name + " was not ready within " +
                                               std::to_string(spec().progress_deadline.count()) + "s");
      return false;
    }
    SetReady("Unknown", "Progressing", "waiting for canary " + spec().target_name + " to be ready");
    d_.requeue_after = std::min(spec().analysis.interval, api::Millis(5000));
    return false;
  }

  void RunStep() {
    if (outcome_.rollback_requested) {
      Rollback("RolledBack", "a rollback webhook asked for a rollback");
      return;
    }
    if (auto failure = PreRolloutOrCheckFailure()) {
      s().failed_checks++;
      Event("Warning", "CheckFailed", *failure + " (" + std::to_string(s().failed_checks) + "/" +
                                          std::to_string(spec().analysis.threshold) + " failed checks)");
      if (s().failed_checks >= spec().analysis.threshold)
        Rollback("RolledBack", "failed checks reached the threshold of " +
                                   std::to_string(spec().analysis.threshold) + "; last: " + *failure);
      return;
    }
    if (ReadyToPromote(spec(), s())) {
      if (!outcome_.confirm_promotion_open) {
        if (s().phase != api::Phase::kWaitingPromotion)
          Alert("info", "WaitingPromotion", "revision " + s().last_applied_spec + " passed its analysis and waits for approval (confirm-promotion)");
        Transition(api::Phase::kWaitingPromotion, "WaitingPromotion", "confirm-promotion gate is closed");
        SetReady("Unknown", "WaitingPromotion", "analysis passed; confirm-promotion gate is closed");
        return;
      }
      StartPromotion("Promoting", "analysis passed: promoting " + s().last_applied_spec);
      return;
    }
    Advance();
  }

  std::optional<std::string> PreRolloutOrCheckFailure() const {
    if (outcome_.pre_rollout_failure) return "pre-rollout: " + *outcome_.pre_rollout_failure;
    if (outcome_.check_failure) return *outcome_.check_failure;
    return std::nullopt;
  }

  void Advance() {
    if (spec().strategy() == api::Strategy::kCanary) {
      if (!outcome_.confirm_traffic_increase_open) {
        SetReady("Unknown", "Progressing", "confirm-traffic-increase gate is closed at weight " +
                                               std::to_string(s().canary_weight));
        return;
      }
      int weight = NextWeight(spec(), s());
      s().step_index++;
      Route(weight);
      Event("Normal", "Advance", "canary weight " + std::to_string(weight));
      SetReady("Unknown", "Progressing", "canary weight " + std::to_string(weight));
      return;
    }
    s().iterations++;
    if (spec().strategy() == api::Strategy::kABTesting)
      Route(0);  // the analysis matches go to the canary (TrafficFor)
    else if (s().iterations == 1)
      Route(0);  // blue/green: the canary is tested through its own Service; mirroring if asked
    Event("Normal", "Advance", "iteration " + std::to_string(s().iterations) + "/" +
                                   std::to_string(spec().analysis.iterations));
    SetReady("Unknown", "Progressing", "iteration " + std::to_string(s().iterations));
  }

  void StartPromotion(const std::string& reason, const std::string& message) {
    if (spec().strategy() != api::Strategy::kCanary) Route(100);  // blue/green and A/B: switch to the canary
    Simple(Action::Type::kPromotePrimary);
    s().last_step = in_.now;
    Transition(api::Phase::kPromoting, reason, message);
    SetReady("Unknown", "Promoting", "copying revision " + s().last_applied_spec + " to the primary");
  }

  void Promoting() {
    if (!in_.facts.primary_ready) {
      d_.requeue_after = std::min(spec().analysis.interval, api::Millis(5000));
      return;
    }
    int step = spec().analysis.step_weight_promotion;
    if (step > 0 && spec().strategy() == api::Strategy::kCanary && s().canary_weight > 0) {
      if (!StepDue(in_, s())) {
        d_.requeue_after = UntilNextStep();
        return;
      }
      s().last_step = in_.now;
      Route(std::max(0, s().canary_weight - step));
      if (s().canary_weight > 0) return;
    } else {
      Route(0);
    }
    Transition(api::Phase::kFinalising, "Finalising", "primary runs " + s().last_applied_spec + "; scaling the canary down");
    Finalise();
  }

  void Finalise() {
    Simple(Action::Type::kScaleCanaryDown);
    s().last_promoted_spec = s().last_applied_spec;
    Webhooks("post-rollout");
    std::string message = "revision " + s().last_promoted_spec + " promoted";
    Transition(api::Phase::kSucceeded, "Succeeded", message);
    SetReady("True", "Succeeded", message);
    SetPromoted("True", "Succeeded", message);
    Alert("info", "Promoted", message);
  }

  void Rollback(const std::string& reason, const std::string& message) {
    Route(0);
    Simple(Action::Type::kScaleCanaryDown);
    Webhooks("rollback");
    Webhooks("post-rollout");
    Transition(api::Phase::kFailed, reason, message);
    SetReady("False", reason, message);
    SetPromoted("False", reason, message);
    Alert("error", reason, message);
  }

  // A revert of the target to what primary runs ends the rollout without a promotion.
  void EndReverted() {
    Route(0);
    Simple(Action::Type::kScaleCanaryDown);
    std::string message = "target reverted to the promoted revision " + s().last_promoted_spec +
                          "; rollout of " + s().last_applied_spec + " ended";
    s().last_applied_spec = s().last_promoted_spec;
    Transition(api::Phase::kSucceeded, "Reverted", message);
    SetReady("True", "Reverted", message);
  }

  const StepInput& in_;
  const analysis::AnalysisOutcome& outcome_;
  Decision d_;
  int route_action_ = -1;  // index of this tick's kRoute action
};

}  // namespace

analysis::AnalysisPlan PlanAnalysis(const StepInput& in) {
  analysis::AnalysisPlan plan;
  const auto& st = in.status;
  if (in.facts.deleting || in.spec_error || in.spec.suspend || HasRequest(in, api::RequestKind::kAbort)) return plan;
  if (HasRequest(in, api::RequestKind::kPromote) && in.facts.canary_ready) return plan;
  bool reconcile = HasRequest(in, api::RequestKind::kReconcile);
  bool retry = HasRequest(in, api::RequestKind::kRetry) && st.phase == api::Phase::kFailed;
  switch (st.phase) {
    case api::Phase::kInitialized:
    case api::Phase::kSucceeded:
    case api::Phase::kFailed:
      plan.confirm_rollout = NewRevision(in, st) || retry;
      break;
    case api::Phase::kWaiting:
      plan.confirm_rollout = StepDue(in, st) || reconcile;
      break;
    case api::Phase::kProgressing:
    case api::Phase::kWaitingPromotion: {
      if (NewRevision(in, st) || !in.facts.canary_ready || in.spec.skip_analysis) break;
      if (!StepDue(in, st) && !reconcile) break;
      plan.rollback_gate = true;
      plan.checks = true;
      bool first = st.canary_weight == 0 && st.iterations == 0;
      plan.pre_rollout = first;
      if (ReadyToPromote(in.spec, st))
        plan.confirm_promotion = true;
      else
        plan.confirm_traffic_increase = in.spec.strategy() == api::Strategy::kCanary;
      break;
    }
    default:
      break;
  }
  return plan;
}

Decision Step(const StepInput& input, const analysis::AnalysisOutcome& outcome) { return Stepper(input, outcome).Run(); }

std::optional<routing::Weights> TrafficFor(const api::CanarySpec& spec, const api::CanaryStatus& status) {
  using api::Phase;
  if (status.phase == Phase::kInitializing || status.phase == Phase::kTerminating ||
      status.phase == Phase::kTerminated)
    return std::nullopt;
  routing::Weights w{100 - status.canary_weight, status.canary_weight, false, false};
  bool analysing = status.phase == Phase::kProgressing || status.phase == Phase::kWaitingPromotion;
  bool stepped = status.iterations > 0 || status.step_index > 0;  // the first step has run
  if (spec.strategy() == api::Strategy::kABTesting)
    w.ab_match = analysing && status.iterations > 0;
  else
    w.mirror = spec.analysis.mirror && analysing && stepped && w.canary < 100;
  return w;
}

std::optional<bool> CanaryShouldRun(const api::CanaryStatus& status) {
  using api::Phase;
  switch (status.phase) {
    case Phase::kProgressing:
    case Phase::kWaitingPromotion:
    case Phase::kPromoting:
    case Phase::kFinalising:
      return true;
    case Phase::kInitialized:
    case Phase::kSucceeded:
    case Phase::kFailed:
      return false;
    default:
      return std::nullopt;
  }
}

}  // namespace sluice::canary
