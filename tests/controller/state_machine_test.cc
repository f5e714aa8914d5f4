// The rollout state machine, tick by tick: no network, no sleeps, time moved by hand.
#include <catch2/catch.hpp>

#include "controller/canary/state_machine.h"

using namespace sluice::canary;
using namespace sluice::api;
using namespace sluice::analysis;
using namespace std::chrono_literals;
using Type = Action::Type;
using sluice::routing::Weights;

namespace {

// A Canary, its status and the facts the reconciler would observe, moved through ticks.
struct Rollout {
  CanarySpec spec;
  CanaryStatus status;
  ClusterFacts facts;
  TimePoint now = TimePoint{} + 1000h;
  Decision last;

  Rollout() {
    spec.target_name = "podinfo";
    spec.analysis.interval = 10s;
    spec.analysis.threshold = 2;
    spec.analysis.step_weight = 10;
    spec.analysis.max_weight = 30;
    spec.progress_deadline = 60s;
    facts.target_found = true;
    facts.target_revision = "rev1";
  }

  Decision& Tick(const AnalysisOutcome& outcome = {}, std::vector<PendingRequest> requests = {}) {
    StepInput in{spec, status, facts, std::move(requests), now, 1, std::nullopt};
    last = Step(in, outcome);
    status = last.status;
    return last;
  }
  AnalysisPlan Plan(std::vector<PendingRequest> requests = {}) {
    StepInput in{spec, status, facts, std::move(requests), now, 1, std::nullopt};
    return PlanAnalysis(in);
  }
  void Advance(std::chrono::milliseconds d) { now += d; }

  // Initialized with rev1 on primary.
  Rollout& Initialized() {
    facts.primary_found = true;
    facts.primary_ready = true;
    Tick();
    REQUIRE(status.phase == Phase::kInitialized);
    return *this;
  }
  // A new revision, canary ready, rollout started.
  Rollout& Started(const std::string& revision = "rev2") {
    facts.target_revision = revision;
    Tick();
    REQUIRE(status.phase == Phase::kProgressing);
    facts.canary_ready = true;
    return *this;
  }
  Decision& NextStep(const AnalysisOutcome& outcome = {}) {
    Advance(spec.analysis.interval);
    return Tick(outcome);
  }
};

bool Has(const Decision& d, Type type) {
  for (const auto& a : d.actions)
    if (a.type == type) return true;
  return false;
}

const Action* Find(const Decision& d, Type type) {
  for (const auto& a : d.actions)
    if (a.type == type) return &a;
  return nullptr;
}

int RoutedCanaryWeight(const Decision& d) {
  const Action* a = Find(d, Type::kRoute);
  REQUIRE(a != nullptr);
  CHECK(a->primary_weight + a->canary_weight == 100);
  return a->canary_weight;
}

std::string ReadyReason(const CanaryStatus& s) {
  const Condition* c = s.FindCondition("Ready");
  return c ? c->reason : "";
}

AnalysisOutcome FailingCheck() {
  AnalysisOutcome o;
  o.check_failure = "metric request-success-rate 91.2 below the minimum 99";
  return o;
}

}  // namespace

TEST_CASE("initialization creates the primary, waits for it, then routes all traffic to it", "[state]") {
  Rollout r;
  auto& d1 = r.Tick();
  CHECK(Has(d1, Type::kInitializePrimary));
  CHECK(r.status.phase == Phase::kInitializing);
  CHECK(ReadyReason(r.status) == "Initializing");

  r.facts.primary_found = true;
  auto& d2 = r.Tick();
  CHECK_FALSE(Has(d2, Type::kInitializePrimary));
  CHECK(r.status.phase == Phase::kInitializing);

  r.facts.primary_ready = true;
  auto& d3 = r.Tick();
  CHECK(r.status.phase == Phase::kInitialized);
  CHECK(RoutedCanaryWeight(d3) == 0);
  CHECK(Has(d3, Type::kScaleCanaryDown));
  CHECK(r.status.last_applied_spec == "rev1");
  CHECK(r.status.last_promoted_spec == "rev1");
  CHECK(ReadyReason(r.status) == "Initialized");
}

TEST_CASE("a missing target is reported, not crashed on", "[state]") {
  Rollout r;
  r.facts.target_found = false;
  auto& d = r.Tick();
  CHECK(d.actions.empty());
  CHECK(ReadyReason(r.status) == "TargetNotFound");
}

