// The sync end to end on the API emulator: real Git repositories made by the test, their
// commits published as artifacts the way the GitRepository reconciler publishes them, the
// Kustomization controller (and the canary engine) running in-process.
#include <catch2/catch.hpp>

#include <filesystem>

#include "controller/gitops/manifests.h"
#include "tests/gitops/sync_harness.h"
#include "tests/support/skip.h"

using namespace sluice::testing;
using Catch::Matchers::Contains;
using json = nlohmann::json;

namespace {

std::string Namespace(const std::string& name) {
  return "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + name + "\n";
}

std::string ConfigMap(const std::string& name, const std::string& ns, const std::string& value,
                      const std::string& annotations = "") {
  return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n  namespace: " + ns + "\n" +
         (annotations.empty() ? "" : "  annotations:\n" + annotations) + "data:\n  value: \"" + value + "\"\n";
}

std::string Deployment(const std::string& name, const std::string& ns, const std::string& image, int replicas = 2) {
  return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + name + "\n  namespace: " + ns +
         "\nspec:\n  replicas: " + std::to_string(replicas) + "\n  selector:\n    matchLabels:\n      app: " + name +
         "\n  template:\n    metadata:\n      labels:\n        app: " + name +
         "\n    spec:\n      containers:\n        - name: " + name + "\n          image: " + image +
         "\n          ports:\n            - containerPort: 9898\n";
}

std::string Data(SyncCluster& c, const std::string& ns, const std::string& name) {
  json cm = c.Get("v1", "ConfigMap", ns, name);
  return cm.is_null() ? "<absent>" : cm["data"].value("value", "");
}

}  // namespace

TEST_CASE("sync: a commit is applied, a changed file updated, a removed file pruned", "[gitops][e2e]") {
  SyncCluster c;
  SyncRepo repo;
  std::string rev1 = c.Publish(repo, repo.Commit({{"apps/ns.yaml", Namespace("team")},
                                                  {"apps/config.yaml", ConfigMap("settings", "team", "one")},
                                                  {"apps/web.yaml", Deployment("web", "team", "web:1")},
                                                  {"apps/keep.yaml", ConfigMap("keep", "team", "k",
                                                                               "    sluice.dev/prune: disabled\n")},
                                                  {"other/ignored.yaml", ConfigMap("elsewhere", "team", "x")}}));
  c.ApplyKustomization("apps", "./apps", "  prune: true\n  interval: 2s\n");
  c.WaitApplied("apps", rev1);
  CHECK(Data(c, "team", "settings") == "one");
  CHECK(Data(c, "team", "elsewhere") == "<absent>");
  json web = c.Get("apps/v1", "Deployment", "team", "web");
  REQUIRE(web.is_object());
  CHECK(web["metadata"]["labels"]["sluice.dev/kustomization-name"] == "apps");
  bool owned_by_sluice = false;
  for (const auto& m : web["metadata"]["managedFields"])
    owned_by_sluice = owned_by_sluice || (m["manager"] == "sluice" && m["operation"] == "Apply");
  CHECK(owned_by_sluice);
  json status = c.Kustomization("apps")["status"];
  std::vector<std::string> ids;
  for (const auto& e : status["inventory"]["entries"]) ids.push_back(e["id"]);
  CHECK(ids == std::vector<std::string>{"_team__Namespace", "team_keep__ConfigMap", "team_settings__ConfigMap",
                                        "team_web_apps_Deployment"});
  CHECK(status["lastAttemptedRevision"] == rev1);

  std::string rev2 = c.Publish(repo, repo.Commit({{"apps/config.yaml", ConfigMap("settings", "team", "two")}},
                                                 {"apps/web.yaml", "apps/keep.yaml"}));
  c.WaitApplied("apps", rev2);
  CHECK(Data(c, "team", "settings") == "two");
  CHECK(c.Get("apps/v1", "Deployment", "team", "web").is_null());
  CHECK(Data(c, "team", "keep") == "k");  // opted out of prune
  CHECK(c.Get("v1", "Namespace", "", "team").is_object());
  CHECK(c.Kustomization("apps")["status"]["inventory"]["entries"].size() == 2);
  CHECK_THAT(c.ReadyMessage("apps"), Contains("Applied revision: " + rev2));

  // What users see with the real kubectl: the printer columns, by the short name.
  if (Run({"sh", "-c", "command -v kubectl"}).exit_code != 0) SLUICE_SKIP("kubectl is not installed");
  TempDir kube;
  c.emulator().WriteKubeconfig(kube.File("config"));
  ProcessResult got = Run({"kubectl", "--kubeconfig", kube.File("config"), "get", "ks", "-n", "default"},
                          {{"KUBECACHEDIR", kube.File("cache")}});
  INFO(got.Describe());
  REQUIRE(got.exit_code == 0);
  CHECK_THAT(got.out, Contains("NAME") && Contains("READY") && Contains("STATUS") && Contains("REVISION") &&
                          Contains("AGE") && Contains("True") && Contains("Applied revision: " + rev2));
}

