#include "controller/gitops/health.h"

namespace sluice::gitops {

using json = nlohmann::json;

namespace {

Health Current() { return {Health::State::kCurrent, ""}; }
Health Waiting(std::string why) { return {Health::State::kInProgress, std::move(why)}; }
Health Failed(std::string why) { return {Health::State::kFailed, std::move(why)}; }

const json* FindCondition(const json& status, const std::string& type) {
  if (!status.is_object() || !status.contains("conditions") || !status["conditions"].is_array()) return nullptr;
  for (const auto& c : status["conditions"])
    if (c.is_object() && c.value("type", "") == type) return &c;
  return nullptr;
}

int64_t Int(const json& parent, const char* key, int64_t fallback) {
  if (!parent.is_object()) return fallback;
  auto it = parent.find(key);
  return it != parent.end() && it->is_number_integer() ? it->get<int64_t>() : fallback;
}

Health Deployment(const json& d, int64_t generation) {
  const json& spec = d.value("spec", json::object());
  const json& status = d.value("status", json::object());
  if (Int(status, "observedGeneration", 0) < generation) return Waiting("the controller has not observed generation " + std::to_string(generation) + " yet");
  if (const json* p = FindCondition(status, "Progressing"); p && p->value("reason", "") == "ProgressDeadlineExceeded")
    return Failed("progress deadline exceeded: " + p->value("message", ""));
  int64_t want = Int(spec, "replicas", 1);
  int64_t updated = Int(status, "updatedReplicas", 0);
  if (updated < want)
    return Waiting(std::to_string(updated) + " of " + std::to_string(want) + " replicas updated");
  if (Int(status, "replicas", 0) > updated)
    return Waiting(std::to_string(Int(status, "replicas", 0) - updated) + " old replicas pending termination");
  if (Int(status, "availableReplicas", 0) < updated)
    return Waiting(std::to_string(Int(status, "availableReplicas", 0)) + " of " + std::to_string(updated) +
                   " updated replicas available");
  return Current();
}

Health Canary(const json& c) {
  const json& status = c.value("status", json::object());
  std::string phase = status.value("phase", "");
  if (phase == "Failed") return Failed("canary phase Failed");
  if (phase == "Succeeded" || phase == "Initialized") return Current();
  if (const json* ready = FindCondition(status, "Ready"); ready && ready->value("status", "") == "True") return Current();
  return Waiting(phase.empty() ? "canary not initialized yet" : "canary phase " + phase);
}

Health ByReadyCondition(const json& o, int64_t generation) {
  const json& status = o.value("status", json::object());
  if (Int(status, "observedGeneration", generation) < generation)
    return Waiting("status.observedGeneration is behind generation " + std::to_string(generation));
  if (const json* stalled = FindCondition(status, "Stalled"); stalled && stalled->value("status", "") == "True")
    return Failed("Stalled: " + stalled->value("message", ""));
  const json* ready = FindCondition(status, "Ready");
  if (!ready) return Current();
  if (Int(*ready, "observedGeneration", generation) < generation) return Waiting("Ready condition is for an older generation");
  if (ready->value("status", "") == "True") return Current();
  std::string why = ready->value("message", ready->value("reason", ""));
  return Waiting("Ready=" + ready->value("status", "Unknown") + (why.empty() ? "" : ": " + why));
}

}  // namespace

Health AssessHealth(const json& object) {
  if (!object.is_object()) return Waiting("not found");
  if (object.contains("metadata") && object["metadata"].contains("deletionTimestamp")) return Waiting("being deleted");
  std::string kind = object.value("kind", "");
  std::string api_version = object.value("apiVersion", "");
  int64_t generation = Int(object.value("metadata", json::object()), "generation", 0);
  if (kind == "Deployment" && api_version == "apps/v1") return Deployment(object, generation);
  if (kind == "Canary" && api_version.rfind("sluice.dev/", 0) == 0) return Canary(object);
  if (kind == "Namespace" && api_version == "v1") {
    std::string phase = object.value("status", json::object()).value("phase", "Active");
    return phase == "Active" ? Current() : Waiting("namespace phase " + phase);
  }
  if (kind == "CustomResourceDefinition") {
    const json* est = FindCondition(object.value("status", json::object()), "Established");
    return est && est->value("status", "") == "True" ? Current() : Waiting("not established yet");
  }
  return ByReadyCondition(object, generation);
}

}  // namespace sluice::gitops