TEST_CASE("progressive canary: stepWeight up to maxWeight, then promotion and finalising", "[state]") {
  Rollout r;
  r.Initialized();
  r.facts.target_revision = "rev2";
  auto& start = r.Tick();
  CHECK(Has(start, Type::kScaleCanaryUp));
  CHECK(r.status.phase == Phase::kProgressing);
  CHECK(r.status.last_applied_spec == "rev2");
  CHECK(r.status.last_promoted_spec == "rev1");

  // The canary is not ready yet: no step, whatever the time.
  r.Advance(10s);
  CHECK(r.Plan().Empty());
  CHECK_FALSE(Has(r.Tick(), Type::kRoute));

  r.facts.canary_ready = true;
  // Not a whole interval since the last step: nothing to do, and the requeue says when.
  r.Advance(-5s);
  auto& early = r.Tick();
  CHECK_FALSE(Has(early, Type::kRoute));
  CHECK(early.requeue_after == 5s);
  r.Advance(5s);

  AnalysisPlan plan = r.Plan();
  CHECK(plan.checks);
  CHECK(plan.pre_rollout);
  CHECK(plan.rollback_gate);
  CHECK(plan.confirm_traffic_increase);
  CHECK_FALSE(plan.confirm_promotion);
  CHECK(RoutedCanaryWeight(r.Tick()) == 10);
  CHECK(RoutedCanaryWeight(r.NextStep()) == 20);
  CHECK_FALSE(r.Plan().pre_rollout);
  CHECK(RoutedCanaryWeight(r.NextStep()) == 30);
  CHECK(r.status.canary_weight == 30);

  r.Advance(10s);
  CHECK(r.Plan().confirm_promotion);
  r.facts.primary_ready = false;  // the primary rolls out the copied template
  auto& promote = r.Tick();
  CHECK(Has(promote, Type::kPromotePrimary));
  CHECK(r.status.phase == Phase::kPromoting);
  CHECK_FALSE(Has(r.Tick(), Type::kRoute));  // traffic stays until the primary is ready

  r.facts.primary_ready = true;
  auto& finish = r.Tick();
  CHECK(RoutedCanaryWeight(finish) == 0);
  CHECK(Has(finish, Type::kScaleCanaryDown));
  CHECK(Find(finish, Type::kRunWebhooks)->webhook_type == "post-rollout");
  CHECK(Find(finish, Type::kAlert)->severity == "info");
  CHECK(Find(finish, Type::kAlert)->reason == "Promoted");
  CHECK(r.status.phase == Phase::kSucceeded);
  CHECK(r.status.last_promoted_spec == "rev2");
  CHECK(r.status.FindCondition("Promoted")->status == "True");

  // Nothing new: nothing happens.
  r.Advance(10s);
  CHECK(r.Plan().Empty());
  CHECK(r.Tick().actions.empty());
}

TEST_CASE("stepWeights schedule and stepped promotion back to primary", "[state]") {
  Rollout r;
  r.spec.analysis.step_weight = 0;
  r.spec.analysis.max_weight = 0;
  r.spec.analysis.step_weights = {5, 25, 50};
  r.spec.analysis.step_weight_promotion = 20;
  r.Initialized().Started();
  CHECK(RoutedCanaryWeight(r.NextStep()) == 5);
  CHECK(RoutedCanaryWeight(r.NextStep()) == 25);
  CHECK(RoutedCanaryWeight(r.NextStep()) == 50);
  CHECK(Has(r.NextStep(), Type::kPromotePrimary));
  r.Advance(10s);
  CHECK(RoutedCanaryWeight(r.Tick()) == 30);
  CHECK(r.status.phase == Phase::kPromoting);
  CHECK_FALSE(Has(r.Tick(), Type::kRoute));  // one step of promotion per interval
  CHECK(RoutedCanaryWeight(r.NextStep()) == 10);
  auto& last = r.NextStep();
  CHECK(RoutedCanaryWeight(last) == 0);
  CHECK(r.status.phase == Phase::kSucceeded);
}