TEST_CASE("sync: drift is corrected at the next interval and a no-op sync sends nothing", "[gitops][e2e]") {
  // Unthrottled, to measure the applier rather than the client's rate limit (at the default
  // 50 requests/s, 500 objects = 1000 requests take 20 s).
  SyncClusterOptions o;
  o.qps = 5000;
  o.burst = 5000;
  SyncCluster c(o);
  SyncRepo repo;
  std::map<std::string, std::string> files;
  const int kObjects = 500;
  for (int i = 0; i < kObjects; ++i) files["cms/cm-" + std::to_string(i) + ".yaml"] = ConfigMap("cm-" + std::to_string(i), "default", "v");
  std::string rev = c.Publish(repo, repo.Commit(files));
  auto start = std::chrono::steady_clock::now();
  c.ApplyKustomization("cms", "./cms", "  interval: 1s\n");
  c.WaitApplied("cms", rev, std::chrono::seconds(60));
  auto first = std::chrono::steady_clock::now() - start;
  auto applied = c.Stats();
  CHECK(applied.writes == kObjects);

  // Let a few intervals pass: each compares all 200 objects with the caches.
  uint64_t before = c.sync_requests().NonWatch();
  auto syncs_before = c.Stats().syncs;
  REQUIRE(WaitFor([&] { return c.Stats().syncs >= syncs_before + 3; }, std::chrono::seconds(10)));
  auto idle = c.Stats();
  CHECK(c.sync_requests().NonWatch() == before);
  CHECK(idle.writes == applied.writes);
  CHECK(idle.dry_runs == applied.dry_runs);
  CHECK(idle.status_writes == applied.status_writes);
  WARN("apply of " << kObjects << " ConfigMaps: "
                   << std::chrono::duration_cast<std::chrono::milliseconds>(first).count() << " ms; "
                   << (idle.syncs - syncs_before) << " no-op syncs sent " << (c.sync_requests().NonWatch() - before)
                   << " API requests; last no-op sync took " << idle.last_sync.count() << " us");

  // kubectl-edit style drift is put back within an interval, by one write.
  c.MergePatch("v1", "ConfigMap", "default", "cm-7", {{"data", {{"value", "edited"}}}});
  REQUIRE(WaitFor([&] { return Data(c, "default", "cm-7") == "v"; }, std::chrono::seconds(10)));
  CHECK(c.Stats().writes == applied.writes + 1);
}

