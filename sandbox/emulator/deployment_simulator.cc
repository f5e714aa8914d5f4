// The Deployment controller, simulated: a rollout starts when the spec changes (status shows
// ReplicaSetUpdated), and after deployment_ready_delay the new pods are ready
// (NewReplicaSetAvailable). Annotations make a rollout fail readiness or miss its deadline,
// which is what canary tests need to provoke. Status writes go through the store, so
// watchers see them like any other change.
#include "sandbox/emulator/api_server.h"

#include "apimachinery/managed_fields.h"

#include <functional>

namespace sluice::sandbox {
namespace {

using nlohmann::json;

constexpr char kFailReadiness[] = "sandbox.sluice.dev/fail-readiness";
constexpr char kExceedDeadline[] = "sandbox.sluice.dev/exceed-deadline";
constexpr char kKey[] = "apps/deployments";

std::string Annotation(const json& obj, const char* name) {
  const auto& md = api::Meta(obj);
  if (!md.contains("annotations") || !md["annotations"].is_object()) return "";
  return api::Str(md["annotations"], name);
}

int64_t Generation(const json& obj) {
  const auto& md = api::Meta(obj);
  return md.contains("generation") && md["generation"].is_number_integer() ? md["generation"].get<int64_t>() : 0;
}

int64_t Int(const json& obj, const char* key, int64_t fallback) {
  return obj.is_object() && obj.contains(key) && obj[key].is_number_integer() ? obj[key].get<int64_t>() : fallback;
}

// The pod-template-hash the real controller would give the new ReplicaSet.
std::string ReplicaSetName(const json& obj) {
  static const char kChars[] = "bcdfghjklmnpqrstvwxz2456789";
  size_t h = std::hash<std::string>{}(obj.contains("spec") ? obj["spec"].value("template", json()).dump() : "");
  std::string suffix;
  for (int i = 0; i < 10; ++i, h /= 27) suffix.push_back(kChars[h % 27]);
  return api::NameOf(obj) + "-" + suffix;
}

void SetCondition(json& status, const std::string& type, const std::string& value, const std::string& reason,
                  const std::string& message, const std::string& now) {
  if (!status.contains("conditions") || !status["conditions"].is_array()) status["conditions"] = json::array();
  for (auto& c : status["conditions"]) {
    if (c.value("type", "") != type) continue;
    if (c.value("status", "") != value) c["lastTransitionTime"] = now;
    c["status"] = value;
    c["reason"] = reason;
    c["message"] = message;
    c["lastUpdateTime"] = now;
    return;
  }
  status["conditions"].push_back({{"type", type},
                                  {"status", value},
                                  {"lastUpdateTime", now},
                                  {"lastTransitionTime", now},
                                  {"reason", reason},
                                  {"message", message}});
}

}  // namespace

void ApiServer::SimulateDeployment(const ObjectPtr& old, const ObjectPtr& stored) {
  if (!scheduler_ || api::Meta(*stored).contains("deletionTimestamp")) return;
  int64_t gen = Generation(*stored);
  bool spec_changed = !old || Generation(*old) != gen;
  bool knobs_changed = old && (Annotation(*old, kFailReadiness) != Annotation(*stored, kFailReadiness) ||
                               Annotation(*old, kExceedDeadline) != Annotation(*stored, kExceedDeadline));
  if (!spec_changed && !knobs_changed) return;
  std::string ns = api::NamespaceOf(*stored), name = api::NameOf(*stored);
  scheduler_(std::chrono::milliseconds(0), [this, ns, name, gen] { DeploymentProgress(ns, name, gen); });
  scheduler_(options_.deployment_ready_delay, [this, ns, name, gen] { DeploymentReady(ns, name, gen); });
  if (Annotation(*stored, kExceedDeadline) == "true" || Annotation(*stored, kFailReadiness) == "true") {
    int64_t seconds = Int((*stored)["spec"], "progressDeadlineSeconds", 600);
    auto delay = std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000 * options_.progress_deadline_scale));
    scheduler_(delay, [this, ns, name, gen] { DeploymentDeadline(ns, name, gen); });
  }
}