TEST_CASE("failed checks reaching the threshold roll back, and the revision does not restart", "[state]") {
  Rollout r;
  r.Initialized().Started();
  CHECK(RoutedCanaryWeight(r.NextStep()) == 10);
  auto& f1 = r.NextStep(FailingCheck());
  CHECK_FALSE(Has(f1, Type::kRoute));
  CHECK(r.status.failed_checks == 1);
  CHECK(r.status.phase == Phase::kProgressing);
  auto& f2 = r.NextStep(FailingCheck());
  CHECK(RoutedCanaryWeight(f2) == 0);
  CHECK(Has(f2, Type::kScaleCanaryDown));
  CHECK(Find(f2, Type::kAlert)->severity == "error");
  CHECK(Find(f2, Type::kAlert)->reason == "RolledBack");
  CHECK(r.status.phase == Phase::kFailed);
  CHECK(ReadyReason(r.status) == "RolledBack");
  CHECK_THAT(r.status.FindCondition("Ready")->message, Catch::Contains("request-success-rate"));
  CHECK(r.status.last_promoted_spec == "rev1");

  r.Advance(10s);
  CHECK(r.Plan().Empty());
  CHECK(r.Tick().actions.empty());
  CHECK(r.status.phase == Phase::kFailed);
}

TEST_CASE("a pre-rollout failure counts as a failed check", "[state]") {
  Rollout r;
  r.Initialized().Started();
  AnalysisOutcome o;
  o.pre_rollout_failure = "webhook load-test answered 500";
  r.NextStep(o);
  CHECK(r.status.failed_checks == 1);
  CHECK(r.status.canary_weight == 0);
}

TEST_CASE("abort by annotation returns traffic at once and the revision stays stopped", "[state][requests]") {
  Rollout r;
  r.Initialized().Started();
  r.NextStep();
  r.NextStep();
  REQUIRE(r.status.canary_weight == 20);
  r.Advance(1s);  // mid-interval: the abort does not wait for the next step
  std::vector<PendingRequest> abort = {{RequestKind::kAbort, "latency looks wrong"}};
  CHECK(r.Plan(abort).Empty());
  auto& d = r.Tick({}, abort);
  CHECK(RoutedCanaryWeight(d) == 0);
  CHECK(Has(d, Type::kScaleCanaryDown));
  CHECK(d.consumed == std::vector<RequestKind>{RequestKind::kAbort});
  CHECK(r.status.phase == Phase::kFailed);
  CHECK(ReadyReason(r.status) == "Aborted");
  CHECK_THAT(r.status.FindCondition("Ready")->message, Catch::Contains("latency looks wrong"));
  CHECK(r.status.requests.at("abort").value == "latency looks wrong");

  r.Advance(30s);
  CHECK(r.Tick().actions.empty());

  // Aborting again when nothing runs is answered, not ignored.
  auto& again = r.Tick({}, abort);
  CHECK(again.consumed.size() == 1);
  CHECK_THAT(r.status.requests.at("abort").outcome, Catch::Contains("nothing to abort"));
}

TEST_CASE("retry by annotation runs a failed revision again", "[state][requests]") {
  Rollout r;
  r.Initialized().Started();
  r.Tick({}, {{RequestKind::kAbort, "oops"}});
  REQUIRE(r.status.phase == Phase::kFailed);
  std::vector<PendingRequest> retry = {{RequestKind::kRetry, "1"}};
  CHECK(r.Plan(retry).confirm_rollout);
  auto& d = r.Tick({}, retry);
  CHECK(d.consumed == std::vector<RequestKind>{RequestKind::kRetry});
  CHECK(Has(d, Type::kScaleCanaryUp));
  CHECK(r.status.phase == Phase::kProgressing);
  CHECK(r.status.failed_checks == 0);
}

TEST_CASE("promote by annotation waits for a ready canary, then skips the analysis", "[state][requests]") {
  Rollout r;
  r.Initialized().Started();
  r.facts.canary_ready = false;
  std::vector<PendingRequest> promote = {{RequestKind::kPromote, "true"}};
  auto& waiting = r.Tick({}, promote);
  CHECK(waiting.consumed.empty());
  CHECK(r.status.phase == Phase::kProgressing);
  r.facts.canary_ready = true;
  auto& d = r.Tick({}, promote);
  CHECK(d.consumed == std::vector<RequestKind>{RequestKind::kPromote});
  CHECK(Has(d, Type::kPromotePrimary));
  CHECK(r.status.phase == Phase::kPromoting);
}

TEST_CASE("reconcile by annotation makes the step due now", "[state][requests]") {
  Rollout r;
  r.Initialized().Started();
  r.Advance(1s);
  CHECK(r.Plan().Empty());
  std::vector<PendingRequest> reconcile = {{RequestKind::kReconcile, "now"}};
  CHECK(r.Plan(reconcile).checks);
  auto& d = r.Tick({}, reconcile);
  CHECK(RoutedCanaryWeight(d) == 10);
  CHECK(d.consumed == std::vector<RequestKind>{RequestKind::kReconcile});
}

