#include "apimachinery/patch.h"

#include "core/api_error.h"

#include <catch2/catch.hpp>

namespace sluice::apimachinery {
namespace {

using nlohmann::json;

json Deployment() {
  return json::parse(R"({
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "podinfo", "namespace": "test", "finalizers": ["a", "b", "c"]},
    "spec": {
      "replicas": 2,
      "paused": false,
      "selector": {"matchLabels": {"app": "podinfo"}},
      "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
      "template": {
        "metadata": {"labels": {"app": "podinfo"}},
        "spec": {
          "containers": [
            {"name": "web", "image": "web:1",
             "ports": [{"containerPort": 8080, "protocol": "TCP", "name": "http"}],
             "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
            {"name": "proxy", "image": "proxy:1"}
          ],
          "tolerations": [{"key": "k1", "operator": "Exists"}]
        }
      }
    }
  })");
}

ListSemanticsFn Lists() { return BuiltinListSemantics("apps", "Deployment"); }

json Smp(const json& patch) { return ApplyStrategicMergePatch(Deployment(), patch, Lists()); }

const json& Containers(const json& d) { return d["spec"]["template"]["spec"]["containers"]; }

std::vector<std::string> Names(const json& list, const std::string& key = "name") {
  std::vector<std::string> out;
  for (const auto& item : list) out.push_back(item[key].get<std::string>());
  return out;
}

const json& Item(const json& list, const std::string& name) {
  for (const auto& item : list) {
    if (item.value("name", "") == name) return item;
  }
  FAIL("no item named " << name << " in " << list.dump());
  static json none;
  return none;
}

core::ApiError Raised(const std::function<void()>& f) {
  try {
    f();
  } catch (const core::ApiError& e) {
    return e;
  }
  FAIL("expected an ApiError");
  return core::ApiError(0, "", "");
}

// ---- JSON patch ------------------------------------------------------------------------

TEST_CASE("json patch: add, remove, replace on objects and arrays", "[patch][json]") {
  json doc = {{"a", {{"b", 1}}}, {"list", {1, 2, 3}}};
  json out = ApplyJsonPatch(doc, json::parse(R"([
    {"op": "add", "path": "/a/c", "value": 2},
    {"op": "add", "path": "/list/1", "value": 9},
    {"op": "add", "path": "/list/-", "value": 4},
    {"op": "remove", "path": "/list/0"},
    {"op": "replace", "path": "/a/b", "value": "x"}
  ])"));
  CHECK(out == json::parse(R"({"a": {"b": "x", "c": 2}, "list": [9, 2, 3, 4]})"));
  CHECK(doc["a"]["b"] == 1);  // the original is untouched
}

TEST_CASE("json patch: move, copy and a passing test", "[patch][json]") {
  json doc = {{"from", {{"x", 1}}}, {"to", json::object()}};
  json out = ApplyJsonPatch(doc, json::parse(R"([
    {"op": "test", "path": "/from/x", "value": 1},
    {"op": "copy", "from": "/from/x", "path": "/to/copied"},
    {"op": "move", "from": "/from", "path": "/to/moved"}
  ])"));
  CHECK(out == json::parse(R"({"to": {"copied": 1, "moved": {"x": 1}}})"));
}

TEST_CASE("json patch: escaped pointer tokens reach keys with slashes and tildes", "[patch][json]") {
  json doc = {{"metadata", {{"annotations", json::object()}}}};
  json out = ApplyJsonPatch(doc, json::parse(R"([
    {"op": "add", "path": "/metadata/annotations/sluice.dev~1abort", "value": "true"},
    {"op": "add", "path": "/metadata/annotations/a~0b", "value": "t"}
  ])"));
  CHECK(out["metadata"]["annotations"]["sluice.dev/abort"] == "true");
  CHECK(out["metadata"]["annotations"]["a~b"] == "t");
}

TEST_CASE("json patch: a failing test is 422 naming the operation and path", "[patch][json]") {
  auto e = Raised([] {
    ApplyJsonPatch(Deployment(), json::parse(R"([
      {"op": "replace", "path": "/spec/replicas", "value": 5},
      {"op": "test", "path": "/spec/paused", "value": true}
    ])"));
  });
  CHECK(e.code() == 422);
  CHECK(e.reason() == "Invalid");
  CHECK_THAT(e.message(), Catch::Contains("the server rejected our request due to an error in our request"));
  CHECK_THAT(e.message(), Catch::Contains("operation 1 (test /spec/paused)"));
  CHECK_THAT(e.message(), Catch::Contains("testing value /spec/paused failed"));
  CHECK(e.causes().empty());
}

TEST_CASE("json patch: a missing path is 422 naming the missing part", "[patch][json]") {
  auto e = Raised([] {
    ApplyJsonPatch(Deployment(), json::parse(R"([{"op": "replace", "path": "/spec/nope/x", "value": 1}])"));
  });
  CHECK(e.code() == 422);
  CHECK_THAT(e.message(), Catch::Contains("operation 0 (replace /spec/nope/x)"));
  CHECK_THAT(e.message(), Catch::Contains("/spec/nope is missing"));

  auto removed = Raised([] { ApplyJsonPatch(json::parse(R"({"l": [1]})"), json::parse(R"([{"op": "remove", "path": "/l/3"}])")); });
  CHECK(removed.code() == 422);
  auto past_end = Raised([] { ApplyJsonPatch(json::parse(R"({"l": [1]})"), json::parse(R"([{"op": "add", "path": "/l/5", "value": 0}])")); });
  CHECK_THAT(past_end.message(), Catch::Contains("out of range"));
}

TEST_CASE("json patch: malformed operations are 400", "[patch][json]") {
  CHECK(Raised([] { ApplyJsonPatch(json::object(), json::object()); }).code() == 400);
  auto unknown = Raised([] { ApplyJsonPatch(json::object(), json::parse(R"([{"op": "frob", "path": "/a"}])")); });
  CHECK(unknown.code() == 400);
  CHECK(unknown.reason() == "BadRequest");
  CHECK_THAT(unknown.message(), Catch::Contains("unknown op \"frob\""));
  auto no_value = Raised([] { ApplyJsonPatch(json::object(), json::parse(R"([{"op": "add", "path": "/a"}])")); });
  CHECK_THAT(no_value.message(), Catch::Contains("operation 0") && Catch::Contains("\"value\""));
  auto bad_pointer = Raised([] { ApplyJsonPatch(json::object(), json::parse(R"([{"op": "remove", "path": "a"}])")); });
  CHECK(bad_pointer.code() == 400);
  auto into_child = Raised([] {
    ApplyJsonPatch(json::parse(R"({"a": {"b": 1}})"), json::parse(R"([{"op": "move", "from": "/a", "path": "/a/b/c"}])"));
  });
  CHECK(into_child.code() == 422);
}

// ---- merge patch -----------------------------------------------------------------------

TEST_CASE("merge patch: nested merge, null deletes, lists replace", "[patch][merge]") {
  json out = ApplyMergePatch(Deployment(), json::parse(R"({
    "metadata": {"labels": {"x": "y"}, "finalizers": ["z"]},
    "spec": {"replicas": 4, "paused": null, "strategy": {"rollingUpdate": null}}
  })"));
  CHECK(out["metadata"]["labels"]["x"] == "y");
  CHECK(out["metadata"]["name"] == "podinfo");
  CHECK(out["metadata"]["finalizers"] == json::array({"z"}));
  CHECK(out["spec"]["replicas"] == 4);
  CHECK_FALSE(out["spec"].contains("paused"));
  CHECK(out["spec"]["strategy"] == json::parse(R"({"type": "RollingUpdate"})"));
  CHECK(Containers(out).size() == 2);
}

TEST_CASE("merge patch: a non-object patch is 400", "[patch][merge]") {
  CHECK(Raised([] { ApplyMergePatch(Deployment(), json::array()); }).code() == 400);
}

// ---- strategic merge patch -------------------------------------------------------------

TEST_CASE("strategic merge: a container added by name keeps the others", "[patch][smp]") {
  json out = Smp(json::parse(R"({"spec": {"template": {"spec": {"containers": [{"name": "log", "image": "log:1"}]}}}})"));
  auto names = Names(Containers(out));
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"log", "proxy", "web"});
  CHECK(Item(Containers(out), "web") == Item(Containers(Deployment()), "web"));
  CHECK(Item(Containers(out), "log")["image"] == "log:1");
}

