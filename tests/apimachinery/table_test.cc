#include <catch2/catch.hpp>

#include <random>

#include "crd_fixtures.h"
#include "apimachinery/table.h"

namespace sluice::apimachinery {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const core::TimePoint kNow = *core::ParseTime("2026-11-26T12:00:00Z");

json CanaryColumnsJson() {
  return json::parse(R"([
    {"name": "Status", "type": "string", "jsonPath": ".status.phase"},
    {"name": "Weight", "type": "integer", "jsonPath": ".status.canaryWeight"},
    {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
    {"name": "FailedChecks", "type": "integer", "jsonPath": ".status.failedChecks", "priority": 1,
     "description": "Failed metric checks"},
    {"name": "LastTransitionTime", "type": "date", "jsonPath": ".status.lastTransitionTime"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
  ])");
}

json Canary(const std::string& name, const json& status) {
  return {{"apiVersion", "sluice.dev/v1beta1"},
          {"kind", "Canary"},
          {"metadata",
           {{"name", name},
            {"namespace", "test"},
            {"uid", "u-" + name},
            {"resourceVersion", "42"},
            {"labels", {{"app", name}}},
            {"annotations", {{"note", "x"}}},
            {"creationTimestamp", "2026-11-26T11:55:00Z"}}},
          {"spec", {{"provider", "gatewayapi"}}},
          {"status", status}};
}

TEST_CASE("table: CRD printer columns with priority, dates and missing values", "[table]") {
  auto columns = ColumnsFromCrd(CanaryColumnsJson());
  REQUIRE(columns.size() == 6);
  CHECK(columns[3].priority == 1);
  CHECK(columns[3].description == "Failed metric checks");
  CHECK(columns[0].description == "Custom resource definition column (in JSONPath format): .status.phase");

  std::vector<json> objects = {
      Canary("podinfo", json::parse(R"({"phase":"Progressing","canaryWeight":20,"failedChecks":1,
          "lastTransitionTime":"2026-11-26T11:59:15Z",
          "conditions":[{"type":"Promoted","status":"False"},{"type":"Ready","status":"True"}]})")),
      Canary("empty", json::object())};
  json table = MakeTable(objects, columns, "", kNow, "1234", "next-page");

  CHECK(table["kind"] == "Table");
  CHECK(table["apiVersion"] == "meta.k8s.io/v1");
  CHECK(table["metadata"]["resourceVersion"] == "1234");
  CHECK(table["metadata"]["continue"] == "next-page");
  const json& defs = table["columnDefinitions"];
  REQUIRE(defs.size() == 7);
  CHECK(defs[0] == json({{"name", "Name"}, {"type", "string"}, {"format", "name"}, {"description", defs[0]["description"]},
                         {"priority", 0}}));
  CHECK(defs[4]["name"] == "FailedChecks");
  CHECK(defs[4]["priority"] == 1);
  CHECK(defs[5]["type"] == "date");

  const json& row = table["rows"][0];
  CHECK(row["cells"] == json::array({"podinfo", "Progressing", 20, "True", 1, "45s", "5m"}));
  CHECK(row["object"]["kind"] == "PartialObjectMetadata");
  CHECK(row["object"]["apiVersion"] == "meta.k8s.io/v1");
  CHECK(row["object"]["metadata"]["namespace"] == "test");
  CHECK(row["object"]["metadata"]["labels"]["app"] == "podinfo");
  CHECK(row["object"]["metadata"]["uid"] == "u-podinfo");
  CHECK_FALSE(row["object"].contains("spec"));

  // The API server leaves a cell null when the path finds nothing; kubectl prints <none>.
  CHECK(table["rows"][1]["cells"] == json::array({"empty", nullptr, nullptr, nullptr, nullptr, nullptr, "5m"}));
}

TEST_CASE("table: includeObject and the default Age column", "[table]") {
  std::vector<json> objects = {Canary("a", json::object())};
  json whole = MakeTable(objects, {}, "Object", kNow, "7");
  CHECK(whole["rows"][0]["object"]["spec"]["provider"] == "gatewayapi");
  CHECK_FALSE(whole["metadata"].contains("continue"));
  REQUIRE(whole["columnDefinitions"].size() == 2);
  CHECK(whole["columnDefinitions"][1]["name"] == "Age");
  CHECK(whole["rows"][0]["cells"] == json::array({"a", "5m"}));

  json none = MakeTable(objects, {}, "None", kNow, "7");
  CHECK_FALSE(none["rows"][0].contains("object"));
  CHECK_THROWS_WITH(MakeTable(objects, {}, "Everything", kNow, "7"), Catch::Contains("includeObject"));
}

TEST_CASE("table: cells follow the column type", "[table]") {
  auto columns = ColumnsFromCrd(json::parse(R"([
    {"name": "Hosts", "type": "string", "jsonPath": ".spec.hosts"},
    {"name": "Ratio", "type": "number", "jsonPath": ".spec.ratio"},
    {"name": "Count", "type": "integer", "jsonPath": ".spec.count"},
    {"name": "On", "type": "boolean", "jsonPath": ".spec.on"},
    {"name": "Mistyped", "type": "integer", "jsonPath": ".spec.text"},
    {"name": "When", "type": "date", "jsonPath": ".spec.text"}
  ])"));
  json obj = {{"metadata", {{"name", "x"}}},
              {"spec", {{"hosts", {"a.example.com", "b.example.com"}}, {"ratio", 2}, {"count", 3.9}, {"on", true},
                        {"text", "soon"}}}};
  json table = MakeTable({obj}, columns, "None", kNow, "1");
  CHECK(table["rows"][0]["cells"] ==
        json::array({"x", R"(["a.example.com","b.example.com"])", 2.0, 3, true, nullptr, "<invalid>"}));
}

TEST_CASE("table: malformed printer columns are refused", "[table]") {
  CHECK_THROWS_WITH(ColumnsFromCrd(json::parse(R"([{"name":"A","type":"text","jsonPath":".a"}])")),
                    Catch::Contains("additionalPrinterColumns[0].type: Unsupported value: \"text\""));
  CHECK_THROWS_WITH(ColumnsFromCrd(json::parse(R"([{"name":"A","type":"string"}])")), Catch::Contains("jsonPath"));
  CHECK_THROWS_WITH(ColumnsFromCrd(json::parse(R"([{"name":"A","type":"string","jsonPath":".a[?(@.x=="}])")),
                    Catch::Contains("jsonpath"));
}

TEST_CASE("table: the real HTTPRoute columns", "[table][crd]") {
  auto dir = testing::CrdDir();
  if (!dir) {
    WARN(testing::kNoCrdDirMessage);
    return;
  }
  json v1 = testing::CrdVersion(testing::LoadCrd(*dir, "gateway-api-v1.6.1-httproutes.yaml"), "v1");
  auto columns = ColumnsFromCrd(v1["additionalPrinterColumns"]);
  json route = {{"metadata", {{"name", "r"}, {"creationTimestamp", "2026-11-23T12:00:00Z"}}},
                {"spec", {{"hostnames", {"app.example.com"}}}}};
  json table = MakeTable({route}, columns, "", kNow, "9");
  CHECK(table["rows"][0]["cells"] == json::array({"r", R"(["app.example.com"])", "3d"}));
}

json Deployment() {
  return json::parse(R"({
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "podinfo", "namespace": "test", "creationTimestamp": "2026-11-26T09:00:00Z"},
    "spec": {"replicas": 3,
             "selector": {"matchLabels": {"app": "podinfo"},
                          "matchExpressions": [{"key": "track", "operator": "NotIn", "values": ["canary"]}]},
             "template": {"spec": {"containers": [{"name": "app", "image": "ghcr.io/podinfo:6.5.0"},
                                                  {"name": "sidecar", "image": "envoy:1.30"}]}}},
    "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
  })");
}

TEST_CASE("table: built-in Deployment columns, narrow and wide", "[table]") {
  auto columns = BuiltinColumns("apps", "Deployment");
  json table = MakeTable({Deployment()}, columns, "", kNow, "5");
  std::vector<std::string> names;
  std::vector<int> priorities;
  for (const auto& d : table["columnDefinitions"]) {
    names.push_back(d["name"]);
    priorities.push_back(d["priority"]);
  }
  CHECK(names == std::vector<std::string>{"Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images",
                                          "Selector"});
  CHECK(priorities == std::vector<int>{0, 0, 0, 0, 0, 1, 1, 1});
  CHECK(table["rows"][0]["cells"] == json::array({"podinfo", "2/3", 3, 2, "3h", "app,sidecar",
                                                  "ghcr.io/podinfo:6.5.0,envoy:1.30", "app=podinfo,track notin (canary)"}));
}

TEST_CASE("table: other built-in kinds", "[table]") {
  auto cells = [](const std::string& group, const std::string& kind, const json& obj) {
    return MakeTable({obj}, BuiltinColumns(group, kind), "None", kNow, "1")["rows"][0]["cells"];
  };
  json meta = {{"name", "x"}, {"creationTimestamp", "2026-11-26T11:59:00Z"}};
  CHECK(cells("", "Namespace", {{"metadata", meta}, {"status", {{"phase", "Active"}}}}) ==
        json::array({"x", "Active", "60s"}));
  CHECK(cells("", "ConfigMap", {{"metadata", meta}, {"data", {{"a", "1"}, {"b", "2"}}}}) == json::array({"x", 2, "60s"}));
  CHECK(cells("", "Secret", {{"metadata", meta}, {"type", "Opaque"}, {"data", {{"a", "MQ=="}}}}) ==
        json::array({"x", "Opaque", 1, "60s"}));
  CHECK(cells("", "Service",
              json::parse(R"({"metadata":{"name":"x","creationTimestamp":"2026-11-26T11:59:00Z"},
                 "spec":{"type":"NodePort","clusterIP":"10.0.0.5","selector":{"app":"x"},
                         "ports":[{"port":80,"nodePort":30080,"protocol":"TCP"},{"port":53,"protocol":"UDP"}]}})")) ==
        json::array({"x", "NodePort", "10.0.0.5", "<none>", "80:30080/TCP,53/UDP", "60s", "app=x"}));
  CHECK(cells("", "Service", json::parse(R"({"metadata":{"name":"lb"},"spec":{"type":"LoadBalancer"}})"))[3] ==
        "<pending>");
  CHECK(cells("autoscaling", "HorizontalPodAutoscaler", json::parse(R"({"metadata":{"name":"h"},
        "spec":{"scaleTargetRef":{"kind":"Deployment","name":"podinfo"},"maxReplicas":5,
                "metrics":[{"type":"Resource","resource":{"name":"cpu","target":{"type":"Utilization","averageUtilization":80}}}]},
        "status":{"currentReplicas":2,"currentMetrics":[{"type":"Resource","resource":{"name":"cpu","current":{"averageUtilization":35}}}]}})")) ==
        json::array({"h", "Deployment/podinfo", "cpu: 35%/80%", "<unset>", 5, 2, "<unknown>"}));
  CHECK(cells("autoscaling", "HorizontalPodAutoscaler", json::parse(R"({"metadata":{"name":"h"},
        "spec":{"scaleTargetRef":{"kind":"Deployment","name":"p"},"minReplicas":2,"maxReplicas":5,"metrics":[
          {"type":"Pods","pods":{"metric":{"name":"rps"},"target":{"type":"AverageValue","averageValue":"100"}}},
          {"type":"External","external":{"metric":{"name":"q"},"target":{"type":"AverageValue","averageValue":"30"}}},
          {"type":"Resource","resource":{"name":"memory","target":{"type":"AverageValue","averageValue":"1Gi"}}}]},
        "status":{"currentMetrics":[{"type":"Pods","pods":{"current":{"averageValue":"42"}}}]}})"))[2] ==
        "42/100, <unknown>/30 (avg) + 1 more...");
  CHECK(cells("networking.k8s.io", "Ingress", json::parse(R"({"metadata":{"name":"i"},
        "spec":{"ingressClassName":"nginx","rules":[{"host":"a.example.com"},{"host":"b.example.com"}],"tls":[{}]},
        "status":{"loadBalancer":{"ingress":[{"ip":"1.2.3.4"}]}}})")) ==
        json::array({"i", "nginx", "a.example.com,b.example.com", "1.2.3.4", "80, 443", "<unknown>"}));
  CHECK(cells("coordination.k8s.io", "Lease", {{"metadata", meta}, {"spec", {{"holderIdentity", "pod-1"}}}}) ==
        json::array({"x", "pod-1", "60s"}));
  CHECK(cells("apiextensions.k8s.io", "CustomResourceDefinition", {{"metadata", meta}}) ==
        json::array({"x", "2026-11-26T11:59:00Z"}));
  CHECK(cells("apps", "DaemonSet", json::parse(R"({"metadata":{"name":"d"},
        "spec":{"template":{"spec":{"nodeSelector":{"os":"linux"},"containers":[{"name":"c","image":"i"}]}}},
        "status":{"desiredNumberScheduled":3,"currentNumberScheduled":3,"numberReady":2,"updatedNumberScheduled":3,"numberAvailable":2}})")) ==
        json::array({"d", 3, 3, 2, 3, 2, "os=linux", "<unknown>", "c", "i", ""}));
  CHECK(cells("example.com", "Widget", {{"metadata", meta}}) == json::array({"x", "60s"}));
  CHECK(cells("apps", "Deployment", {{"metadata", meta}})[1] == "0/0");
}

TEST_CASE("table: events lead with Last Seen and keep Name for -o wide", "[table]") {
  json event = json::parse(R"({"metadata":{"name":"podinfo.1"},"type":"Warning","reason":"Rollback",
      "involvedObject":{"kind":"Canary","name":"podinfo","fieldPath":"spec"},"source":{"component":"sluice"},
      "reportingInstance":"sluice-7d9f","reportingComponent":"ignored-when-source-is-set",
      "message":"  Canary failed checks  ","count":3,
      "firstTimestamp":"2026-11-26T11:50:00Z","lastTimestamp":"2026-11-26T11:59:30Z"})");
  json table = MakeTable({event}, BuiltinColumns("", "Event"), "None", kNow, "1");
  CHECK(table["columnDefinitions"][0]["name"] == "Last Seen");
  CHECK(table["columnDefinitions"].back()["format"] == "name");
  CHECK(table["rows"][0]["cells"] == json::array({"30s (x3 over 10m)", "Warning", "Rollback", "canary/podinfo", "spec",
                                                  "sluice, sluice-7d9f", "Canary failed checks", "10m", 3,
                                                  "podinfo.1"}));
}

TEST_CASE("jsonpath: fields, indices, wildcards and filters", "[table][jsonpath]") {
  json obj = json::parse(R"({
    "metadata": {"name": "n", "labels": {"app.kubernetes.io/name": "web"}},
    "spec": {"containers": [{"name": "a", "image": "ia", "ports": [{"containerPort": 80}]},
                            {"name": "b", "image": "ib", "ports": [{"containerPort": 81}]}]},
    "status": {"replicas": 3, "conditions": [
      {"type": "Available", "status": "True", "priority": 2},
      {"type": "Ready", "status": "False", "priority": 5}]}
  })");
  CHECK(*EvalJsonPath(obj, ".status.replicas") == 3);
  CHECK(*EvalJsonPath(obj, "{.status.replicas}") == 3);
  CHECK(*EvalJsonPath(obj, "$.metadata.name") == "n");
  CHECK(*EvalJsonPath(obj, ".spec.containers[1].image") == "ib");
  CHECK(*EvalJsonPath(obj, ".spec.containers[-1].name") == "b");
  CHECK(*EvalJsonPath(obj, ".spec.containers[*].image") == "ia");
  CHECK(*EvalJsonPath(obj, ".spec.containers[1:].name") == "b");
  CHECK(*EvalJsonPath(obj, ".status.conditions[?(@.type==\"Ready\")].status") == "False");
  CHECK(*EvalJsonPath(obj, ".status.conditions[?(@.type=='Available')].status") == "True");
  CHECK(*EvalJsonPath(obj, ".status.conditions[?(@.type != \"Available\")].type") == "Ready");
  CHECK(*EvalJsonPath(obj, ".status.conditions[?(@.priority > 3)].type") == "Ready");
  CHECK(*EvalJsonPath(obj, ".status.conditions[?(@.priority)].type") == "Available");
  CHECK(*EvalJsonPath(obj, ".metadata.labels['app.kubernetes.io/name']") == "web");
  CHECK(*EvalJsonPath(obj, R"(.metadata.labels.app\.kubernetes\.io/name)") == "web");
  CHECK(*EvalJsonPath(obj, "..containerPort") == 80);
  CHECK(*EvalJsonPath(obj, ".spec.containers[*].ports[0].containerPort") == 80);
  CHECK(*EvalJsonPath(obj, ".status") == obj["status"]);

