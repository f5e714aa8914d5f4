// The -primary copies and the revision identity.
#include <catch2/catch.hpp>

#include "controller/canary/workloads.h"

using namespace sluice::canary;

namespace {

json Target() {
  return json::parse(R"({
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "podinfo", "namespace": "test"},
    "spec": {
      "replicas": 3,
      "selector": {"matchLabels": {"app": "podinfo"}},
      "template": {
        "metadata": {"labels": {"app": "podinfo"}},
        "spec": {
          "containers": [{"name": "app", "image": "podinfo:1",
            "env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "app-env", "key": "a"}}},
                    {"name": "T", "valueFrom": {"secretKeyRef": {"name": "token", "key": "t"}}}],
            "envFrom": [{"configMapRef": {"name": "shared"}}]}],
          "volumes": [{"name": "cfg", "configMap": {"name": "app-config"}},
                      {"name": "p", "projected": {"sources": [{"secret": {"name": "certs"}}]}}],
          "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
                                         "labelSelector": {"matchLabels": {"app": "podinfo"}}}]
        }}}})");
}

WorkloadContext Ctx() {
  WorkloadContext ctx;
  ctx.canary = json::parse(R"({"spec": {"service": {"port": 9898}}})");
  ctx.name = "podinfo";
  ctx.uid = "u-1";
  ctx.ns = "test";
  ctx.target = "podinfo";
  ctx.service = "podinfo";
  ctx.selector_label = "app";
  ctx.port = 9898;
  return ctx;
}

}  // namespace

TEST_CASE("referenced ConfigMaps and Secrets are found everywhere a pod can use them", "[workloads]") {
  auto refs = ReferencedConfigs(Target()["spec"]["template"]);
  std::vector<ConfigRef> expected = {{"ConfigMap", "app-config"}, {"ConfigMap", "app-env"}, {"ConfigMap", "shared"},
                                     {"Secret", "certs"},         {"Secret", "token"}};
  CHECK(refs == expected);
  CHECK(refs[0].Key() == "configmap/app-config");
}

TEST_CASE("the primary Deployment is the target's template with names rewritten", "[workloads]") {
  json target = Target();
  auto refs = ReferencedConfigs(target["spec"]["template"]);
  json primary = PrimaryDeployment(Ctx(), target, refs, "rev1", /*autoscaled=*/false);
  CHECK(primary["metadata"]["name"] == "podinfo-primary");
  CHECK(primary["metadata"]["ownerReferences"][0]["kind"] == "Canary");
  CHECK(primary["spec"]["selector"]["matchLabels"]["app"] == "podinfo-primary");
  CHECK(primary["spec"]["replicas"] == 3);
  const json& pod = primary["spec"]["template"];
  CHECK(pod["metadata"]["labels"]["app"] == "podinfo-primary");
  CHECK(pod["metadata"]["annotations"][kPromotedRevisionAnnotation] == "rev1");
  CHECK(pod["spec"]["containers"][0]["image"] == "podinfo:1");
  CHECK(pod["spec"]["containers"][0]["env"][0]["valueFrom"]["configMapKeyRef"]["name"] == "app-env-primary");
  CHECK(pod["spec"]["containers"][0]["env"][1]["valueFrom"]["secretKeyRef"]["name"] == "token-primary");
  CHECK(pod["spec"]["containers"][0]["envFrom"][0]["configMapRef"]["name"] == "shared-primary");
  CHECK(pod["spec"]["volumes"][0]["configMap"]["name"] == "app-config-primary");
  CHECK(pod["spec"]["volumes"][1]["projected"]["sources"][0]["secret"]["name"] == "certs-primary");
  CHECK(pod["spec"]["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"]["app"] == "podinfo-primary");
  // Configs not copied (opted out) keep their names; an autoscaler owns replicas.
  json partial = PrimaryDeployment(Ctx(), target, {{"ConfigMap", "app-config"}}, "rev1", /*autoscaled=*/true);
  CHECK(partial["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["configMapRef"]["name"] == "shared");
  CHECK_FALSE(partial["spec"].contains("replicas"));
}

TEST_CASE("the revision changes with the template and with config data, not with our annotation", "[workloads]") {
  json tmpl = Target()["spec"]["template"];
  std::map<std::string, std::string> configs = {{"configmap/app-config", DataHash(json{{"data", {{"k", "v1"}}}})}};
  std::string r1 = RevisionHash(tmpl, configs);
  CHECK(r1.size() == 16);
  CHECK(RevisionHash(tmpl, configs) == r1);
  json tmpl2 = tmpl;
  tmpl2["spec"]["containers"][0]["image"] = "podinfo:2";
  CHECK(RevisionHash(tmpl2, configs) != r1);
  auto configs2 = configs;
  configs2["configmap/app-config"] = DataHash(json{{"data", {{"k", "v2"}}}});
  CHECK(RevisionHash(tmpl, configs2) != r1);
  json annotated = tmpl;
  annotated["metadata"]["annotations"][kPromotedRevisionAnnotation] = "whatever";
  CHECK(RevisionHash(annotated, configs) == r1);
}

TEST_CASE("selector label, services, config copies and the HPA copy", "[workloads]") {
  CHECK(SelectorLabel(Target()) == "app");
  json odd = Target();
  odd["spec"]["selector"]["matchLabels"] = {{"tier", "web"}};
  CHECK_THROWS_WITH(SelectorLabel(odd), Catch::Contains("spec.selector.matchLabels") && Catch::Contains("podinfo"));

  json canary_svc = BackendService(Ctx(), "-canary", "podinfo");
  CHECK(canary_svc["metadata"]["name"] == "podinfo-canary");
  CHECK(canary_svc["spec"]["selector"]["app"] == "podinfo");
  CHECK(canary_svc["spec"]["ports"][0]["port"] == 9898);

  json cm = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "app-config"}}}, {"data", {{"k", "v"}}}};
  json copy = PrimaryConfigCopy(Ctx(), cm);
  CHECK(copy["metadata"]["name"] == "app-config-primary");
  CHECK(copy["data"]["k"] == "v");

  json hpa = json::parse(R"({"metadata": {"name": "podinfo"}, "spec": {"minReplicas": 2, "maxReplicas": 5,
    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"}}})");
  json hcopy = PrimaryAutoscaler(Ctx(), hpa);
  CHECK(hcopy["metadata"]["name"] == "podinfo-primary");
  CHECK(hcopy["spec"]["scaleTargetRef"]["name"] == "podinfo-primary");
  CHECK(hcopy["spec"]["maxReplicas"] == 5);
}
