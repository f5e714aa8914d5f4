#include "api/canary_types.h"

#include <array>
#include <utility>

namespace sluice::api {
namespace {

constexpr std::array<std::pair<Phase, const char*>, 11> kPhases = {{
    {Phase::kInitializing, "Initializing"},
    {Phase::kInitialized, "Initialized"},
    {Phase::kWaiting, "Waiting"},
    {Phase::kProgressing, "Progressing"},
    {Phase::kWaitingPromotion, "WaitingPromotion"},
    {Phase::kPromoting, "Promoting"},
    {Phase::kFinalising, "Finalising"},
    {Phase::kSucceeded, "Succeeded"},
    {Phase::kFailed, "Failed"},
    {Phase::kTerminating, "Terminating"},
    {Phase::kTerminated, "Terminated"},
}};

}  // namespace

const char* ToString(Phase phase) {
  for (const auto& [p, name] : kPhases)
    if (p == phase) return name;
  return "Unknown";
}

std::optional<Phase> ParsePhase(const std::string& text) {
  for (const auto& [p, name] : kPhases)
    if (text == name) return p;
  return std::nullopt;
}

bool InProgress(Phase phase) {
  return phase == Phase::kProgressing || phase == Phase::kWaitingPromotion || phase == Phase::kPromoting ||
         phase == Phase::kFinalising;
}

const char* ToString(Strategy strategy) {
  switch (strategy) {
    case Strategy::kCanary:
      return "canary";
    case Strategy::kABTesting:
      return "ab-testing";
    case Strategy::kBlueGreen:
      return "blue-green";
  }
  return "canary";
}

Strategy CanarySpec::strategy() const {
  if (analysis.iterations > 0 && analysis.has_match) return Strategy::kABTesting;
  if (analysis.iterations > 0 || !provider_weighted) return Strategy::kBlueGreen;
  return Strategy::kCanary;
}

int CanarySpec::EffectiveMaxWeight() const {
  if (analysis.max_weight > 0) return analysis.max_weight;
  if (!analysis.step_weights.empty()) return analysis.step_weights.back();
  return 100;
}

const char* ToString(RequestKind kind) {
  switch (kind) {
    case RequestKind::kAbort:
      return "abort";
    case RequestKind::kPromote:
      return "promote";
    case RequestKind::kRetry:
      return "retry";
    case RequestKind::kReconcile:
      return "reconcile";
  }
  return "reconcile";
}

std::string AnnotationKey(RequestKind kind) { return std::string("sluice.dev/") + ToString(kind); }

const Condition* CanaryStatus::FindCondition(const std::string& type) const {
  for (const auto& c : conditions)
    if (c.type == type) return &c;
  return nullptr;
}

void CanaryStatus::SetCondition(Condition condition, TimePoint now) {
  for (auto& c : conditions) {
    if (c.type != condition.type) continue;
    condition.last_transition = c.status == condition.status ? c.last_transition : now;
    c = std::move(condition);
    return;
  }
  condition.last_transition = now;
  conditions.push_back(std::move(condition));
}

}  // namespace sluice::api