TEST_CASE("strategic merge: a container field changes in place and keeps its lists", "[patch][smp]") {
  json out = Smp(json::parse(R"({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "web:2"}]}}}})"));
  const json& web = Item(Containers(out), "web");
  CHECK(web["image"] == "web:2");
  CHECK(web["env"].size() == 2);
  CHECK(web["ports"].size() == 1);
  CHECK(Names(Containers(out)) == std::vector<std::string>{"web", "proxy"});
}

TEST_CASE("strategic merge: $patch delete removes a container", "[patch][smp]") {
  json out = Smp(json::parse(R"({"spec": {"template": {"spec": {"containers": [{"name": "proxy", "$patch": "delete"}]}}}})"));
  CHECK(Names(Containers(out)) == std::vector<std::string>{"web"});
}

TEST_CASE("strategic merge: $setElementOrder reorders the merged list", "[patch][smp]") {
  json out = Smp(json::parse(R"({"spec": {"template": {"spec": {
    "$setElementOrder/containers": [{"name": "proxy"}, {"name": "web"}],
    "containers": [{"name": "web", "image": "web:2"}]}}}})"));
  CHECK(Names(Containers(out)) == std::vector<std::string>{"proxy", "web"});
  CHECK(Item(Containers(out), "web")["image"] == "web:2");

  json added = Smp(json::parse(R"({"spec": {"template": {"spec": {
    "$setElementOrder/containers": [{"name": "web"}, {"name": "log"}, {"name": "proxy"}],
    "containers": [{"name": "log", "image": "log:1"}]}}}})"));
  CHECK(Names(Containers(added)) == std::vector<std::string>{"web", "log", "proxy"});
}