TEST_CASE("sync: a bad commit leaves the last good revision running with a precise message", "[gitops][e2e]") {
  SyncCluster c;
  SyncRepo repo;
  std::string good = c.Publish(repo, repo.Commit({{"apps/config.yaml", ConfigMap("settings", "default", "good")},
                                                  {"apps/old.yaml", ConfigMap("old", "default", "o")}}));
  c.ApplyKustomization("apps", "apps", "  prune: true\n  interval: 1m\n  retryInterval: 1s\n");
  c.WaitApplied("apps", good);

  // YAML that does not parse.
  std::string broken = c.Publish(repo, repo.Commit({{"apps/config.yaml", ConfigMap("settings", "default", "bad")},
                                                    {"apps/broken.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [x\n"}},
                                                   {"apps/old.yaml"}));
  c.WaitFailed("apps", "apps/broken.yaml document 1 (line 1): yaml: line");
  json status = c.Kustomization("apps")["status"];
  CHECK(status["lastAppliedRevision"] == good);
  CHECK(status["lastAttemptedRevision"] == broken);
  CHECK(Data(c, "default", "settings") == "good");
  CHECK(Data(c, "default", "old") == "o");  // nothing pruned

  // An object the API refuses: the dry run stops the revision before anything is written.
  std::string refused = c.Publish(
      repo, repo.Commit({{"apps/broken.yaml",
                          "apiVersion: sluice.dev/v1beta1\nkind: Canary\nmetadata:\n  name: c\n  namespace: default\nspec:\n"
                          "  targetRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n  service: {port: 80}\n"
                          "  analysis: {interval: 1s, stepWeight: 500}\n"}}));
  c.WaitFailed("apps", "spec.analysis.stepWeight");
  std::string message = c.ReadyMessage("apps");
  CHECK_THAT(message, Contains("revision " + refused) && Contains("apps/broken.yaml document 1 (line 1): Canary default/c") &&
                          Contains("server-side dry run"));
  CHECK(Data(c, "default", "settings") == "good");
  CHECK(Data(c, "default", "old") == "o");
  CHECK(c.Kustomization("apps")["status"]["lastAppliedRevision"] == good);

  // A path that is gone.
  std::string moved = c.Publish(repo, repo.Commit({{"elsewhere/config.yaml", ConfigMap("settings", "default", "moved")}},
                                                  {"apps"}));
  c.WaitFailed("apps", "spec.path: apps does not exist in this revision");
  CHECK(Data(c, "default", "old") == "o");

  // Fixing the commit applies it and only then prunes.
  std::string fixed = c.Publish(repo, repo.Commit({{"apps/config.yaml", ConfigMap("settings", "default", "fixed")}}));
  c.WaitApplied("apps", fixed);
  CHECK(Data(c, "default", "settings") == "fixed");
  CHECK(Data(c, "default", "old") == "<absent>");
}

TEST_CASE("sync: dependsOn holds a sync until its dependency is Ready", "[gitops][e2e]") {
  SyncCluster c;
  SyncRepo repo;
  std::string rev = c.Publish(repo, repo.Commit({{"infra/ns.yaml", Namespace("team")},
                                                 {"apps/app.yaml", ConfigMap("app", "team", "a")}}));
  c.ApplyKustomization("apps", "apps", "  interval: 1m\n  dependsOn:\n    - name: infra\n");
  c.WaitFailed("apps", "waiting for dependencies to be Ready: default/infra (not found)");
  CHECK(c.Get("v1", "Namespace", "", "team").is_null());
  c.ApplyKustomization("infra", "infra", "  interval: 1m\n  wait: true\n");
  c.WaitApplied("infra", rev);
  c.WaitApplied("apps", rev);
  CHECK(Data(c, "team", "app") == "a");
  json infra = c.Kustomization("infra"), apps = c.Kustomization("apps");
  auto ready_time = [](const json& k) {
    for (const auto& cond : k["status"]["conditions"])
      if (cond["type"] == "Ready") return cond["lastTransitionTime"].get<std::string>();
    return std::string();
  };
  CHECK(ready_time(infra) <= ready_time(apps));
  bool healthy = false;
  for (const auto& cond : infra["status"]["conditions"]) healthy = healthy || (cond["type"] == "Healthy" && cond["status"] == "True");
  CHECK(healthy);
}

namespace {

bool HasWarning(SyncCluster& c, const std::string& name, const std::string& reason, const std::string& text) {
  for (const auto& e : c.Events(name))
    if (e.value("type", "") == "Warning" && e.value("reason", "") == reason &&
        e.value("message", "").find(text) != std::string::npos)
      return true;
  return false;
}

std::string Condition(const json& k, const std::string& type, const std::string& field) {
  for (const auto& cond : k.value("status", json::object()).value("conditions", json::array()))
    if (cond.value("type", "") == type) return cond.value(field, "");
  return "";
}

}  // namespace