  CHECK_FALSE(EvalJsonPath(obj, ".status.missing"));
  CHECK_FALSE(EvalJsonPath(obj, ".spec.containers[5].name"));
  CHECK_FALSE(EvalJsonPath(obj, ".status.conditions[?(@.type==\"Gone\")].status"));
  CHECK_FALSE(EvalJsonPath(obj, ".metadata.name.deeper"));

  CHECK_THROWS_AS(EvalJsonPath(obj, ".spec.containers[1"), std::invalid_argument);
  CHECK_THROWS_AS(EvalJsonPath(obj, ".a[?(x==1)]"), std::invalid_argument);
  CHECK_THROWS_AS(EvalJsonPath(obj, "{.a"), std::invalid_argument);
}

TEST_CASE("jsonpath: a slice step near LONG_MAX ends the slice (found with fuzz_jsonpath)", "[table][jsonpath][fuzz]") {
  // i += step overflowed a long (UB) once the first index was past 0.
  json obj = json::parse(R"({"spec": {"analysis": {"stepWeights": [5, 10, 20, 50]}}})");
  CHECK(*EvalJsonPath(obj, ".spec.analysis.stepWeights[1::9223372036854775807]") == 10);
  CHECK(*EvalJsonPath(obj, ".spec.analysis.stepWeights[3:99999999999999999999:99999999999999999999]") == 50);
  CHECK(*EvalJsonPath(obj, ".spec.analysis.stepWeights[0:4:2]") == 5);
  CHECK_FALSE(EvalJsonPath(obj, ".spec.analysis.stepWeights[-9223372036854775808:-9223372036854775808]"));
}

