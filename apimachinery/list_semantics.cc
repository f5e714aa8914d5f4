// The list facts below come from the +listType / +listMapKey / +patchMergeKey (and
// +structType / +mapType for atomic objects) tags of the
// Kubernetes Go types (k8s.io/api core/v1, apps/v1, autoscaling/v2, networking/v1,
// coordination/v1; apiextensions v1; metav1.ObjectMeta). Lists not named here are atomic,
// which is also what the API server assumes for a list without tags.
#include "apimachinery/list_semantics.h"

#include <map>
#include <memory>

namespace sluice::apimachinery {
namespace {

using Type = ListSemantics::Type;
using Table = std::map<std::string, ListSemantics>;

ListSemantics Map(std::vector<std::string> keys) { return {Type::kMap, std::move(keys)}; }
ListSemantics Set() { return {Type::kSet, {}}; }
ListSemantics AtomicObject() {
  ListSemantics s;
  s.atomic_object = true;
  return s;
}

void AddMetadata(Table& t, const std::string& prefix) {
  t[prefix + "metadata.finalizers"] = Set();
  t[prefix + "metadata.ownerReferences"] = Map({"uid"});
  // metadata.managedFields is atomic.
}

void AddContainer(Table& t, const std::string& c) {
  t[c + ".ports"] = Map({"containerPort", "protocol"});
  t[c + ".env"] = Map({"name"});
  t[c + ".volumeMounts"] = Map({"mountPath"});
  t[c + ".volumeDevices"] = Map({"devicePath"});
  t[c + ".resources.claims"] = Map({"name"});
  for (const char* ref : {"configMapKeyRef", "secretKeyRef", "fieldRef", "resourceFieldRef", "fileKeyRef"})
    t[c + ".env.valueFrom." + ref] = AtomicObject();
  // command, args, envFrom, resizePolicy, restartPolicyRules, capabilities: atomic.
}

void AddPodTemplate(Table& t, const std::string& template_prefix) {
  AddMetadata(t, template_prefix);
  const std::string spec = template_prefix + "spec.";
  for (const char* c : {"containers", "initContainers", "ephemeralContainers"}) {
    t[spec + c] = Map({"name"});
    AddContainer(t, spec + c);
  }
  t[spec + "volumes"] = Map({"name"});
  t[spec + "imagePullSecrets"] = Map({"name"});
  t[spec + "hostAliases"] = Map({"ip"});
  t[spec + "topologySpreadConstraints"] = Map({"topologyKey", "whenUnsatisfiable"});
  t[spec + "schedulingGates"] = Map({"name"});
  t[spec + "resourceClaims"] = Map({"name"});
  t[spec + "nodeSelector"] = AtomicObject();
  t[spec + "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"] = AtomicObject();
  t[spec + "topologySpreadConstraints.labelSelector"] = AtomicObject();
  // tolerations, readinessGates, affinity terms, dnsConfig lists, sysctls: atomic.
}

void AddConditions(Table& t) { t["status.conditions"] = Map({"type"}); }

Table BuildTable(const std::string& group, const std::string& kind) {
  Table t;
  AddMetadata(t, "");
  if (group.empty()) {
    if (kind == "Namespace") {
      AddConditions(t);  // spec.finalizers is atomic
    } else if (kind == "Service") {
      t["spec.ports"] = Map({"port", "protocol"});
      t["spec.selector"] = AtomicObject();
      AddConditions(t);  // clusterIPs, externalIPs, ipFamilies, loadBalancer ingress: atomic
    } else if (kind == "ServiceAccount") {
      t["secrets"] = Map({"name"});  // imagePullSecrets is atomic on a ServiceAccount
    } else if (kind == "Pod") {
      AddPodTemplate(t, "");
      AddConditions(t);
      t["status.podIPs"] = Map({"ip"});
    }
    // ConfigMap, Secret, Event: no lists beyond metadata.
  } else if (group == "apps") {
    if (kind == "Deployment" || kind == "DaemonSet" || kind == "StatefulSet" || kind == "ReplicaSet") {
      AddPodTemplate(t, "spec.template.");
      AddConditions(t);
      t["spec.selector"] = AtomicObject();  // metav1.LabelSelector
    }
  } else if (group == "autoscaling") {
    if (kind == "HorizontalPodAutoscaler") AddConditions(t);  // metrics, behavior policies: atomic
  } else if (group == "apiextensions.k8s.io") {
    if (kind == "CustomResourceDefinition") AddConditions(t);  // versions, names lists: atomic
  } else if (group == "networking.k8s.io" && kind == "Ingress") {
    // rules and tls are atomic lists; the default backend's port and resource are atomic.
    t["spec.defaultBackend.service.port"] = AtomicObject();
    t["spec.defaultBackend.resource"] = AtomicObject();
  }
  // coordination.k8s.io Lease has no mergeable lists beyond metadata.
  return t;
}

}  // namespace

ListSemanticsFn BuiltinListSemantics(const std::string& group, const std::string& kind) {
  auto table = std::make_shared<const Table>(BuildTable(group, kind));
  return [table](const std::vector<std::string>& field_path) {
    std::string key;
    for (const auto& part : field_path) key += (key.empty() ? "" : ".") + part;
    auto it = table->find(key);
    return it == table->end() ? ListSemantics{} : it->second;
  };
}

}  // namespace sluice::apimachinery