TEST_CASE("sync: a dependsOn cycle is reported as DependencyCycle naming it, and nothing is applied", "[gitops][e2e]") {
  SyncCluster c;
  SyncRepo repo;
  std::string rev = c.Publish(repo, repo.Commit({{"a/a.yaml", ConfigMap("from-a", "default", "a")},
                                                 {"b/b.yaml", ConfigMap("from-b", "default", "b")},
                                                 {"self/s.yaml", ConfigMap("from-self", "default", "s")}}));
  c.ApplyKustomization("a", "a", "  interval: 1m\n  dependsOn:\n    - name: b\n");
  c.ApplyKustomization("b", "b", "  interval: 1m\n  dependsOn:\n    - name: a\n");
  c.ApplyKustomization("self", "self", "  interval: 1m\n  dependsOn:\n    - name: self\n");
  c.WaitFailed("a", "spec.dependsOn forms a cycle: default/a -> default/b -> default/a");
  c.WaitFailed("b", "spec.dependsOn forms a cycle: default/b -> default/a -> default/b");
  c.WaitFailed("self", "spec.dependsOn forms a cycle: default/self -> default/self");
  for (const char* name : {"a", "b", "self"}) {
    json k = c.Kustomization(name);
    INFO(name << ": " << k["status"].dump(2));
    CHECK(Condition(k, "Ready", "reason") == "DependencyCycle");
    CHECK(Condition(k, "Stalled", "status") == "True");
    CHECK(WaitFor([&] { return HasWarning(c, name, "DependencyCycle", "forms a cycle"); }, std::chrono::seconds(5)));
  }
  CHECK(Data(c, "default", "from-a") == "<absent>");
  CHECK(Data(c, "default", "from-b") == "<absent>");
  CHECK(Data(c, "default", "from-self") == "<absent>");

  // Breaking the cycle lets both apply, the dependency first.
  c.ApplyKustomization("b", "b", "  interval: 1m\n  dependsOn: []\n");
  c.WaitApplied("b", rev);
  c.WaitApplied("a", rev);
  CHECK(Data(c, "default", "from-a") == "a");
  CHECK(Condition(c.Kustomization("a"), "Stalled", "status") == "");
}

TEST_CASE("sync: substitution, targetNamespace and the reconcile annotation", "[gitops][e2e]") {
  SyncCluster c;
  SyncRepo repo;
  c.Apply("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cluster-vars\n  namespace: default\ndata:\n"
          "  REGION: eu-west-1\n  TIER: gold\n");
  std::string rev = c.Publish(repo, repo.Commit({{"apps/app.yaml",
                                                  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-${TIER}\n"
                                                  "data:\n  value: \"${REGION}/${ZONE:=a}/${CLUSTER}\"\n"}}));
  c.ApplyKustomization("apps", "apps",
                       "  interval: 1h\n  targetNamespace: default\n  postBuild:\n    substitute:\n      CLUSTER: staging\n"
                       "      TIER: silver\n    substituteFrom:\n      - kind: ConfigMap\n        name: cluster-vars\n");
  c.WaitApplied("apps", rev);
  CHECK(Data(c, "default", "app-silver") == "eu-west-1/a/staging");  // inline values win

  // Drift, then a reconcile request: handled at once, not an hour later.
  c.MergePatch("v1", "ConfigMap", "default", "app-silver", {{"data", {{"value", "edited"}}}});
  c.MergePatch("sluice.dev/v1beta1", "Kustomization", "default", "apps",
               {{"metadata", {{"annotations", {{"sluice.dev/reconcile", "2026-11-26T07:00:00Z"}}}}}});
  REQUIRE(WaitFor([&] { return Data(c, "default", "app-silver") == "eu-west-1/a/staging"; }, std::chrono::seconds(10)));
  REQUIRE(WaitFor([&] { return c.Kustomization("apps")["status"].value("lastHandledReconcileAt", "") == "2026-11-26T07:00:00Z"; },
                  std::chrono::seconds(10)));

  // A variable nobody defines names the file, document and line.
  c.Publish(repo, repo.Commit({{"apps/more.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: more\n"
                                                  "data:\n  value: ${UNDEFINED}\n"}}));
  c.MergePatch("sluice.dev/v1beta1", "Kustomization", "default", "apps",
               {{"metadata", {{"annotations", {{"sluice.dev/reconcile", "2026-11-26T07:01:00Z"}}}}}});
  c.WaitFailed("apps", "apps/more.yaml document 1 (line 6): variable ${UNDEFINED} is not set");
}