TEST_CASE("strategic merge: env merges by name", "[patch][smp]") {
  json out = Smp(json::parse(R"({"spec": {"template": {"spec": {"containers": [
    {"name": "web", "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}]}]}}}})"));
  const json& env = Item(Containers(out), "web")["env"];
  CHECK(env.size() == 3);
  CHECK(Item(env, "A")["value"] == "1");
  CHECK(Item(env, "B")["value"] == "20");
  CHECK(Item(env, "C")["value"] == "3");
}

TEST_CASE("strategic merge: container ports merge by containerPort and protocol", "[patch][smp]") {
  json out = Smp(json::parse(R"({"spec": {"template": {"spec": {"containers": [
    {"name": "web", "ports": [{"containerPort": 8080, "protocol": "UDP", "name": "quic"}]}]}}}})"));
  const json& ports = Item(Containers(out), "web")["ports"];
  REQUIRE(ports.size() == 2);
  CHECK(Names(ports) == std::vector<std::string>{"quic", "http"});

  json renamed = ApplyStrategicMergePatch(out, json::parse(R"({"spec": {"template": {"spec": {"containers": [
    {"name": "web", "ports": [{"containerPort": 8080, "protocol": "TCP", "name": "web"}]}]}}}})"), Lists());
  const json& after = Item(Containers(renamed), "web")["ports"];
  REQUIRE(after.size() == 2);
  for (const auto& p : after) CHECK(p["name"] == (p["protocol"] == "TCP" ? "web" : "quic"));
}

TEST_CASE("strategic merge: $deleteFromPrimitiveList and additions on finalizers", "[patch][smp]") {
  json out = Smp(json::parse(R"({"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"], "finalizers": ["d", "a"]}})"));
  auto finalizers = out["metadata"]["finalizers"].get<std::vector<std::string>>();
  std::sort(finalizers.begin(), finalizers.end());
  CHECK(finalizers == std::vector<std::string>{"a", "c", "d"});

  json emptied = Smp(json::parse(R"({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a", "b", "c"]}})"));
  CHECK_FALSE(emptied["metadata"].contains("finalizers"));
}

TEST_CASE("strategic merge: $retainKeys drops the keys it does not list", "[patch][smp]") {
  json out = Smp(json::parse(R"({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}})"));
  CHECK(out["spec"]["strategy"] == json::parse(R"({"type": "Recreate"})"));
  auto e = Raised([] { Smp(json::parse(R"({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}})")); });
  CHECK(e.code() == 400);
  CHECK_THAT(e.message(), Catch::Contains("retainKeys"));
}

TEST_CASE("strategic merge: null deletes, $patch replace on a map, atomic lists replace", "[patch][smp]") {
  json out = Smp(json::parse(R"({"spec": {
    "paused": null,
    "selector": {"$patch": "replace", "matchLabels": {"x": "y"}},
    "template": {"spec": {"tolerations": [{"key": "k2", "operator": "Exists"}]}}}})"));
  CHECK_FALSE(out["spec"].contains("paused"));
  CHECK(out["spec"]["selector"] == json::parse(R"({"matchLabels": {"x": "y"}})"));
  CHECK(out["spec"]["template"]["spec"]["tolerations"] == json::parse(R"([{"key": "k2", "operator": "Exists"}])"));

  json replaced = Smp(json::parse(R"({"spec": {"template": {"spec": {"containers": [
    {"$patch": "replace"}, {"name": "only", "image": "only:1"}]}}}})"));
  CHECK(Names(Containers(replaced)) == std::vector<std::string>{"only"});

  json deleted = Smp(json::parse(R"({"spec": {"strategy": {"$patch": "delete"}}})"));
  CHECK_FALSE(deleted["spec"].contains("strategy"));
}

