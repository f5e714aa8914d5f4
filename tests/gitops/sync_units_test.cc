// The pure parts of the sync: inventory ids and diffs, health, what differs, spec parsing.
#include <catch2/catch.hpp>

#include "controller/gitops/applier.h"
#include "controller/gitops/health.h"
#include "controller/gitops/inventory.h"
#include "controller/gitops/kustomization_controller.h"

using namespace sluice::gitops;
using json = nlohmann::json;

TEST_CASE("inventory: ids as Flux writes them, round trip, stale entries in delete order") {
  json deploy = {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"metadata", {{"name", "web"}, {"namespace", "prod"}}}};
  json ns = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "prod"}}}};
  json crd = {{"apiVersion", "apiextensions.k8s.io/v1"}, {"kind", "CustomResourceDefinition"}, {"metadata", {{"name", "w.x.io"}}}};
  json role = {{"apiVersion", "rbac.authorization.k8s.io/v1"}, {"kind", "ClusterRole"}, {"metadata", {{"name", "r"}}}};
  CHECK(RefOf(deploy).Id() == "prod_web_apps_Deployment");
  CHECK(RefOf(ns).Id() == "_prod__Namespace");
  CHECK(RefOf(deploy).Describe() == "Deployment prod/web");
  Inventory before = MakeInventory({RefOf(deploy), RefOf(ns), RefOf(crd), RefOf(role)});
  json j = InventoryToJson(before);
  CHECK(j["entries"][0]["id"] == "_prod__Namespace");
  CHECK(j["entries"][0]["v"] == "v1");
  CHECK(InventoryFromJson(j) == before);
  auto stale = Stale(before, MakeInventory({RefOf(deploy)}));
  REQUIRE(stale.size() == 3);
  CHECK(stale[0].kind == "ClusterRole");  // cluster-scoped objects before Namespaces and CRDs
  CHECK(IsClusterFoundation(stale[1]));
  CHECK(IsClusterFoundation(stale[2]));
  // A new version of the same object is not a removal.
  json deploy_v2 = deploy;
  deploy_v2["apiVersion"] = "apps/v2";
  CHECK(Stale(MakeInventory({RefOf(deploy)}), MakeInventory({RefOf(deploy_v2)})).empty());
  // Garbage in status never turns into deletions.
  CHECK(InventoryFromJson(json{{"entries", {{{"id", "not-an-id"}}, {{"id", 3}}}}}).empty());
  CHECK_FALSE(ParseEntry("a_b_c", "v1"));
}

TEST_CASE("health: Deployments by rollout status, Canaries, kstatus conditions") {
  json d = {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"metadata", {{"name", "w"}, {"generation", 2}}},
            {"spec", {{"replicas", 2}}},
            {"status", {{"observedGeneration", 1}, {"replicas", 2}, {"updatedReplicas", 2}, {"availableReplicas", 2}}}};
  CHECK(AssessHealth(d).state == Health::State::kInProgress);
  d["status"]["observedGeneration"] = 2;
  d["status"]["updatedReplicas"] = 1;
  CHECK(AssessHealth(d).message == "1 of 2 replicas updated");
  d["status"]["updatedReplicas"] = 2;
  CHECK(AssessHealth(d).Ready());
  d["status"]["conditions"] = {{{"type", "Progressing"}, {"status", "False"}, {"reason", "ProgressDeadlineExceeded"}}};
  CHECK(AssessHealth(d).state == Health::State::kFailed);

  json c = {{"apiVersion", "sluice.dev/v1beta1"}, {"kind", "Canary"}, {"metadata", {{"name", "c"}}}, {"status", {{"phase", "Progressing"}}}};
  CHECK_FALSE(AssessHealth(c).Ready());
  c["status"]["phase"] = "Succeeded";
  CHECK(AssessHealth(c).Ready());
  c["status"]["phase"] = "Failed";
  CHECK(AssessHealth(c).state == Health::State::kFailed);

  json x = {{"apiVersion", "x.io/v1"}, {"kind", "Widget"}, {"metadata", {{"name", "w"}, {"generation", 3}}}};
  CHECK(AssessHealth(x).Ready());  // no conditions: ready once it exists
  x["status"] = {{"observedGeneration", 3}, {"conditions", {{{"type", "Ready"}, {"status", "False"}, {"message", "db down"}}}}};
  CHECK(AssessHealth(x).message == "Ready=False: db down");
  x["status"]["conditions"][0]["status"] = "True";
  CHECK(AssessHealth(x).Ready());
  x["status"]["observedGeneration"] = 2;
  CHECK_FALSE(AssessHealth(x).Ready());
}