TEST_CASE("a new revision mid-rollout resets the analysis", "[state]") {
  Rollout r;
  r.Initialized().Started();
  r.NextStep();
  r.NextStep(FailingCheck());
  REQUIRE(r.status.canary_weight == 10);
  REQUIRE(r.status.failed_checks == 1);
  r.facts.target_revision = "rev3";
  r.facts.canary_ready = false;
  auto& d = r.Tick();
  CHECK(RoutedCanaryWeight(d) == 0);
  CHECK(Has(d, Type::kScaleCanaryUp));
  CHECK(r.status.phase == Phase::kProgressing);
  CHECK(r.status.last_applied_spec == "rev3");
  CHECK(r.status.failed_checks == 0);
  CHECK(r.status.canary_weight == 0);
}

TEST_CASE("a revision equal to the promoted one does not start a rollout", "[state]") {
  Rollout r;
  r.Initialized();
  r.facts.target_revision = "rev1";
  r.Advance(1h);
  CHECK(r.Plan().Empty());
  CHECK(r.Tick().actions.empty());
  CHECK(r.status.phase == Phase::kInitialized);
}

TEST_CASE("a target reverted to the promoted revision ends a running rollout cleanly", "[state]") {
  Rollout r;
  r.Initialized().Started();
  r.NextStep();
  r.facts.target_revision = "rev1";
  auto& d = r.Tick();
  CHECK(RoutedCanaryWeight(d) == 0);
  CHECK(Has(d, Type::kScaleCanaryDown));
  CHECK(r.status.phase == Phase::kSucceeded);
  CHECK(ReadyReason(r.status) == "Reverted");
  CHECK(r.status.last_promoted_spec == "rev1");
}

TEST_CASE("a canary never ready within progressDeadlineSeconds rolls back", "[state]") {
  Rollout r;
  r.Initialized();
  r.facts.target_revision = "rev2";
  r.Tick();
  r.Advance(59s);
  r.Tick();
  CHECK(r.status.phase == Phase::kProgressing);
  r.Advance(2s);
  auto& d = r.Tick();
  CHECK(r.status.phase == Phase::kFailed);
  CHECK(ReadyReason(r.status) == "ProgressDeadlineExceeded");
  CHECK(Has(d, Type::kScaleCanaryDown));

  SECTION("or when the Deployment itself reports ProgressDeadlineExceeded") {
    Rollout q;
    q.Initialized();
    q.facts.target_revision = "rev2";
    q.Tick();
    q.facts.canary_deadline_exceeded = true;
    q.Tick();
    CHECK(q.status.phase == Phase::kFailed);
    CHECK(ReadyReason(q.status) == "ProgressDeadlineExceeded");
  }
}

TEST_CASE("gates: confirm-rollout, confirm-traffic-increase, confirm-promotion, rollback", "[state][gates]") {
  Rollout r;
  r.Initialized();
  r.facts.target_revision = "rev2";
  AnalysisOutcome closed;
  closed.confirm_rollout_open = false;
  CHECK(r.Plan().confirm_rollout);
  auto& wait = r.Tick(closed);
  CHECK(r.status.phase == Phase::kWaiting);
  CHECK_FALSE(Has(wait, Type::kScaleCanaryUp));
  CHECK(Find(wait, Type::kAlert) != nullptr);
  CHECK(r.Plan().Empty());  // polled once per interval
  r.Advance(10s);
  CHECK(r.Plan().confirm_rollout);
  CHECK(Find(r.Tick(closed), Type::kAlert) == nullptr);  // one alert per wait, not per poll
  r.Advance(10s);
  CHECK(Has(r.Tick(), Type::kScaleCanaryUp));
  CHECK(r.status.phase == Phase::kProgressing);
  r.facts.canary_ready = true;

  AnalysisOutcome no_increase;
  no_increase.confirm_traffic_increase_open = false;
  CHECK_FALSE(Has(r.NextStep(no_increase), Type::kRoute));
  CHECK(r.status.canary_weight == 0);
  r.NextStep();
  r.NextStep();
  r.NextStep();
  REQUIRE(r.status.canary_weight == 30);

  AnalysisOutcome no_promotion;
  no_promotion.confirm_promotion_open = false;
  auto& waiting = r.NextStep(no_promotion);
  CHECK(r.status.phase == Phase::kWaitingPromotion);
  REQUIRE(Find(waiting, Type::kAlert));
  CHECK(Find(waiting, Type::kAlert)->reason == "WaitingPromotion");
  CHECK(Find(r.NextStep(no_promotion), Type::kAlert) == nullptr);  // one alert per wait
  // Checks keep running while waiting for promotion.
  AnalysisOutcome failing_while_waiting = FailingCheck();
  failing_while_waiting.confirm_promotion_open = false;
  r.NextStep(failing_while_waiting);
  CHECK(r.status.failed_checks == 1);
  CHECK(Has(r.NextStep(), Type::kPromotePrimary));

  SECTION("a rollback webhook answering 2xx rolls back") {
    Rollout q;
    q.Initialized().Started();
    AnalysisOutcome rollback;
    rollback.rollback_requested = true;
    q.NextStep(rollback);
    CHECK(q.status.phase == Phase::kFailed);
  }
}

