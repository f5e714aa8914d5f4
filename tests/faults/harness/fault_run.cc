#include "tests/faults/harness/fault_run.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "tests/analysis/webhook_receiver.h"
#include "tests/faults/harness/cluster.h"
#include "tests/faults/harness/store_tap.h"

namespace sluice::testing::faults {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Steady = std::chrono::steady_clock;

constexpr const char* kNamespace = "default";

// The webhooks the Canaries call, answering per path as scripted (so a rollout fails its
// analysis after a seeded number of good steps), and the alert endpoint.
using Receiver = hooks::WebhookReceiver;

std::string Image(const std::string& app, int version) {
  return "ghcr.io/example/" + app + ":1." + std::to_string(version) + ".0";
}

json DeploymentObject(const std::string& app) {
  json labels = {{"app", app}};
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", {{"name", app}, {"namespace", kNamespace}}},
          {"spec",
           {{"replicas", 2},
            {"selector", {{"matchLabels", labels}}},
            {"template",
             {{"metadata", {{"labels", labels}}},
              {"spec",
               {{"containers", json::array({{{"name", "app"},
                                             {"image", Image(app, 0)},
                                             {"ports", json::array({{{"containerPort", 9898}}})}}})}}}}}}}};
}

json CanaryObject(const Lane& lane, const Receiver& rx) {
  json analysis = {
      {"interval", "1s"},
      {"threshold", 2},
      {"webhooks",
       json::array(
           {{{"name", "check"}, {"type", "rollout"}, {"url", rx.Url("/rollout/" + lane.app)}, {"timeout", "2s"}},
            {{"name", "promotion"},
             {"type", "confirm-promotion"},
             {"url", rx.Url("/promote/" + lane.app)},
             {"timeout", "2s"}}})},
      {"alerts", json::array({{{"name", "all"}, {"severity", "info"}, {"providerRef", {{"name", "faults"}}}}})}};
  analysis.update(lane.analysis);
  return {{"apiVersion", "sluice.dev/v1beta1"},
          {"kind", "Canary"},
          {"metadata", {{"name", lane.app}, {"namespace", kNamespace}}},
          {"spec",
           {{"provider", lane.provider},
            {"targetRef", {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"name", lane.app}}},
            {"service", {{"port", 9898}}},
            {"progressDeadlineSeconds", 60},
            {"analysis", analysis}}}};
}

bool Stepping(const std::string& phase) { return phase == "Progressing" || phase == "WaitingPromotion"; }

// Everything the lanes and the killer share.
struct Run {
  const RunOptions& options;
  SteadyTime start;
  FaultCluster& cluster;
  StoreTap& tap;
  Receiver& rx;
  std::mutex mu;  // report, done
  std::condition_variable cv;
  bool done = false;
  RunReport report;

  double Now() const { return std::chrono::duration<double>(Steady::now() - start).count(); }
  // `d`, or less when the run's deadline comes first.
  milliseconds Within(milliseconds d) const {
    if (options.run_deadline.count() == 0) return d;
    auto left = milliseconds(static_cast<int64_t>((options.run_deadline.count() - Now()) * 1000));
    return std::max(milliseconds(0), std::min(d, left));
  }
  bool Late() const { return options.run_deadline.count() > 0 && Now() > options.run_deadline.count() - 30; }
  void Say(const std::string& line) {
    char t[16];
    std::snprintf(t, sizeof t, "%7.1f s", Now());
    std::lock_guard lock(mu);
    std::cerr << "fault run: " << t << " " << line << "\n";
  }
  void Record(char invariant, const std::string& app, const std::string& detail) {
    double now = Now();
    tap.With([&](InvariantChecker& c) {
      c.Record(Violation{invariant, app, now, std::nullopt, false, 0, detail});
      return 0;
    });
  }
  AppView View(const std::string& app) {
    return tap.With([&](InvariantChecker& c) { return c.View(app); });
  }
  // Sleeps up to `d`; true when the run ended meanwhile.
  bool SleepOrDone(milliseconds d) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, d, [this] { return done; });
  }
};

template <typename T>
T Uniform(std::mt19937_64& rng, T lo, T hi) {
  if constexpr (std::is_floating_point_v<T>)
    return std::uniform_real_distribution<T>(lo, hi)(rng);
  else
    return std::uniform_int_distribution<T>(lo, hi)(rng);
}

