#include "controller/canary/workloads.h"

#include <openssl/evp.h>

#include <cstdio>
#include <set>
#include <stdexcept>

#include "routing/service.h"

namespace sluice::canary {
namespace {

using routing::OwnedMetadata;

std::string Sha256Hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  std::string hex;
  char buf[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", digest[i]);
    hex += buf;
  }
  return hex;
}

void Collect(const json& pod_spec, std::set<ConfigRef>& out) {
  auto add = [&](const char* kind, const json& holder, const char* key) {
    if (holder.is_object() && holder.contains(key) && holder[key].is_string()) out.insert({kind, holder[key]});
  };
  for (const auto& v : pod_spec.value("volumes", json::array())) {
    add("ConfigMap", v.value("configMap", json::object()), "name");
    add("Secret", v.value("secret", json::object()), "secretName");
    for (const auto& src : v.value("projected", json::object()).value("sources", json::array())) {
      add("ConfigMap", src.value("configMap", json::object()), "name");
      add("Secret", src.value("secret", json::object()), "name");
    }
  }
  for (const char* list : {"initContainers", "containers"})
    for (const auto& c : pod_spec.value(list, json::array())) {
      for (const auto& e : c.value("env", json::array())) {
        const json from = e.value("valueFrom", json::object());
        add("ConfigMap", from.value("configMapKeyRef", json::object()), "name");
        add("Secret", from.value("secretKeyRef", json::object()), "name");
      }
      for (const auto& e : c.value("envFrom", json::array())) {
        add("ConfigMap", e.value("configMapRef", json::object()), "name");
        add("Secret", e.value("secretRef", json::object()), "name");
      }
    }
}

// Points references to copied configs at their -primary names.
void RewriteConfigRefs(json& pod_spec, const std::set<ConfigRef>& copied) {
  auto rewrite = [&](const char* kind, json& holder, const char* key) {
    if (!holder.is_object() || !holder.contains(key) || !holder[key].is_string()) return;
    std::string name = holder[key];
    if (copied.count({kind, name})) holder[key] = name + "-primary";
  };
  auto child = [](json& obj, const char* key) -> json& {
    static json none;
    none = nullptr;
    return obj.is_object() && obj.contains(key) ? obj[key] : none;
  };
  if (pod_spec.contains("volumes"))
    for (auto& v : pod_spec["volumes"]) {
      rewrite("ConfigMap", child(v, "configMap"), "name");
      rewrite("Secret", child(v, "secret"), "secretName");
      json& projected = child(v, "projected");
      if (projected.is_object() && projected.contains("sources"))
        for (auto& src : projected["sources"]) {
          rewrite("ConfigMap", child(src, "configMap"), "name");
          rewrite("Secret", child(src, "secret"), "name");
        }
    }
  for (const char* list : {"initContainers", "containers"}) {
    if (!pod_spec.contains(list)) continue;
    for (auto& c : pod_spec[list]) {
      if (c.contains("env"))
        for (auto& e : c["env"]) {
          json& from = child(e, "valueFrom");
          rewrite("ConfigMap", child(from, "configMapKeyRef"), "name");
          rewrite("Secret", child(from, "secretKeyRef"), "name");
        }
      if (c.contains("envFrom"))
        for (auto& e : c["envFrom"]) {
          rewrite("ConfigMap", child(e, "configMapRef"), "name");
          rewrite("Secret", child(e, "secretRef"), "name");
        }
    }
  }
}

// Selectors inside the pod spec that pick the app's own pods must follow the rename.
void RewriteSelectors(json& pod_spec, const std::string& label, const std::string& from, const std::string& to) {
  auto fix = [&](json& selector) {
    if (selector.is_object() && selector.contains("matchLabels") && selector["matchLabels"].value(label, "") == from)
      selector["matchLabels"][label] = to;
  };
  if (pod_spec.contains("topologySpreadConstraints"))
    for (auto& t : pod_spec["topologySpreadConstraints"])
      if (t.contains("labelSelector")) fix(t["labelSelector"]);
  if (!pod_spec.contains("affinity")) return;
  for (const char* kind : {"podAffinity", "podAntiAffinity"}) {
    if (!pod_spec["affinity"].contains(kind)) continue;
    json& a = pod_spec["affinity"][kind];
    for (const char* when : {"requiredDuringSchedulingIgnoredDuringExecution"})
      if (a.contains(when))
        for (auto& term : a[when])
          if (term.contains("labelSelector")) fix(term["labelSelector"]);
    if (a.contains("preferredDuringSchedulingIgnoredDuringExecution"))
      for (auto& w : a["preferredDuringSchedulingIgnoredDuringExecution"])
        if (w.contains("podAffinityTerm") && w["podAffinityTerm"].contains("labelSelector"))
          fix(w["podAffinityTerm"]["labelSelector"]);
  }
}

}  // namespace

