// The objects the controller owns beside the target Deployment, built as plain JSON from the
// target (pure, so they are unit-tested without a cluster): the -primary Deployment with its
// selector and config references rewritten, -primary copies of ConfigMaps and Secrets, the
// -primary and -canary Services, and the -primary HPA. Also the revision identity: a hash of
// the pod template and of the data of every config it references.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

#include "routing/router.h"

namespace sluice::canary {

using json = nlohmann::json;

struct ConfigRef {
  std::string kind;  // ConfigMap | Secret
  std::string name;
  bool operator<(const ConfigRef& o) const { return kind != o.kind ? kind < o.kind : name < o.name; }
  bool operator==(const ConfigRef&) const = default;
  std::string Key() const;  // "configmap/app-config"
};

// Annotation on a ConfigMap or Secret that opts it out of copying and tracking.
inline constexpr const char* kSkipTrackingAnnotation = "sluice.dev/skip-tracking";
// Pod-template annotation on the primary that changes at each promotion, forcing a rollout.
inline constexpr const char* kPromotedRevisionAnnotation = "sluice.dev/promoted-revision";

// Who owns what: the Canary's identity for owner references and names (shared with routing).
using WorkloadContext = routing::RouteContext;

// The label the target's pods are selected by: app.kubernetes.io/name, app or name (in that
// order), taken from spec.selector.matchLabels. Throws std::invalid_argument naming the field.
std::string SelectorLabel(const json& target_deployment);

// ConfigMaps and Secrets the pod template references through volumes, projected volumes,
// env valueFrom and envFrom (optional references included), sorted and unique.
std::vector<ConfigRef> ReferencedConfigs(const json& pod_template);

// Stable hash of a ConfigMap's or Secret's data and binaryData.
std::string DataHash(const json& config);
// The revision: pod template (without the fields Kubernetes or we add) + config data hashes.
std::string RevisionHash(const json& pod_template, const std::map<std::string, std::string>& config_hashes);

// The -primary Deployment from the target: pod template copied, selector/labels rewritten to
// <target>-primary, config references rewritten to -primary copies (for `copied` ones),
// replicas copied unless an autoscaler owns them, and the promoted revision annotated.
json PrimaryDeployment(const WorkloadContext& ctx, const json& target, const std::vector<ConfigRef>& copied,
                       const std::string& revision, bool autoscaled);
// A -primary copy of a ConfigMap or Secret.
json PrimaryConfigCopy(const WorkloadContext& ctx, const json& config);
// <service>-primary and <service>-canary ClusterIP Services.
json BackendService(const WorkloadContext& ctx, const std::string& suffix, const std::string& selects);
// A -primary copy of the target's HPA, pointed at the -primary Deployment.
json PrimaryAutoscaler(const WorkloadContext& ctx, const json& hpa);

}  // namespace sluice::canary