milliseconds UniformMs(std::mt19937_64& rng, milliseconds lo, milliseconds hi) {
  return milliseconds(Uniform<int64_t>(rng, lo.count(), std::max(lo.count(), hi.count())));
}

// Waits until the last rollout's Events are written and the abort annotation is gone, so
// the next rollout's Events are told apart from this one's (invariants.cc attributes them by
// their whole-second timestamps) and a late abort cannot hit the next revision.
void Settle(Run& run, const std::string& app, double ended_at) {
  double wait = ended_at + 2.0 - run.Now();
  if (wait > 0) std::this_thread::sleep_for(milliseconds(static_cast<int64_t>(wait * 1000)));
  bool removed = run.tap.WaitUntil([&](InvariantChecker& c) { return !c.View(app).abort_annotation; }, seconds(30));
  if (!removed)
    run.Record('d', app, "the sluice.dev/abort annotation is still on the Canary 30 s after the rollout ended");
  run.tap.WaitUntil([&](InvariantChecker& c) { return run.Now() - c.View(app).last_event_at >= 1.0; }, seconds(10));
}

void ScriptWebhooks(Run& run, const Lane& lane, Outcome outcome, std::mt19937_64& rng) {
  std::vector<int> checks = {200};
  if (outcome == Outcome::kFail) {
    // A few good steps first, so traffic has moved before the analysis fails: a rollout
    // calls its rollout webhook once per step, four times before promotion in every lane.
    checks.assign(Uniform<int>(rng, 0, 2), 200);
    checks.push_back(500);
  }
  run.rx.Script("/rollout/" + lane.app, checks);
  // An aborted rollout must still be running when the abort comes: its promotion gate
  // stays closed, so it waits in WaitingPromotion at the latest.
  run.rx.Script("/promote/" + lane.app, {outcome == Outcome::kAbort ? 500 : 200});
}