TEST_CASE("sync: suspend stops applying, a sync without artifact says so", "[gitops][e2e]") {
  SyncCluster c;
  c.ApplyKustomization("apps", "apps", "  interval: 1s\n", "missing-repo");
  c.WaitFailed("apps", "GitRepository default/missing-repo has no artifact yet");
  SyncRepo repo;
  c.ApplyKustomization("apps", "apps", "  interval: 1s\n  suspend: true\n");
  std::string rev = c.Publish(repo, repo.Commit({{"apps/a.yaml", ConfigMap("a", "default", "1")}}));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  CHECK(Data(c, "default", "a") == "<absent>");
  c.ApplyKustomization("apps", "apps", "  interval: 1s\n  suspend: false\n");
  c.WaitApplied("apps", rev);
  CHECK(Data(c, "default", "a") == "1");
}

namespace {

std::string App(const std::string& version) {
  return Deployment("podinfo", "default", "ghcr.io/example/podinfo:" + version) +
         "---\napiVersion: sluice.dev/v1beta1\nkind: Canary\nmetadata:\n  name: podinfo\n  namespace: default\nspec:\n"
         "  provider: kubernetes\n  targetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: podinfo\n"
         "  service:\n    port: 9898\n  analysis:\n    interval: 1s\n    iterations: 4\n";
}

std::string Phase(SyncCluster& c) {
  json canary = c.Get("sluice.dev/v1beta1", "Canary", "default", "podinfo");
  return canary.is_object() ? canary.value("status", json::object()).value("phase", "") : "";
}

std::string Image(SyncCluster& c, const std::string& deployment) {
  json d = c.Get("apps/v1", "Deployment", "default", deployment);
  return d.is_object() ? d["spec"]["template"]["spec"]["containers"][0].value("image", "") : "";
}

int Replicas(SyncCluster& c, const std::string& deployment) {
  json d = c.Get("apps/v1", "Deployment", "default", deployment);
  return d.is_object() ? d["spec"].value("replicas", 1) : -1;
}

void WaitPhase(SyncCluster& c, const std::string& phase, std::chrono::seconds deadline = std::chrono::seconds(40)) {
  if (WaitFor([&] { return Phase(c) == phase; }, deadline)) return;
  FAIL("canary did not reach " << phase << "; status:\n" << c.Get("sluice.dev/v1beta1", "Canary", "default", "podinfo")["status"].dump(2));
}

}  // namespace

TEST_CASE("sync + canary: a commit changing the target runs a rollout to promotion, generated objects are left alone",
          "[gitops][e2e][canary]") {
  SyncClusterOptions o;
  o.canary_engine = true;
  SyncCluster c(o);
  SyncRepo repo;
  // The repository also holds a Service named like one the engine generates: skipped.
  std::string rev1 = c.Publish(repo, repo.Commit({{"app/podinfo.yaml", App("1.0.0")},
                                                  {"app/svc.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: podinfo-canary\n"
                                                                   "  namespace: default\nspec:\n  selector: {app: wrong}\n"
                                                                   "  ports: [{port: 80}]\n"}}));
  c.ApplyKustomization("app", "app", "  interval: 1s\n  prune: true\n");
  WaitPhase(c, "Initialized");
  c.WaitApplied("app", rev1);
  CHECK(Image(c, "podinfo-primary") == "ghcr.io/example/podinfo:1.0.0");
  // Once the Canary exists, the engine's scale-down of the target stays.
  REQUIRE(WaitFor([&] { return Replicas(c, "podinfo") == 0; }, std::chrono::seconds(10)));
  REQUIRE(WaitFor([&] { return c.ReadyMessage("app").find("Service default/podinfo-canary") != std::string::npos; },
                  std::chrono::seconds(10)));
  CHECK_THAT(c.ReadyMessage("app"), Contains("skipped (generated by the canary engine"));
  json svc = c.Get("v1", "Service", "default", "podinfo-canary");
  CHECK(svc["spec"]["selector"]["app"] == "podinfo");  // the engine's, not Git's
  auto writes = c.Stats().writes;
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  CHECK(Replicas(c, "podinfo") == 0);
  CHECK(c.Stats().writes == writes);  // no fight over replicas

  std::string rev2 = c.Publish(repo, repo.Commit({{"app/podinfo.yaml", App("1.1.0")}}));
  c.WaitApplied("app", rev2);
  WaitPhase(c, "Progressing", std::chrono::seconds(20));
  WaitPhase(c, "Succeeded", std::chrono::seconds(60));
  CHECK(Image(c, "podinfo-primary") == "ghcr.io/example/podinfo:1.1.0");
  REQUIRE(WaitFor([&] { return Replicas(c, "podinfo") == 0; }, std::chrono::seconds(10)));
  // The sync's interval passes without undoing the engine's work.
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  CHECK(Replicas(c, "podinfo") == 0);
  CHECK(Phase(c) == "Succeeded");
}