void ApiServer::WriteDeploymentStatus(const std::string& ns, const std::string& name, int64_t generation,
                                      const std::function<void(const json& spec, json& status)>& fill) {
  auto obj = store_.Get(kKey, ns, name);
  // A newer spec superseded this step (its own timers follow), or the object is gone.
  if (!obj || Generation(*obj) != generation || api::Meta(*obj).contains("deletionTimestamp")) return;
  json copy = *obj;
  json status = copy.contains("status") && copy["status"].is_object() ? copy["status"] : json::object();
  fill(copy.value("spec", json::object()), status);
  status["observedGeneration"] = generation;
  copy["status"] = status;
  auto kind = registry_.Find("apps", "v1", "deployments");
  copy = apimachinery::TrackUpdate(*obj, copy, "kube-controller-manager", "apps/v1",
                                   apimachinery::BuiltinListSemantics("apps", "Deployment"), clock_.Now(), "status");
  copy["metadata"].erase("resourceVersion");
  auto stored = store_.Put(kKey, std::move(copy));
  if (stored != obj && kind) AfterWrite(*kind, obj, stored, false);
}

void ApiServer::DeploymentProgress(const std::string& ns, const std::string& name, int64_t generation) {
  auto obj = store_.Get(kKey, ns, name);
  if (!obj) return;
  std::string rs = ReplicaSetName(*obj);
  WriteDeploymentStatus(ns, name, generation, [&](const json& spec, json& status) {
    std::string now = core::FormatTime(clock_.Now());
    int64_t want = Int(spec, "replicas", 1);
    int64_t available = Int(status, "availableReplicas", 0);
    status["replicas"] = std::max<int64_t>(Int(status, "replicas", 0), 0);
    status["updatedReplicas"] = 0;
    if (want - available > 0)
      status["unavailableReplicas"] = want - available;
    else
      status.erase("unavailableReplicas");
    if (available >= want && want > 0)
      SetCondition(status, "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.", now);
    else
      SetCondition(status, "Available", "False", "MinimumReplicasUnavailable",
                   "Deployment does not have minimum availability.", now);
    SetCondition(status, "Progressing", "True", "ReplicaSetUpdated", "ReplicaSet \"" + rs + "\" is progressing.", now);
  });
}

void ApiServer::DeploymentReady(const std::string& ns, const std::string& name, int64_t generation) {
  auto obj = store_.Get(kKey, ns, name);
  if (!obj || Annotation(*obj, kExceedDeadline) == "true") return;
  bool fail = Annotation(*obj, kFailReadiness) == "true";
  std::string rs = ReplicaSetName(*obj);
  WriteDeploymentStatus(ns, name, generation, [&](const json& spec, json& status) {
    std::string now = core::FormatTime(clock_.Now());
    int64_t want = Int(spec, "replicas", 1);
    status["replicas"] = want;
    status["updatedReplicas"] = want;
    if (fail) {
      status["readyReplicas"] = 0;
      status["availableReplicas"] = 0;
      if (want > 0)
        status["unavailableReplicas"] = want;
      else
        status.erase("unavailableReplicas");
      SetCondition(status, "Available", "False", "MinimumReplicasUnavailable",
                   "Deployment does not have minimum availability.", now);
      SetCondition(status, "Progressing", "True", "ReplicaSetUpdated", "ReplicaSet \"" + rs + "\" is progressing.",
                   now);
      return;
    }
    status["readyReplicas"] = want;
    status["availableReplicas"] = want;
    status.erase("unavailableReplicas");
    SetCondition(status, "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.", now);
    SetCondition(status, "Progressing", "True", "NewReplicaSetAvailable",
                 "ReplicaSet \"" + rs + "\" has successfully progressed.", now);
  });
}

void ApiServer::DeploymentDeadline(const std::string& ns, const std::string& name, int64_t generation) {
  auto obj = store_.Get(kKey, ns, name);
  if (!obj) return;
  std::string rs = ReplicaSetName(*obj);
  WriteDeploymentStatus(ns, name, generation, [&](const json&, json& status) {
    if (status.contains("conditions"))
      for (const auto& c : status["conditions"])
        if (c.value("type", "") == "Progressing" && c.value("reason", "") == "NewReplicaSetAvailable") return;
    SetCondition(status, "Progressing", "False", "ProgressDeadlineExceeded",
                 "ReplicaSet \"" + rs + "\" has timed out progressing.", core::FormatTime(clock_.Now()));
  });
}

}  // namespace sluice::sandbox