void RunLane(Run& run, const Lane& lane, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const RunOptions& o = run.options;
  run.cluster.Create(FaultCluster::Deployments(), DeploymentObject(lane.app));
  run.cluster.Create(FaultCluster::Canaries(), CanaryObject(lane, run.rx));
  bool initialized = run.tap.WaitUntil([&](InvariantChecker& c) { return c.View(lane.app).phase == "Initialized"; },
                                       run.Within(o.initialize_deadline));
  if (!initialized) {
    run.Record('d', lane.app,
               "the Canary did not reach Initialized within " + std::to_string(o.initialize_deadline.count()) +
                   " s: phase " + run.View(lane.app).phase);
    return;
  }
  run.Say(lane.app + " initialized");
  std::string promoted = Image(lane.app, 0);
  double ended_at = run.Now();
  for (int i = 0;; ++i) {
    Outcome outcome;
    if (o.soak.count() > 0) {
      if (run.Now() >= o.soak.count()) break;
      int r = Uniform<int>(rng, 0, 99);
      outcome = r < 60 ? Outcome::kPromote : r < 80 ? Outcome::kFail : Outcome::kAbort;
    } else {
      if (i >= static_cast<int>(lane.plan.size())) break;
      outcome = lane.plan[i];
    }
    if (run.Late()) {
      run.Say(lane.app + " stops: the run's deadline is near");
      break;
    }
    Settle(run, lane.app, ended_at);
    ScriptWebhooks(run, lane, outcome, rng);
    std::string before = run.View(lane.app).last_applied;
    std::string image = Image(lane.app, i + 1);
    run.cluster.Patch(
        FaultCluster::Deployments(), kNamespace, lane.app, kube::PatchType::kJson,
        json::array({{{"op", "replace"}, {"path", "/spec/template/spec/containers/0/image"}, {"value", image}}}));
    double started = run.Now();
    auto new_revision = [&](const AppView& v) { return !v.last_applied.empty() && v.last_applied != before; };
    if (outcome == Outcome::kAbort) {
      bool running = run.tap.WaitUntil(
          [&](InvariantChecker& c) {
            AppView v = c.View(lane.app);
            return new_revision(v) && Stepping(v.phase);
          },
          run.Within(o.rollout_deadline));
      if (running) {
        std::this_thread::sleep_for(UniformMs(rng, milliseconds(300), milliseconds(4000)));
        run.cluster.Patch(FaultCluster::Canaries(), kNamespace, lane.app, kube::PatchType::kMerge,
                          {{"metadata", {{"annotations", {{"sluice.dev/abort", "fault run " + std::to_string(i)}}}}}});
      }
    }
    bool finished = run.tap.WaitUntil(
        [&](InvariantChecker& c) {
          AppView v = c.View(lane.app);
          return new_revision(v) && (v.phase == "Succeeded" || v.phase == "Failed");
        },
        run.Within(o.rollout_deadline));
    AppView v = run.View(lane.app);
    RolloutResult r{lane.app, lane.strategy, lane.provider, outcome, "", false, run.Now() - started};
    if (!finished) {
      r.result = "unfinished";
      run.Record('d', lane.app,
                 "rollout " + std::to_string(i + 1) + " to " + image + " (" + ToString(outcome) +
                     ") did not end within " + std::to_string(static_cast<int>(r.seconds)) + " s: phase " + v.phase +
                     ", lastAppliedSpec " + v.last_applied + (new_revision(v) ? "" : " (the revision before)") +
                     ", canary weight " + (v.canary_weight ? std::to_string(*v.canary_weight) : "-"));
    } else {
      r.result = v.phase + "/" + v.ready_reason;
      std::string want_phase = outcome == Outcome::kPromote ? "Succeeded" : "Failed";
      std::string want_reason = outcome == Outcome::kPromote ? "Succeeded"
                                : outcome == Outcome::kFail  ? "RolledBack"
                                                             : "Aborted";
      std::string want_image = outcome == Outcome::kPromote ? image : promoted;
      r.as_expected = v.phase == want_phase && v.ready_reason == want_reason && v.primary_image == want_image;
      if (!r.as_expected)
        run.Record('d', lane.app,
                   "rollout " + std::to_string(i + 1) + " to " + image + " (" + ToString(outcome) + ") ended " +
                       v.phase + "/" + v.ready_reason + " with " + v.primary_image + " on the primary; expected " +
                       want_phase + "/" + want_reason + " with " + want_image);
      if (v.phase == "Succeeded") promoted = v.primary_image;
    }
    run.Say(lane.app + " rollout " + std::to_string(i + 1) + " (" + ToString(outcome) + ") -> " + r.result +
            (r.as_expected ? "" : "  UNEXPECTED"));
    {
      std::lock_guard lock(run.mu);
      run.report.rollouts.push_back(r);
    }
    if (!finished) return;  // what follows would measure this rollout's leftovers
    ended_at = run.Now();
  }
}

// Kills the controller at seeded moments and starts it again; notices a controller that
// ended by itself (a crash or a fatal error) and starts it again too.
void RunKillerLoop(Run& run, uint64_t seed);

void RunKiller(Run& run, uint64_t seed) {
  try {
    RunKillerLoop(run, seed);
  } catch (const std::exception& e) {
    // The lanes go on and report what a missing controller leaves undone.
    run.Record('x', "", std::string("the killer stopped: ") + e.what());
  }
}

void RunKillerLoop(Run& run, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const RunOptions& o = run.options;
  auto next = Steady::now() + UniformMs(rng, o.kill_gap_min, o.kill_gap_max);
  for (;;) {
    if (run.SleepOrDone(milliseconds(200))) return;
    std::string exit;
    if (!run.cluster.ControllerAlive(&exit)) {
      run.Record('x', "", "sluice controller exited by itself; the end of its output:\n" + exit);
      run.cluster.StartController();
      continue;
    }
    bool more = o.soak.count() > 0 || run.report.kills < o.max_kills;
    if (!more || Steady::now() < next) continue;
    run.cluster.KillController();
    double at = run.Now();
    {
      std::lock_guard lock(run.mu);
      ++run.report.kills;
      run.report.kill_times.push_back(at);
    }
    run.Say("kill -9 of the controller (" + std::to_string(run.report.kills) + ")");
    if (run.SleepOrDone(UniformMs(rng, milliseconds(0), o.restart_pause_max))) return;
    run.cluster.StartController();
    next = Steady::now() + UniformMs(rng, o.kill_gap_min, o.kill_gap_max);
  }
}