TEST_CASE("A/B testing routes matched requests to the canary for the iterations", "[state][strategies]") {
  Rollout r;
  r.spec.analysis.iterations = 3;
  r.spec.analysis.has_match = true;
  REQUIRE(r.spec.strategy() == Strategy::kABTesting);
  r.Initialized().Started();
  for (int i = 1; i <= 3; ++i) {
    auto& d = r.NextStep();
    const Action* route = Find(d, Type::kRoute);
    REQUIRE(route);
    CHECK(route->ab_match);
    CHECK(route->canary_weight == 0);
    CHECK(r.status.iterations == i);
  }
  auto& promote = r.NextStep();
  CHECK(Has(promote, Type::kPromotePrimary));
  CHECK(RoutedCanaryWeight(promote) == 100);
  r.facts.primary_ready = true;
  auto& done = r.Tick();
  CHECK(RoutedCanaryWeight(done) == 0);
  CHECK_FALSE(Find(done, Type::kRoute)->ab_match);
  CHECK(r.status.phase == Phase::kSucceeded);
}

TEST_CASE("blue/green with the kubernetes provider switches after the iterations", "[state][strategies]") {
  Rollout r;
  r.spec.provider = "kubernetes";
  r.spec.analysis.iterations = 2;
  REQUIRE(r.spec.strategy() == Strategy::kBlueGreen);
  r.Initialized().Started();
  r.NextStep();
  r.NextStep();
  CHECK(r.status.iterations == 2);
  CHECK(r.status.canary_weight == 0);
  r.facts.primary_ready = false;
  auto& promote = r.NextStep();
  CHECK(RoutedCanaryWeight(promote) == 100);  // the switch: apex selects the new version
  CHECK(Has(promote, Type::kPromotePrimary));
  r.facts.primary_ready = true;
  CHECK(RoutedCanaryWeight(r.Tick()) == 0);  // back to the primary, which now runs it
  CHECK(r.status.phase == Phase::kSucceeded);
}

TEST_CASE("skipAnalysis promotes as soon as the canary is ready", "[state]") {
  Rollout r;
  r.spec.skip_analysis = true;
  r.Initialized().Started();
  CHECK(r.Plan().Empty());
  CHECK(Has(r.Tick(), Type::kPromotePrimary));
}

TEST_CASE("suspend holds the rollout where it is, but an abort still works", "[state]") {
  Rollout r;
  r.Initialized().Started();
  r.NextStep();
  r.spec.suspend = true;
  r.Advance(1h);
  CHECK(r.Plan().Empty());
  CHECK(r.Tick().actions.empty());
  CHECK(r.status.canary_weight == 10);
  CHECK(ReadyReason(r.status) == "Suspended");
  r.Tick({}, {{RequestKind::kAbort, "stop"}});
  CHECK(r.status.phase == Phase::kFailed);
}

TEST_CASE("an invalid spec is reported and nothing else happens", "[state]") {
  Rollout r;
  r.Initialized().Started();
  StepInput in{r.spec, r.status, r.facts, {}, r.now + 1h, 2, "spec.analysis.stepWeights: must increase: 50 then 20"};
  Decision d = Step(in, {});
  CHECK(d.actions.empty());
  CHECK(d.status.phase == Phase::kProgressing);
  CHECK(ReadyReason(d.status) == "InvalidSpec");
  CHECK(d.status.FindCondition("Ready")->status == "False");
  CHECK(PlanAnalysis(in).Empty());
}