TEST_CASE("NeedsApply: values that differ, fields removed from Git, and nothing else") {
  json desired = {{"apiVersion", "apps/v1"}, {"kind", "Deployment"},
                  {"metadata", {{"name", "w"}, {"namespace", "d"}, {"labels", {{"a", "1"}}}}},
                  {"spec", {{"replicas", 2}, {"template", {{"spec", {{"containers", {{{"name", "c"}, {"image", "i:1"}}}}}}}}}}};
  json live = desired;
  live["metadata"]["uid"] = "u";
  live["spec"]["strategy"] = {{"type", "RollingUpdate"}};  // a server default
  live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent";
  live["status"] = {{"replicas", 2}};
  live["metadata"]["managedFields"] = json::parse(R"([{"manager":"sluice","operation":"Apply","apiVersion":"apps/v1",
    "fieldsV1":{"f:metadata":{"f:labels":{"f:a":{}}},
                "f:spec":{"f:replicas":{},"f:template":{"f:spec":{"f:containers":{
                  "k:{\"name\":\"c\"}":{".":{},"f:name":{},"f:image":{}}}}}}}}])");
  CHECK_FALSE(NeedsApply(live, desired, "sluice"));
  json changed = desired;
  changed["spec"]["template"]["spec"]["containers"][0]["image"] = "i:2";
  CHECK(NeedsApply(live, changed, "sluice"));
  // replicas left Git: the server would remove it, so the apply must be sent.
  json fewer = desired;
  fewer["spec"].erase("replicas");
  CHECK(NeedsApply(live, fewer, "sluice"));
  // ...unless another manager took replicas over (the canary engine scaled it).
  json scaled = live;
  scaled["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"].erase("f:replicas");
  CHECK_FALSE(NeedsApply(scaled, fewer, "sluice"));
  // Fields another manager applied are not ours to remove.
  CHECK_FALSE(NeedsApply(live, desired, "other"));
  // Drift: someone edited a value we set.
  json drifted = live;
  drifted["metadata"]["labels"]["a"] = "2";
  CHECK(NeedsApply(drifted, desired, "sluice"));
  // Secrets compare their stringData as data.
  json secret = {{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", {{"name", "s"}}}, {"stringData", {{"k", "v"}}}};
  json live_secret = {{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", {{"name", "s"}}}, {"data", {{"k", "dg=="}}}};
  CHECK_FALSE(NeedsApply(live_secret, secret, "sluice"));
}

TEST_CASE("Kustomization spec: defaults and errors naming the field") {
  json ks = json::parse(R"({"metadata":{"name":"apps","namespace":"flux"},
    "spec":{"sourceRef":{"kind":"GitRepository","name":"repo"},"interval":"5m","dependsOn":[{"name":"infra"}],
            "postBuild":{"substitute":{"ENV":"prod"},"substituteFrom":[{"kind":"Secret","name":"vars"}]}}})");
  auto s = ParseKustomizationSpec(ks);
  CHECK(s.source.Key() == "flux/repo");
  CHECK(s.interval == std::chrono::minutes(5));
  CHECK(s.Timeout() == std::chrono::minutes(5));
  CHECK(s.RetryInterval() == std::chrono::minutes(5));
  CHECK(s.depends_on[0].Key() == "flux/infra");
  CHECK(s.post_build);
  CHECK(s.substitute.at("ENV") == "prod");
  CHECK(s.substitute_from[0].kind == "Secret");
  CHECK(s.path == "./");

  json bad = ks;
  bad["spec"]["interval"] = "soon";
  CHECK_THROWS_WITH(ParseKustomizationSpec(bad), Catch::StartsWith("spec.interval: Invalid value: \"soon\""));
  bad = ks;
  bad["spec"]["sourceRef"]["kind"] = "Bucket";
  CHECK_THROWS_WITH(ParseKustomizationSpec(bad), Catch::StartsWith("spec.sourceRef.kind: Unsupported value: \"Bucket\""));
  bad = ks;
  bad["spec"]["postBuild"]["substitute"] = json::parse(R"({"bad-name":"x"})");
  CHECK_THROWS_WITH(ParseKustomizationSpec(bad), Catch::Contains("invalid variable name \"bad-name\""));
  bad = ks;
  bad["spec"]["dependsOn"] = {json::object()};
  CHECK_THROWS_WITH(ParseKustomizationSpec(bad), Catch::StartsWith("spec.dependsOn[0].name: Required value"));
}

TEST_CASE("sync metrics: revision and readiness per Kustomization, forgotten when deleted") {
  sluice::gitops::SyncMetrics m;
  m.Observe("flux", "apps", nlohmann::json::parse(R"({"lastAppliedRevision": "main@sha1:abc",
    "conditions": [{"type": "Ready", "status": "True"}]})"));
  m.Observe("flux", "infra", nlohmann::json::parse(R"({"conditions": [{"type": "Ready", "status": "False"}]})"));
  std::string text = m.Serialize();
  CHECK(text.find("sluice_sync_revision_info{name=\"apps\",namespace=\"flux\",revision=\"main@sha1:abc\"} 1\n") !=
        std::string::npos);
  CHECK(text.find("name=\"infra\",namespace=\"flux\",revision") == std::string::npos);  // nothing applied yet
  CHECK(text.find("sluice_sync_ready{name=\"apps\",namespace=\"flux\"} 1\n") != std::string::npos);
  CHECK(text.find("sluice_sync_ready{name=\"infra\",namespace=\"flux\"} 0\n") != std::string::npos);
  m.Forget("flux/apps");
  CHECK(m.Serialize().find("\"apps\"") == std::string::npos);
}