std::string Percent(uint64_t part, uint64_t whole) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.1f%%", whole ? 100.0 * part / whole : 0.0);
  return buf;
}

}  // namespace

const char* ToString(Outcome outcome) {
  switch (outcome) {
    case Outcome::kPromote:
      return "promote";
    case Outcome::kFail:
      return "failing analysis";
    case Outcome::kAbort:
      return "abort";
  }
  return "?";
}

std::vector<Lane> DefaultLanes() {
  using O = Outcome;
  json ab_match = json::array({{{"headers", {{"x-canary", {{"exact", "insider"}}}}}}});
  return {
      {"sw",
       "gatewayapi",
       "canary stepWeight",
       {{"stepWeight", 20}, {"maxWeight", 60}},
       {O::kPromote, O::kFail, O::kAbort}},
      {"sws", "gatewayapi", "canary stepWeights", {{"stepWeights", {10, 30, 60}}}, {O::kAbort, O::kPromote, O::kFail}},
      {"bg", "gatewayapi", "blue/green", {{"iterations", 3}}, {O::kFail, O::kPromote, O::kAbort}},
      {"ab", "gatewayapi", "A/B", {{"iterations", 3}, {"match", ab_match}}, {O::kPromote, O::kAbort, O::kFail}},
      {"kbg", "kubernetes", "blue/green", {{"iterations", 3}}, {O::kPromote, O::kFail, O::kAbort}},
  };
}

RunOptions ShortRun(uint64_t seed) {
  RunOptions o;
  o.seed = seed;
  o.faults.error_rate = 0.1;
  o.faults.conflict_rate = 0.05;
  o.faults.max_delay = milliseconds(500);
  o.faults.cut_watch_min = milliseconds(2000);
  o.faults.cut_watch_max = milliseconds(8000);
  o.faults.refuse_for = milliseconds(2000);
  o.faults.refuse_every = milliseconds(40000);
  o.run_deadline = seconds(240);
  o.max_kills = 3;
  o.kill_gap_min = milliseconds(5000);
  o.kill_gap_max = milliseconds(15000);
  return o;
}

RunOptions Soak(uint64_t seed, int minutes) {
  RunOptions o = ShortRun(seed);
  o.soak = seconds(60L * minutes);
  // The operator run: 0-2 s delays, 5 s windows of refused connections.
  o.faults.max_delay = milliseconds(2000);
  o.faults.refuse_for = milliseconds(5000);
  o.faults.refuse_every = milliseconds(60000);
  o.kill_gap_min = milliseconds(5000);
  o.kill_gap_max = milliseconds(40000);
  o.rollout_deadline = seconds(180);
  o.run_deadline = seconds(0);
  return o;
}

std::string RunReport::Summary() const {
  std::ostringstream s;
  s << "fault run summary (seed " << seed << ", " << static_cast<int>(seconds) << " s, " << changes_checked
    << " changes checked)\n";
  s << "  faults injected: " << faults.Injected() << " in " << faults.requests << " requests ("
    << Percent(faults.errors_500 + faults.errors_503 + faults.errors_429 + faults.conflicts, faults.requests)
    << " answered with an error)\n";
  for (const auto& [name, value] : faults.Named()) s << "    " << name << ": " << value << "\n";
  s << "  kills: " << kills << " (kill -9; the controller was started " << controller_starts << " times)";
  for (size_t i = 0; i < kill_times.size() && i < 20; ++i) {
    char t[24];
    std::snprintf(t, sizeof t, "%s%.1f s", i ? ", " : " at ", kill_times[i]);
    s << t;
  }
  s << (kill_times.size() > 20 ? ", ...\n" : "\n");
  std::map<std::string, int> by_outcome;
  int unexpected = 0;
  for (const auto& r : rollouts) {
    ++by_outcome[std::string(ToString(r.expected)) + " -> " + r.result];
    if (!r.as_expected) ++unexpected;
  }
  s << "  rollouts: " << rollouts.size() << " (" << unexpected << " not as expected)\n";
  for (const auto& [what, n] : by_outcome) s << "    " << what << ": " << n << "\n";
  std::map<std::string, int> lanes;
  for (const auto& r : rollouts) ++lanes[r.strategy + " on " + r.provider];
  for (const auto& [what, n] : lanes) s << "    " << what << ": " << n << "\n";
  std::map<char, int> by_invariant;
  for (const auto& v : violations) ++by_invariant[v.invariant];
  s << "  invariant violations: " << violations.size();
  if (!by_invariant.empty()) {
    s << " (";
    bool first = true;
    for (const auto& [inv, n] : by_invariant) {
      s << (first ? "" : ", ") << inv << ": " << n;
      first = false;
    }
    s << ")";
  }
  s << "\n";
  if (!violations.empty())
    s << "    (a: traffic to no ready pods, b: traffic to a revision not under analysis, c: weight moved back,\n"
         "     d: wrong or missing end of a rollout, e: Event or alert twice per transition, f: a second\n"
         "     writer, x: the controller exited by itself)\n";
  for (const auto& v : violations) s << "    " << v.Describe() << "\n";
  if (!violations.empty() && !controller_logs.empty()) {
    s << "  controller logs:\n";
    for (const auto& l : controller_logs) s << "    " << l << "\n";
  }
  return s.str();
}