TEST_CASE("deletion finalizes, reverting when revertOnDeletion is set", "[state]") {
  Rollout r;
  r.Initialized();
  r.spec.revert_on_deletion = true;
  r.facts.deleting = true;
  auto& d = r.Tick();
  const Action* fin = Find(d, Type::kFinalize);
  REQUIRE(fin);
  CHECK(fin->revert);
  CHECK(r.status.phase == Phase::kTerminating);
}

TEST_CASE("every phase change records an Event with a reason", "[state]") {
  Rollout r;
  r.Initialized();
  r.facts.target_revision = "rev2";
  auto& d = r.Tick();
  const Action* ev = Find(d, Type::kEvent);
  REQUIRE(ev);
  CHECK(ev->reason == "Progressing");
  CHECK_THAT(ev->message, Catch::Contains("rev2"));
}

TEST_CASE("the route is a function of the status: one route action per tick, equal to TrafficFor", "[state][reliability]") {
  Rollout r;
  r.spec.analysis.iterations = 2;
  r.spec.analysis.mirror = true;
  REQUIRE(r.spec.strategy() == Strategy::kBlueGreen);
  CHECK_FALSE(TrafficFor(r.spec, r.status).has_value());  // Initializing: not ours to set yet
  r.Initialized();
  CHECK(TrafficFor(r.spec, r.status) == Weights{100, 0, false, false});
  r.Started();
  CHECK_FALSE(TrafficFor(r.spec, r.status)->mirror);  // no mirroring before the first step
  auto& first = r.NextStep();
  const Action* route = Find(first, Type::kRoute);
  REQUIRE(route);
  CHECK(route->mirror);
  CHECK(TrafficFor(r.spec, r.status) == Weights{100, 0, false, true});
  auto& second = r.NextStep();
  CHECK_FALSE(Has(second, Type::kRoute));  // the route stays what the status says
  CHECK(TrafficFor(r.spec, r.status)->mirror);
  auto& promote = r.NextStep();
  CHECK(RoutedCanaryWeight(promote) == 100);
  CHECK_FALSE(Find(promote, Type::kRoute)->mirror);  // promoting: all traffic, no mirror
  r.facts.primary_ready = true;
  auto& done = r.Tick();
  int routes = 0;
  for (const auto& a : done.actions) routes += a.type == Type::kRoute;
  CHECK(routes == 1);  // 100 -> 0 within one tick is one route, the final one
  CHECK(TrafficFor(r.spec, r.status) == Weights{100, 0, false, false});
  CHECK(CanaryShouldRun(r.status) == false);
}

TEST_CASE("the target deleted mid-rollout fails the rollout and returns traffic to the primary", "[state][reliability]") {
  Rollout r;
  r.Initialized().Started();
  r.NextStep();
  REQUIRE(r.status.canary_weight == 10);
  r.facts.target_found = false;
  r.facts.canary_ready = false;
  auto& d = r.Tick();
  CHECK(r.status.phase == Phase::kFailed);
  CHECK(ReadyReason(r.status) == "TargetNotFound");
  CHECK(RoutedCanaryWeight(d) == 0);
  const Action* ev = Find(d, Type::kEvent);
  REQUIRE(ev);
  CHECK(ev->event_type == "Warning");
  CHECK_THAT(ev->message, Catch::Contains("was deleted during the rollout"));
}

TEST_CASE("alerts are queued in status with the step that decides them, only when alerts are configured", "[state][reliability]") {
  Rollout plain;
  plain.Initialized().Started();
  plain.NextStep(FailingCheck());
  plain.NextStep(FailingCheck());
  REQUIRE(plain.status.phase == Phase::kFailed);
  CHECK(Has(plain.last, Type::kAlert));
  CHECK(plain.status.pending_alerts.empty());  // nothing to deliver: no extra status write

  Rollout r;
  r.spec.analysis.alerts.push_back({"chat", "info", "slack", ""});
  r.Initialized().Started();
  r.NextStep(FailingCheck());
  CHECK(r.status.pending_alerts.empty());
  // The failing step decided twice from the same status (its first status write refused):
  // each decision queues the alert once, and only the one that is written counts.
  CanaryStatus before = r.status;
  r.Advance(r.spec.analysis.interval);
  for (int attempt = 0; attempt < 2; ++attempt) {
    r.status = before;
    r.Tick(FailingCheck());
    REQUIRE(r.status.pending_alerts.size() == 1);
    CHECK(r.status.pending_alerts[0].reason == "RolledBack");
    CHECK(r.status.pending_alerts[0].severity == "error");
  }
  CHECK(CanaryShouldRun(r.status) == false);
}
