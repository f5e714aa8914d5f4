#include "sandbox/demo/scenario.h"

namespace sluice::demo {

namespace {

using Kind = ScenarioStep::Kind;

AppVersion Healthy(const std::string& tag) {
  return {tag, "0", "p50=20,p99=80", "podinfo " + tag + ": healthy (no errors, p99 80 ms)"};
}
AppVersion Faulty(const std::string& tag) {
  return {tag, "0.3", "p50=30,p99=120", "podinfo " + tag + ": faulty (30% of requests fail)"};
}

ScenarioStep First() {
  return {Kind::kRelease, "commit podinfo 6.5.0 and its Canary: the controller creates podinfo-primary",
          Healthy("6.5.0"), "Initialized", ""};
}
ScenarioStep Promote(const std::string& what) {
  return {Kind::kRelease, "commit podinfo 6.5.1 (healthy): " + what, Healthy("6.5.1"), "Succeeded", ""};
}
ScenarioStep RollBack(const std::string& what) {
  return {Kind::kRelease, "commit podinfo 6.5.2 (30% errors): " + what, Faulty("6.5.2"), "Failed", ""};
}

std::vector<Scenario> Build() {
  return {
      {"default", "a progressive canary through the Gateway API: one promotion, then a rollback",
       {First(), Promote("traffic shifts 20% per step while the metrics hold"),
        RollBack("the checks fail and traffic returns to the primary")}},
      {"abort", "a rollout stopped by `kubectl annotate canary podinfo sluice.dev/abort=...`",
       {First(),
        {Kind::kRelease, "commit podinfo 6.5.1: a rollout starts", Healthy("6.5.1"), "", ""},
        {Kind::kAbort, "abort it by annotation", {}, "Failed", "Aborted"}}},
      {"ab", "A/B testing: requests with x-canary: insider go to the new version for 5 iterations",
       {First(), Promote("insiders try it first"), RollBack("the insiders' errors stop it")}},
      {"gate",
       "a manual gate: the analysis passes, then the rollout waits for approval on sluice loadtester",
       {First(),
        {Kind::kRelease, "commit podinfo 6.5.1: analysed, then held at the confirm-promotion gate", Healthy("6.5.1"),
         "WaitingPromotion", ""},
        {Kind::kOpenGate, "approve: open the gate", {}, "Succeeded", ""}},
       true},
      {"bluegreen", "blue/green with the kubernetes provider: tested beside the primary, then switched at once",
       {First(), Promote("tested on podinfo-canary, then the apex Service switches"),
        RollBack("the tests fail and the apex never switches")}},
  };
}

}  // namespace

const Scenario* FindScenario(const std::string& name) {
  static const std::vector<Scenario> scenarios = Build();
  for (const auto& s : scenarios)
    if (s.name == name) return &s;
  return nullptr;
}

std::vector<std::string> ScenarioNames() { return {"default", "abort", "ab", "bluegreen", "gate"}; }

}  // namespace sluice::demo