std::string ConfigRef::Key() const {
  std::string k;
  for (char c : kind) k += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return k + "/" + name;
}

std::string SelectorLabel(const json& target) {
  const json labels = target.value("spec", json::object()).value("selector", json::object()).value("matchLabels", json::object());
  for (const char* key : {"app.kubernetes.io/name", "app", "name"})
    if (labels.contains(key) && labels[key].is_string()) return key;
  throw std::invalid_argument("spec.selector.matchLabels of Deployment " +
                              target.value("metadata", json::object()).value("name", std::string("?")) +
                              " must contain app.kubernetes.io/name, app or name: the label the Services select on");
}

std::vector<ConfigRef> ReferencedConfigs(const json& pod_template) {
  std::set<ConfigRef> refs;
  Collect(pod_template.value("spec", json::object()), refs);
  return {refs.begin(), refs.end()};
}

std::string DataHash(const json& config) {
  json payload = {{"data", config.value("data", json::object())},
                  {"binaryData", config.value("binaryData", json::object())}};
  return Sha256Hex(payload.dump()).substr(0, 16);
}

std::string RevisionHash(const json& pod_template, const std::map<std::string, std::string>& config_hashes) {
  json t = pod_template;
  // Annotations kubectl rollout restart or we ourselves add are not part of the app's revision.
  if (t.contains("metadata") && t["metadata"].contains("annotations")) {
    t["metadata"]["annotations"].erase(kPromotedRevisionAnnotation);
    if (t["metadata"]["annotations"].empty()) t["metadata"].erase("annotations");
  }
  json payload = {{"template", t}, {"configs", config_hashes}};
  return Sha256Hex(payload.dump()).substr(0, 16);
}

json PrimaryDeployment(const WorkloadContext& ctx, const json& target, const std::vector<ConfigRef>& copied,
                       const std::string& revision, bool autoscaled) {
  const std::string primary = ctx.target + "-primary";
  json tmpl = target["spec"]["template"];
  tmpl["metadata"]["labels"][ctx.selector_label] = primary;
  tmpl["metadata"]["annotations"][kPromotedRevisionAnnotation] = revision;
  RewriteConfigRefs(tmpl["spec"], {copied.begin(), copied.end()});
  RewriteSelectors(tmpl["spec"], ctx.selector_label, ctx.target, primary);
  json spec = {{"selector", {{"matchLabels", {{ctx.selector_label, primary}}}}}, {"template", tmpl}};
  for (const char* k : {"strategy", "minReadySeconds", "revisionHistoryLimit", "progressDeadlineSeconds"})
    if (target["spec"].contains(k)) spec[k] = target["spec"][k];
  if (!autoscaled) spec["replicas"] = target["spec"].value("replicas", 1) > 0 ? target["spec"].value("replicas", 1) : 1;
  json deploy = {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"metadata", OwnedMetadata(ctx, primary)}, {"spec", spec}};
  deploy["metadata"]["labels"][ctx.selector_label] = primary;
  return deploy;
}

json PrimaryConfigCopy(const WorkloadContext& ctx, const json& config) {
  json copy = {{"apiVersion", "v1"},
               {"kind", config.value("kind", "ConfigMap")},
               {"metadata", OwnedMetadata(ctx, config["metadata"].value("name", "") + "-primary")}};
  for (const char* k : {"data", "binaryData", "type", "immutable"})
    if (config.contains(k)) copy[k] = config[k];
  return copy;
}

json BackendService(const WorkloadContext& ctx, const std::string& suffix, const std::string& selects) {
  return routing::OwnedService(ctx, ctx.service + suffix, selects);
}

json PrimaryAutoscaler(const WorkloadContext& ctx, const json& hpa) {
  json spec = hpa.value("spec", json::object());
  spec["scaleTargetRef"] = {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"name", ctx.target + "-primary"}};
  return {{"apiVersion", "autoscaling/v2"},
          {"kind", "HorizontalPodAutoscaler"},
          {"metadata", OwnedMetadata(ctx, hpa["metadata"].value("name", "") + "-primary")},
          {"spec", spec}};
}

}  // namespace sluice::canary