TEST_CASE("sync + canary: reverting the target in Git during a rollout ends it cleanly", "[gitops][e2e][canary]") {
  SyncClusterOptions o;
  o.canary_engine = true;
  SyncCluster c(o);
  SyncRepo repo;
  std::string rev1 = c.Publish(repo, repo.Commit({{"app/podinfo.yaml", App("1.0.0")}}));
  c.ApplyKustomization("app", "app", "  interval: 1s\n");
  WaitPhase(c, "Initialized");
  c.WaitApplied("app", rev1);
  std::string rev2 = c.Publish(repo, repo.Commit({{"app/podinfo.yaml", App("2.0.0")}}));
  c.WaitApplied("app", rev2);
  WaitPhase(c, "Progressing", std::chrono::seconds(20));
  std::string rev3 = c.Publish(repo, repo.Commit({{"app/podinfo.yaml", App("1.0.0")}}));
  c.WaitApplied("app", rev3);
  WaitPhase(c, "Succeeded", std::chrono::seconds(30));
  json canary = c.Get("sluice.dev/v1beta1", "Canary", "default", "podinfo");
  INFO(canary["status"].dump(2));
  CHECK(Image(c, "podinfo-primary") == "ghcr.io/example/podinfo:1.0.0");
  CHECK(Image(c, "podinfo") == "ghcr.io/example/podinfo:1.0.0");
  CHECK(canary["status"]["lastAppliedSpec"] == canary["status"]["lastPromotedSpec"]);
  std::string ready_reason;
  for (const auto& cond : canary["status"]["conditions"])
    if (cond["type"] == "Ready") ready_reason = cond.value("reason", "");
  CHECK(ready_reason == "Reverted");
  REQUIRE(WaitFor([&] { return Replicas(c, "podinfo") == 0; }, std::chrono::seconds(10)));
}

