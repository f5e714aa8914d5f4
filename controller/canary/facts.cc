#include "controller/canary/facts.h"

namespace sluice::canary {

DeploymentReadiness ReadinessOf(const json& d, int threshold_percent) {
  DeploymentReadiness r;
  const json spec = d.value("spec", json::object());
  const json status = d.value("status", json::object());
  int64_t generation = d.value("metadata", json::object()).value("generation", int64_t{0});
  int64_t observed = status.value("observedGeneration", int64_t{0});
  int replicas = spec.value("replicas", 1);
  for (const auto& c : status.value("conditions", json::array()))
    if (c.value("type", "") == "Progressing" && c.value("reason", "") == "ProgressDeadlineExceeded")
      r.deadline_exceeded = true;
  if (observed < generation) {
    r.message = "waiting for the rollout to be observed (generation " + std::to_string(generation) + ")";
    return r;
  }
  int updated = status.value("updatedReplicas", 0);
  int available = status.value("availableReplicas", 0);
  int total = status.value("replicas", 0);
  int needed = (replicas * threshold_percent + 99) / 100;
  if (updated < needed) {
    r.message = std::to_string(updated) + " of " + std::to_string(replicas) + " replicas updated";
  } else if (total > updated) {
    r.message = std::to_string(total - updated) + " old replicas pending termination";
  } else if (available < needed) {
    r.message = std::to_string(available) + " of " + std::to_string(replicas) + " updated replicas available";
  } else {
    r.ready = true;
  }
  return r;
}

std::vector<PendingRequest> RequestsFromAnnotations(const json& canary) {
  std::vector<PendingRequest> out;
  const json annotations = canary.value("metadata", json::object()).value("annotations", json::object());
  for (api::RequestKind kind : {api::RequestKind::kAbort, api::RequestKind::kPromote, api::RequestKind::kRetry, api::RequestKind::kReconcile}) {
    auto it = annotations.find(api::AnnotationKey(kind));
    if (it != annotations.end()) out.push_back({kind, it->is_string() ? it->get<std::string>() : it->dump()});
  }
  return out;
}

}  // namespace sluice::canary