TEST_CASE("merge patches move nested objects down instead of copying each level (found with fuzz_patch)",
          "[patch][fuzz]") {
  // Each level copied everything below it again: 5000 nested objects ran the fuzzer out of
  // memory, and 2000 took seconds and nearly 1 GB. The result must not change.
  json deep = 1, patch = 2;
  for (int i = 0; i < 500; ++i) {
    deep = json{{"a", deep}, {"keep", i}};
    patch = json{{"a", patch}, {"keep", nullptr}};
  }
  json merged = ApplyMergePatch(deep, patch);
  json smp = ApplyStrategicMergePatch(deep, patch, BuiltinListSemantics("apps", "Deployment"));
  CHECK(merged == smp);
  const json* at = &merged;
  for (int i = 0; i < 500; ++i) {
    REQUIRE(at->size() == 1);
    at = &(*at)["a"];
  }
  CHECK(*at == 2);
  // The directive key is read in place now: "$patch": "replace" and a list named "$patch" as before.
  json replaced = ApplyStrategicMergePatch(json{{"m", {{"x", 1}, {"y", 2}}}},
                                           json{{"m", {{"$patch", "replace"}, {"y", 3}}}}, {});
  CHECK(replaced == json{{"m", {{"y", 3}}}});
  json ordered = ApplyStrategicMergePatch(json{{"$patch", json::array({1, 2})}},
                                          json{{"$patch", "merge"}, {"$setElementOrder/$patch", json::array({2, 1})}}, {});
  CHECK(ordered == json{{"$patch", json::array({2, 1})}});
}

TEST_CASE("strategic merge: malformed patches are 400 naming the problem", "[patch][smp]") {
  auto no_key = Raised([] { Smp(json::parse(R"({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}})")); });
  CHECK(no_key.code() == 400);
  CHECK_THAT(no_key.message(), Catch::Contains("spec.template.spec.containers") && Catch::Contains("merge key: name"));
  auto merge_list = Raised([] { Smp(json::parse(R"({"spec": {"template": {"spec": {"containers": [{"$patch": "merge"}]}}}})")); });
  CHECK_THAT(merge_list.message(), Catch::Contains("merging lists cannot yet be specified"));
  auto unknown = Raised([] { Smp(json::parse(R"({"spec": {"$patch": "frob"}})")); });
  CHECK_THAT(unknown.message(), Catch::Contains("unknown patch type: frob"));
  auto order = Raised([] {
    Smp(json::parse(R"({"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "web"}],
        "containers": [{"name": "log", "image": "l"}]}}}})"));
  });
  CHECK_THAT(order.message(), Catch::Contains("$setElementOrder"));
  CHECK(Raised([] { Smp(json::array()); }).code() == 400);
}

}  // namespace
}  // namespace sluice::apimachinery