RunReport RunFaultSuite(const RunOptions& options) {
  RunOptions o = options;
  o.faults.seed = o.seed;
  std::vector<Lane> lanes = o.lanes.empty() ? DefaultLanes() : o.lanes;

  ClusterOptions co;
  co.faults = o.faults;
  co.ready_delay = o.ready_delay;
  co.fixture_crd_dir = o.fixture_crd_dir;
  co.log_dir = o.log_dir;
  FaultCluster cluster(co);

  SteadyTime start = Steady::now();
  InvariantChecker checker;
  for (const auto& lane : lanes) checker.Track(kNamespace, lane.app, lane.provider);
  StoreTap tap(cluster.emulator(), checker, start);
  Receiver rx;
  cluster.Create(FaultCluster::AlertProviders(), {{"apiVersion", "sluice.dev/v1beta1"},
                                                  {"kind", "AlertProvider"},
                                                  {"metadata", {{"name", "faults"}, {"namespace", kNamespace}}},
                                                  {"spec", {{"type", "generic"}, {"address", rx.Url("/alerts")}}}});

  Run run{o, start, cluster, tap, rx};
  run.report.seed = o.seed;
  cluster.StartController();
  std::thread killer([&] { RunKiller(run, o.seed * 7919 + 1); });
  std::vector<std::thread> threads;
  for (size_t i = 0; i < lanes.size(); ++i)
    threads.emplace_back([&, i] {
      try {
        RunLane(run, lanes[i], o.seed * 104729 + i);
      } catch (const std::exception& e) {
        run.Record('d', lanes[i].app, std::string("the lane stopped: ") + e.what());
      }
    });
  for (auto& t : threads) t.join();
  // Routes still converging when the last rollout ended get a moment to settle; a state that
  // still holds after it is reported as lasting to the end.
  tap.WaitUntil([](InvariantChecker& c) { return c.OpenStates() == 0; }, seconds(5));
  {
    std::lock_guard lock(run.mu);
    run.done = true;
  }
  run.cv.notify_all();
  killer.join();
  cluster.StopController();
  tap.Stop();

  double end = run.Now();
  const char* trace = std::getenv("SLUICE_FAULTS_TRACE");
  for (const auto& a : rx.Got("/alerts")) {
    double at = std::chrono::duration<double>(a.at - start).count();
    checker.Alert(a.body.value("name", ""), a.body.value("revision", ""), a.body.value("reason", ""),
                  a.body.value("message", ""), at);
    if (trace && *trace && std::string(trace) != "0")
      std::cerr << "fault run: trace " << at << " s alert " << a.body.dump() << "\n";
  }
  checker.Finish(end);
  RunReport report = std::move(run.report);
  report.seconds = end;
  report.faults = cluster.proxy().counts();
  report.controller_starts = cluster.controller_starts();
  report.changes_checked = tap.changes();
  report.violations = checker.violations();
  for (int n = 1; n <= cluster.controller_starts(); ++n) report.controller_logs.push_back(cluster.ControllerLog(n));
  return report;
}

}  // namespace sluice::testing::faults