TEST_CASE("jsonpath: repeated recursive descent does not multiply the nodes it found (found with fuzz_jsonpath)",
          "[table][jsonpath][fuzz]") {
  // Each "..a" started again from every "a" found so far, so 8 of them on 100 nested "a"
  // made billions of copies: a 626-byte object and path ran for minutes.
  json deep = 1;
  for (int i = 0; i < 100; ++i) deep = json{{"a", deep}};
  CHECK(*EvalJsonPath(deep, "..a..a..a..a..a..a..a..a") == deep["a"]["a"]["a"]["a"]["a"]["a"]["a"]["a"]);
  CHECK_FALSE(EvalJsonPath(deep, "..a..a..a..a..a..a..a..b"));
  // The first result is the one the duplicates would have given.
  json obj = json::parse(R"({"x": {"a": {"a": 1, "b": {"a": 2}}}, "a": 3})");
  CHECK(*EvalJsonPath(obj, "..a..a") == 1);
}

TEST_CASE("jsonpath: random paths evaluate or are refused with invalid_argument", "[table][jsonpath]") {
  const std::string alphabet = ".[]*?()@=!<>'\"0-1:$abc{} \\";
  json obj = json::parse(R"({"a":[{"b":1,"c":"x"},{"b":2}],"b":{"c":[1,2,3]}})");
  std::mt19937 rng(5);
  for (int round = 0; round < 5000; ++round) {
    std::string path;
    for (size_t n = rng() % 14; n > 0; --n) path += alphabet[rng() % alphabet.size()];
    INFO(path);
    try {
      EvalJsonPath(obj, path);
    } catch (const std::invalid_argument&) {
    }
  }
  SUCCEED("no other exception escaped");
}

}  // namespace
}  // namespace sluice::apimachinery