TEST_CASE("sync: the multi-cluster example applies as documented", "[gitops][e2e][examples]") {
  SyncClusterOptions o;
  o.canary_engine = true;
  SyncCluster c(o);
  SyncRepo repo;
  // The fleet repository holds examples/clusters/ as clusters/.
  std::map<std::string, std::string> files;
  std::string root = std::string(SLUICE_SOURCE_DIR) + "/examples/clusters";
  for (const auto& e : std::filesystem::recursive_directory_iterator(root))
    if (e.is_regular_file()) files["clusters/" + std::filesystem::relative(e.path(), root).string()] = ReadFile(e.path());
  std::string rev = c.Publish(repo, repo.Commit(files), "sluice-system/fleet");
  c.Apply(Namespace("sluice-system"));
  c.Apply(ReadFile(root + "/staging/sync/sync.yaml"));  // the one-time bootstrap
  for (const char* name : {"sync", "infrastructure", "apps"}) {
    bool ok = WaitFor(
        [&] {
          json k = c.Kustomization(name, "sluice-system");
          json status = k.value("status", json::object());
          for (const auto& cond : status.value("conditions", json::array()))
            if (cond["type"] == "Ready" && cond["status"] == "True") return status.value("lastAppliedRevision", "") == rev;
          return false;
        },
        std::chrono::seconds(40));
    INFO(name << ": " << c.Kustomization(name, "sluice-system")["status"].dump(2));
    REQUIRE(ok);
  }
  json web = c.Get("apps/v1", "Deployment", "podinfo", "podinfo");
  REQUIRE(web.is_object());
  CHECK(web["metadata"]["labels"]["sluice.dev/cluster"] == "staging");
  CHECK(web["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] == "running on staging");
  CHECK(c.Get("sluice.dev/v1beta1", "Canary", "podinfo", "podinfo").is_object());
  CHECK(c.Get("v1", "Namespace", "", "podinfo")["metadata"]["labels"]["sluice.dev/cluster"] == "staging");

  // The production folder builds with its own values and nothing of staging's.
  sluice::gitops::BuildOptions prod;
  prod.variables = sluice::gitops::Variables{{"CLUSTER", "production"}, {"REPLICAS", "3"}};
  auto manifests = sluice::gitops::LoadManifests(root, "production/apps", prod);
  REQUIRE(manifests.size() == 2);
  CHECK(manifests[0].object["spec"]["replicas"] == 3);
  CHECK(manifests[0].object["metadata"]["labels"]["sluice.dev/cluster"] == "production");
}

TEST_CASE("sync: deleting a Kustomization with prune deletes what it applied", "[gitops][e2e]") {
  SyncCluster c;
  SyncRepo repo;
  std::string rev = c.Publish(repo, repo.Commit({{"apps/a.yaml", ConfigMap("a", "default", "1")},
                                                 {"apps/b.yaml", ConfigMap("b", "default", "2", "    sluice.dev/prune: disabled\n")}}));
  c.ApplyKustomization("pruned", "apps", "  interval: 1m\n  prune: true\n");
  c.WaitApplied("pruned", rev);
  json k = c.Kustomization("pruned");
  CHECK(k["metadata"]["finalizers"] == json::array({"sluice.dev/finalizer"}));
  c.Delete("sluice.dev/v1beta1", "Kustomization", "default", "pruned");
  REQUIRE(WaitFor([&] { return c.Kustomization("pruned").is_null(); }, std::chrono::seconds(10)));
  CHECK(Data(c, "default", "a") == "<absent>");
  CHECK(Data(c, "default", "b") == "2");  // opted out

  // Without prune, deleting the sync leaves its objects running.
  c.ApplyKustomization("kept", "apps", "  interval: 1m\n");
  c.WaitApplied("kept", rev);
  c.Delete("sluice.dev/v1beta1", "Kustomization", "default", "kept");
  REQUIRE(WaitFor([&] { return c.Kustomization("kept").is_null(); }, std::chrono::seconds(10)));
  CHECK(Data(c, "default", "a") == "1");
}

TEST_CASE("sync: through the real GitRepository reconciler, a pushed commit is applied within the interval",
          "[gitops][e2e][source]") {
  SyncClusterOptions o;
  o.git_sources = true;
  SyncCluster c(o);
  SyncRepo repo;
  std::string first = repo.Commit({{"apps/a.yaml", ConfigMap("a", "default", "1")}});
  c.Apply("apiVersion: sluice.dev/v1beta1\nkind: GitRepository\nmetadata:\n  name: repo\n  namespace: default\nspec:\n"
          "  url: file://" + repo.path() + "\n  ref:\n    branch: main\n  interval: 1s\n");
  c.ApplyKustomization("apps", "apps", "  interval: 1m\n  prune: true\n");
  c.WaitApplied("apps", "main@sha1:" + first, std::chrono::seconds(30));
  CHECK(Data(c, "default", "a") == "1");

  std::string second = repo.Commit({{"apps/b.yaml", ConfigMap("b", "default", "2")}}, {"apps/a.yaml"});
  auto pushed = std::chrono::steady_clock::now();
  c.WaitApplied("apps", "main@sha1:" + second, std::chrono::seconds(30));
  auto latency = std::chrono::steady_clock::now() - pushed;
  CHECK(Data(c, "default", "b") == "2");
  CHECK(Data(c, "default", "a") == "<absent>");
  WARN("commit to applied through a 1s GitRepository interval: "
       << std::chrono::duration_cast<std::chrono::milliseconds>(latency).count() << " ms");
  CHECK(latency < std::chrono::seconds(5));
}