namespace sluice::apimachinery {
namespace {

using nlohmann::json;
using Type = ListSemantics::Type;

void CheckList(const ListSemanticsFn& fn, const std::vector<std::string>& path, Type type,
               const std::vector<std::string>& keys = {}) {
  ListSemantics got = fn(path);
  INFO("path " << json(path).dump());
  CHECK(got.type == type);
  CHECK(got.keys == keys);
}

TEST_CASE("list semantics: facts of the built-in kinds", "[patch][lists]") {
  auto deploy = BuiltinListSemantics("apps", "Deployment");
  const std::vector<std::string> pod = {"spec", "template", "spec"};
  auto at = [&](std::vector<std::string> rest) {
    std::vector<std::string> p = pod;
    p.insert(p.end(), rest.begin(), rest.end());
    return p;
  };
  CheckList(deploy, {"metadata", "finalizers"}, Type::kSet);
  CheckList(deploy, {"metadata", "ownerReferences"}, Type::kMap, {"uid"});
  CheckList(deploy, {"metadata", "managedFields"}, Type::kAtomic);
  CheckList(deploy, at({"containers"}), Type::kMap, {"name"});
  CheckList(deploy, at({"initContainers", "ports"}), Type::kMap, {"containerPort", "protocol"});
  CheckList(deploy, at({"containers", "env"}), Type::kMap, {"name"});
  CheckList(deploy, at({"containers", "envFrom"}), Type::kAtomic);
  CheckList(deploy, at({"containers", "volumeMounts"}), Type::kMap, {"mountPath"});
  CheckList(deploy, at({"containers", "volumeDevices"}), Type::kMap, {"devicePath"});
  CheckList(deploy, at({"containers", "command"}), Type::kAtomic);
  CheckList(deploy, at({"volumes"}), Type::kMap, {"name"});
  CheckList(deploy, at({"imagePullSecrets"}), Type::kMap, {"name"});
  CheckList(deploy, at({"tolerations"}), Type::kAtomic);
  CheckList(deploy, at({"hostAliases"}), Type::kMap, {"ip"});
  CheckList(deploy, at({"topologySpreadConstraints"}), Type::kMap, {"topologyKey", "whenUnsatisfiable"});
  CheckList(deploy, {"status", "conditions"}, Type::kMap, {"type"});
  CheckList(BuiltinListSemantics("apps", "DaemonSet"), at({"ephemeralContainers"}), Type::kMap, {"name"});

  auto svc = BuiltinListSemantics("", "Service");
  CheckList(svc, {"spec", "ports"}, Type::kMap, {"port", "protocol"});
  CheckList(svc, {"spec", "externalIPs"}, Type::kAtomic);
  CheckList(BuiltinListSemantics("", "ServiceAccount"), {"imagePullSecrets"}, Type::kAtomic);
  CheckList(BuiltinListSemantics("", "ServiceAccount"), {"secrets"}, Type::kMap, {"name"});
  CheckList(BuiltinListSemantics("", "Namespace"), {"spec", "finalizers"}, Type::kAtomic);
  CheckList(BuiltinListSemantics("autoscaling", "HorizontalPodAutoscaler"), {"spec", "metrics"}, Type::kAtomic);
  CheckList(BuiltinListSemantics("autoscaling", "HorizontalPodAutoscaler"), {"status", "conditions"}, Type::kMap,
            {"type"});
  CheckList(BuiltinListSemantics("networking.k8s.io", "Ingress"), {"spec", "rules"}, Type::kAtomic);
  CheckList(BuiltinListSemantics("apiextensions.k8s.io", "CustomResourceDefinition"), {"spec", "versions"},
            Type::kAtomic);
  CheckList(BuiltinListSemantics("coordination.k8s.io", "Lease"), {"metadata", "finalizers"}, Type::kSet);
  CheckList(BuiltinListSemantics("", "ConfigMap"), {"spec", "template", "spec", "containers"}, Type::kAtomic);

  CHECK(deploy({"spec", "selector"}).atomic_object);
  CHECK(deploy(at({"nodeSelector"})).atomic_object);
  CHECK(deploy(at({"containers", "env", "valueFrom", "secretKeyRef"})).atomic_object);
  CHECK_FALSE(deploy({"spec", "template"}).atomic_object);
  CHECK_FALSE(deploy(at({"containers"})).atomic_object);
  CHECK(svc({"spec", "selector"}).atomic_object);
  CHECK(BuiltinListSemantics("networking.k8s.io", "Ingress")({"spec", "defaultBackend", "service", "port"}).atomic_object);
}

// What `kubectl apply` (client side) sends for an existing Deployment whose manifest dropped
// the proxy container and env B, changed the web image, switched a volume's source and moved
// the strategy to Recreate.
TEST_CASE("strategic merge: a kubectl client-side apply patch", "[patch][smp]") {
  json live = Deployment();
  live["spec"]["template"]["spec"]["volumes"] = json::parse(R"([{"name": "cfg", "configMap": {"name": "c1"}}])");
  json patch = json::parse(R"({
    "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
    "spec": {
      "strategy": {"$retainKeys": ["type"], "rollingUpdate": null, "type": "Recreate"},
      "template": {"spec": {
        "$setElementOrder/containers": [{"name": "web"}],
        "containers": [
          {"$setElementOrder/env": [{"name": "A"}], "env": [{"$patch": "delete", "name": "B"}],
           "image": "web:2", "name": "web"},
          {"$patch": "delete", "name": "proxy"}],
        "$setElementOrder/volumes": [{"name": "cfg"}],
        "volumes": [{"$retainKeys": ["name", "secret"], "name": "cfg", "secret": {"secretName": "s1"}}]}}}})");
  json out = ApplyStrategicMergePatch(live, patch, Lists());
  CHECK(out["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] == "{}");
  CHECK(out["spec"]["strategy"] == json::parse(R"({"type": "Recreate"})"));
  REQUIRE(Names(Containers(out)) == std::vector<std::string>{"web"});
  const json& web = Containers(out)[0];
  CHECK(web["image"] == "web:2");
  CHECK(web["env"] == json::parse(R"([{"name": "A", "value": "1"}])"));
  CHECK(web["ports"].size() == 1);
  CHECK(out["spec"]["template"]["spec"]["volumes"] == json::parse(R"([{"name": "cfg", "secret": {"secretName": "s1"}}])"));
}

}  // namespace
}  // namespace sluice::apimachinery
