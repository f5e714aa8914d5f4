#include "apimachinery/managed_fields.h"

#include "core/api_error.h"
#include "apimachinery/fieldset.h"

#include <catch2/catch.hpp>

#include <chrono>

namespace sluice::apimachinery {
namespace {

using nlohmann::json;
using std::chrono::seconds;

const core::TimePoint kT0 = core::TimePoint{} + seconds(1'790'000'000);

ListSemanticsFn Lists() { return BuiltinListSemantics("apps", "Deployment"); }

// The smallest Deployment intent a manager would apply: name plus whatever `spec` holds.
json Intent(const json& spec, const json& metadata_extra = json::object()) {
  json obj = {{"apiVersion", "apps/v1"},
              {"kind", "Deployment"},
              {"metadata", {{"name", "podinfo"}, {"namespace", "test"}}},
              {"spec", spec}};
  for (const auto& [k, v] : metadata_extra.items()) obj["metadata"][k] = v;
  return obj;
}

json Container(const std::string& name, const std::string& image) {
  return {{"name", name}, {"image", image}};
}

json Containers(const json& list) { return {{"template", {{"spec", {{"containers", list}}}}}}; }

ApplyRequest By(const std::string& manager, bool force = false) {
  ApplyRequest r;
  r.manager = manager;
  r.api_version = "apps/v1";
  r.force = force;
  return r;
}

json Apply(const json& live, const json& intent, const ApplyRequest& req, core::TimePoint t = kT0) {
  return ServerSideApply(live, intent, req, Lists(), t);
}

const json* Entry(const json& obj, const std::string& manager, const std::string& operation) {
  for (const auto& e : obj["metadata"]["managedFields"]) {
    if (e["manager"] == manager && e["operation"] == operation) return &e;
  }
  return nullptr;
}

FieldSet Owned(const json& obj, const std::string& manager, const std::string& operation = "Apply") {
  const json* e = Entry(obj, manager, operation);
  if (!e) return {};
  return FieldSet::FromFieldsV1((*e)["fieldsV1"]);
}

const FieldPath kReplicas = {"f:spec", "f:replicas"};

core::ApiError Raised(const std::function<void()>& f) {
  try {
    f();
  } catch (const core::ApiError& e) {
    return e;
  }
  FAIL("expected an ApiError");
  return core::ApiError(0, "", "");
}

TEST_CASE("fieldset: FieldsV1 round trip with item members", "[managed][fieldset]") {
  json v1 = json::parse(R"({"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
    "k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}}}}}},
    "f:metadata": {"f:finalizers": {".": {}, "v:\"x\"": {}}}})");
  FieldSet set = FieldSet::FromFieldsV1(v1);
  CHECK(set.Has(kReplicas));
  CHECK(set.Has({"f:spec", "f:template", "f:spec", "f:containers", "k:{\"name\":\"web\"}"}));
  CHECK_FALSE(set.Has({"f:spec", "f:template"}));
  CHECK(set.ToFieldsV1() == v1);
  CHECK(FieldPathString({"f:spec", "f:template", "f:spec", "f:containers", "k:{\"name\":\"web\"}", "f:image"}) ==
        ".spec.template.spec.containers[name=\"web\"].image");
  CHECK_THROWS_AS(FieldSet::FromFieldsV1(json::parse(R"({"spec": {}})")), std::invalid_argument);
}

TEST_CASE("ssa: create records an Apply entry without server-owned metadata", "[managed][ssa]") {
  json intent = Intent({{"replicas", 2}, {"template", {{"spec", {{"containers", {Container("web", "web:1")}}}}}}},
                       {{"labels", {{"app", "podinfo"}}}});
  json out = Apply(nullptr, intent, By("kubectl"));
  json without = out;
  without["metadata"].erase("managedFields");
  CHECK(without == intent);
  REQUIRE(out["metadata"]["managedFields"].size() == 1);
  const json& e = out["metadata"]["managedFields"][0];
  CHECK(e["manager"] == "kubectl");
  CHECK(e["operation"] == "Apply");
  CHECK(e["apiVersion"] == "apps/v1");
  CHECK(e["time"] == core::FormatTime(kT0));
  CHECK(e["fieldsType"] == "FieldsV1");
  CHECK_FALSE(e.contains("subresource"));
  CHECK(e["fieldsV1"] == json::parse(R"({
    "f:metadata": {"f:labels": {"f:app": {}}},
    "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
      "k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}})"));
}

TEST_CASE("ssa: applying the same intent again changes nothing", "[managed][ssa]") {
  json intent = Intent({{"replicas", 2}});
  json first = Apply(nullptr, intent, By("kubectl"));
  json again = Apply(first, intent, By("kubectl"), kT0 + seconds(60));
  CHECK(again == first);
}

TEST_CASE("ssa: a field the manager stops sending is removed", "[managed][ssa]") {
  json first = Apply(nullptr, Intent({{"replicas", 2}, {"paused", false}}, {{"labels", {{"a", "1"}, {"b", "2"}}}}),
                     By("kubectl"));
  json second = Apply(first, Intent({{"replicas", 2}}, {{"labels", {{"a", "1"}}}}), By("kubectl"));
  CHECK(second["metadata"]["labels"] == json{{"a", "1"}});
  CHECK_FALSE(second["spec"].contains("paused"));
  CHECK_FALSE(Owned(second, "kubectl").Has({"f:spec", "f:paused"}));

  json third = Apply(second, Intent({{"replicas", 2}}), By("kubectl"));
  CHECK_FALSE(third["metadata"].contains("labels"));
  CHECK(third["metadata"]["name"] == "podinfo");
}

TEST_CASE("ssa: set items and list items the manager stops sending are removed", "[managed][ssa]") {
  json first = Apply(nullptr,
                     Intent(Containers(json::array({Container("web", "w"), Container("proxy", "p")})),
                            {{"finalizers", {"a", "b"}}}),
                     By("kubectl"));
  CHECK(Owned(first, "kubectl").Has({"f:metadata", "f:finalizers", "v:\"b\""}));
  json second = Apply(first, Intent(Containers(json::array({Container("web", "w")})), {{"finalizers", {"a"}}}),
                      By("kubectl"));
  CHECK(second["metadata"]["finalizers"] == json::array({"a"}));
  CHECK(second["spec"]["template"]["spec"]["containers"] == json::array({Container("web", "w")}));
}

TEST_CASE("ssa: a dropped field another manager also owns stays", "[managed][ssa]") {
  json a = Apply(nullptr, Intent({{"replicas", 3}}), By("a"));
  json ab = Apply(a, Intent({{"replicas", 3}}), By("b"));  // same value: shared, no conflict
  CHECK(Owned(ab, "a").Has(kReplicas));
  CHECK(Owned(ab, "b").Has(kReplicas));
  json dropped = Apply(ab, Intent({{"paused", true}}), By("a"));
  CHECK(dropped["spec"]["replicas"] == 3);
  CHECK_FALSE(Owned(dropped, "a").Has(kReplicas));
}

TEST_CASE("ssa: two managers on different fields coexist", "[managed][ssa]") {
  json a = Apply(nullptr, Intent({{"replicas", 3}}), By("a"));
  json ab = Apply(a, Intent(json::object(), {{"labels", {{"team", "x"}}}}), By("b"));
  json again = Apply(ab, Intent({{"replicas", 4}}), By("a"));
  CHECK(again["spec"]["replicas"] == 4);
  CHECK(again["metadata"]["labels"]["team"] == "x");
  CHECK(Owned(again, "b").Has({"f:metadata", "f:labels", "f:team"}));
  CHECK(again["metadata"]["managedFields"].size() == 2);
}

TEST_CASE("ssa: changing another manager's field is a conflict naming field and manager", "[managed][ssa]") {
  json a = Apply(nullptr, Intent({{"replicas", 3}, {"paused", false}}), By("a"));
  auto e = Raised([&] { Apply(a, Intent({{"replicas", 5}}), By("b")); });
  CHECK(e.code() == 409);
  CHECK(e.reason() == "Conflict");
  CHECK(e.message() == "Apply failed with 1 conflict: conflict with \"a\": .spec.replicas");
  auto causes = e.causes();
  REQUIRE(causes.size() == 1);
  CHECK(causes[0].reason == "FieldManagerConflict");
  CHECK(causes[0].message == "conflict with \"a\"");
  CHECK(causes[0].field == ".spec.replicas");

  auto two = Raised([&] { Apply(a, Intent({{"replicas", 5}, {"paused", true}}), By("b")); });
  CHECK(two.message() == "Apply failed with 2 conflicts: conflicts with \"a\":\n- .spec.paused\n- .spec.replicas");
  CHECK(two.causes().size() == 2);
}

TEST_CASE("ssa: force takes the field over", "[managed][ssa]") {
  json a = Apply(nullptr, Intent({{"replicas", 3}, {"paused", false}}), By("a"));
  json b = Apply(a, Intent({{"replicas", 5}}), By("b", /*force=*/true));
  CHECK(b["spec"]["replicas"] == 5);
  CHECK(Owned(b, "b").Has(kReplicas));
  CHECK_FALSE(Owned(b, "a").Has(kReplicas));
  CHECK(Owned(b, "a").Has({"f:spec", "f:paused"}));
  // a no longer owns replicas, so its next apply without replicas leaves b's value alone.
  json a2 = Apply(b, Intent({{"paused", false}}), By("a"));
  CHECK(a2["spec"]["replicas"] == 5);
}

TEST_CASE("ssa: an update by kubectl edit takes the field, then apply conflicts", "[managed][ssa][update]") {
  json applied = Apply(nullptr, Intent({{"replicas", 3}}), By("kubectl"));
  json edited = applied;
  edited["spec"]["replicas"] = 4;
  json tracked = TrackUpdate(applied, edited, "kubectl-edit", "apps/v1", Lists(), kT0 + seconds(5));
  CHECK(tracked["spec"]["replicas"] == 4);
  const json* entry = Entry(tracked, "kubectl-edit", "Update");
  REQUIRE(entry);
  CHECK((*entry)["time"] == core::FormatTime(kT0 + seconds(5)));
  CHECK(Owned(tracked, "kubectl-edit", "Update").Has(kReplicas));
  // kubectl owned only replicas, so its entry disappears once the editor takes it.
  CHECK(Entry(tracked, "kubectl", "Apply") == nullptr);

  auto e = Raised([&] { Apply(tracked, Intent({{"replicas", 3}}), By("kubectl")); });
  CHECK(e.code() == 409);
  REQUIRE(e.causes().size() == 1);
  CHECK(e.causes()[0].message == "conflict with \"kubectl-edit\" using apps/v1");
  CHECK(e.causes()[0].field == ".spec.replicas");
}

TEST_CASE("ssa: map-list items are owned per key", "[managed][ssa]") {
  json a = Apply(nullptr, Intent(Containers(json::array({Container("web", "web:1")}))), By("a"));
  json ab = Apply(a, Intent(Containers(json::array({Container("sidecar", "side:1")}))), By("b"));
  const json& list = ab["spec"]["template"]["spec"]["containers"];
  REQUIRE(list.size() == 2);
  const FieldPath containers = {"f:spec", "f:template", "f:spec", "f:containers"};
  auto item = [&](const std::string& name) {
    FieldPath p = containers;
    p.push_back("k:{\"name\":\"" + name + "\"}");
    return p;
  };
  CHECK(Owned(ab, "a").Has(item("web")));
  CHECK_FALSE(Owned(ab, "a").Has(item("sidecar")));
  CHECK(Owned(ab, "b").Has(item("sidecar")));

  json again = Apply(ab, Intent(Containers(json::array({Container("web", "web:2")}))), By("a"));
  CHECK(again["spec"]["template"]["spec"]["containers"].size() == 2);

  auto e = Raised([&] {
    Apply(again, Intent(Containers(json::array({Container("web", "web:2"), Container("sidecar", "side:2")}))), By("a"));
  });
  REQUIRE(e.causes().size() == 1);
  CHECK(e.causes()[0].field == ".spec.template.spec.containers[name=\"sidecar\"].image");

  json b_gone = Apply(again, Intent(json::object()), By("b"));
  CHECK(b_gone["spec"]["template"]["spec"]["containers"].size() == 1);
  CHECK(b_gone["spec"]["template"]["spec"]["containers"][0]["name"] == "web");
}

TEST_CASE("ssa: ports are keyed by containerPort and protocol with TCP as default", "[managed][ssa]") {
  json port = {{"containerPort", 80}};
  json live = Apply(nullptr, Intent(Containers({{{"name", "web"}, {"ports", json::array({port})}}})), By("a"));
  live["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"] = "TCP";  // server default
  json out = Apply(live, Intent(Containers({{{"name", "web"}, {"ports", {{{"containerPort", 80}, {"name", "http"}}}}}})),
                   By("a"));
  const json& ports = out["spec"]["template"]["spec"]["containers"][0]["ports"];
  REQUIRE(ports.size() == 1);
  CHECK(ports[0]["name"] == "http");
  CHECK(Owned(out, "a").Has({"f:spec", "f:template", "f:spec", "f:containers", "k:{\"name\":\"web\"}", "f:ports",
                             "k:{\"containerPort\":80,\"protocol\":\"TCP\"}"}));
}

TEST_CASE("ssa: an atomic selector is replaced and owned whole", "[managed][ssa]") {
  auto svc_lists = BuiltinListSemantics("", "Service");
  auto service = [](const json& selector) {
    return json{{"apiVersion", "v1"},
                {"kind", "Service"},
                {"metadata", {{"name", "podinfo"}, {"namespace", "test"}}},
                {"spec", {{"selector", selector}}}};
  };
  ApplyRequest gitops = By("gitops");
  gitops.api_version = "v1";
  json live = ServerSideApply(nullptr, service({{"app", "podinfo"}, {"version", "v1"}}), gitops, svc_lists, kT0);
  CHECK(live["metadata"]["managedFields"][0]["fieldsV1"] == json::parse(R"({"f:spec": {"f:selector": {}}})"));

  ApplyRequest sluice = By("sluice");
  sluice.api_version = "v1";
  json primary = service({{"app", "podinfo-primary"}});
  auto e = Raised([&] { ServerSideApply(live, primary, sluice, svc_lists, kT0); });
  REQUIRE(e.causes().size() == 1);
  CHECK(e.causes()[0].field == ".spec.selector");

  sluice.force = true;
  json out = ServerSideApply(live, primary, sluice, svc_lists, kT0);
  CHECK(out["spec"]["selector"] == json{{"app", "podinfo-primary"}});
  CHECK(Entry(out, "gitops", "Apply") == nullptr);
}

TEST_CASE("ssa: bad requests", "[managed][ssa]") {
  auto no_manager = Raised([] { Apply(nullptr, Intent({{"replicas", 1}}), By("")); });
  CHECK(no_manager.code() == 422);
  CHECK_THAT(no_manager.message(), Catch::Contains("fieldManager: Required value"));
  auto no_key = Raised([] { Apply(nullptr, Intent(Containers({{{"image", "x"}}})), By("a")); });
  CHECK(no_key.code() == 400);
  CHECK_THAT(no_key.message(), Catch::Contains("spec.template.spec.containers") && Catch::Contains("key"));
  auto dup = Raised([] { Apply(nullptr, Intent(Containers(json::array({Container("w", "1"), Container("w", "2")}))), By("a")); });
  CHECK_THAT(dup.message(), Catch::Contains("duplicate"));
}

TEST_CASE("ssa: a live object without managedFields is owned by before-first-apply", "[managed][ssa]") {
  json live = Intent({{"replicas", 1}});
  auto e = Raised([&] { Apply(live, Intent({{"replicas", 2}}), By("kubectl")); });
  REQUIRE(e.causes().size() == 1);
  CHECK(e.causes()[0].message == "conflict with \"before-first-apply\" using apps/v1");
}

TEST_CASE("ssa: an apply to the status subresource owns only status", "[managed][ssa]") {
  json live = Apply(nullptr, Intent({{"replicas", 1}}), By("kubectl"));
  ApplyRequest status = By("sluice");
  status.subresource = "status";
  json intent = Intent({{"replicas", 9}}, {{"labels", {{"x", "y"}}}});
  intent["status"] = {{"readyReplicas", 1}};
  json out = Apply(live, intent, status);
  CHECK(out["spec"]["replicas"] == 1);
  CHECK_FALSE(out["metadata"].contains("labels"));
  CHECK(out["status"]["readyReplicas"] == 1);
  const json* entry = Entry(out, "sluice", "Apply");
  REQUIRE(entry);
  CHECK((*entry)["subresource"] == "status");
  CHECK((*entry)["fieldsV1"] == json::parse(R"({"f:status": {"f:readyReplicas": {}}})"));
  // The same manager applying to the main resource is another entry.
  json main = Apply(out, Intent({{"paused", true}}), By("sluice"));
  CHECK(main["metadata"]["managedFields"].size() == 3);
}

TEST_CASE("ssa: status sent to the main resource of a kind with a status subresource is ignored",
          "[managed][ssa]") {
  json live = TrackUpdate(nullptr, Intent({{"replicas", 1}}), "creator", "apps/v1", Lists(), kT0);
  json with_status = live;
  with_status["status"] = {{"readyReplicas", 1}};
  live = TrackUpdate(live, with_status, "kube-controller-manager", "apps/v1", Lists(), kT0, "status");
  ApplyRequest req = By("kubectl", /*force=*/false);
  req.status_is_subresource = true;
  json intent = Intent({{"replicas", 1}});
  intent["status"] = {{"readyReplicas", 0}};
  json out = Apply(live, intent, req);  // no conflict with the status owner
  CHECK(out["status"]["readyReplicas"] == 1);
  CHECK_FALSE(Owned(out, "kubectl").Has({"f:status", "f:readyReplicas"}));

  req.status_is_subresource = false;
  CHECK(Raised([&] { Apply(live, intent, req); }).code() == 409);
}

TEST_CASE("update: create owns what it wrote, removed fields leave every set", "[managed][update]") {
  json created = TrackUpdate(nullptr, Intent({{"replicas", 1}, {"paused", false}}), "sluice", "apps/v1", Lists(), kT0);
  REQUIRE(created["metadata"]["managedFields"].size() == 1);
  CHECK(Owned(created, "sluice", "Update").Has(kReplicas));
  CHECK(Owned(created, "sluice", "Update").Has({"f:spec", "f:paused"}));
  CHECK_FALSE(Owned(created, "sluice", "Update").Has({"f:metadata", "f:name"}));

  json other = created;
  other["spec"]["replicas"] = 2;
  json scaled = TrackUpdate(created, other, "hpa", "apps/v1", Lists(), kT0 + seconds(1));
  CHECK(Owned(scaled, "hpa", "Update").Has(kReplicas));
  CHECK_FALSE(Owned(scaled, "sluice", "Update").Has(kReplicas));

  json removed = scaled;
  removed["spec"].erase("replicas");
  json after = TrackUpdate(scaled, removed, "sluice", "apps/v1", Lists(), kT0 + seconds(2));
  CHECK(Entry(after, "hpa", "Update") == nullptr);  // its only field is gone: entry dropped
  REQUIRE(Entry(after, "sluice", "Update"));
  CHECK((*Entry(after, "sluice", "Update"))["time"] == core::FormatTime(kT0));  // nothing it changed

  json unchanged = TrackUpdate(after, after, "sluice", "apps/v1", Lists(), kT0 + seconds(3));
  CHECK(unchanged == after);
}

TEST_CASE("update: more than ten updaters fold the oldest into ancient-changes", "[managed][update]") {
  json obj = TrackUpdate(nullptr, Intent({{"replicas", 1}}), "creator", "apps/v1", Lists(), kT0);
  for (int i = 0; i < 11; ++i) {
    json next = obj;
    next["metadata"]["labels"]["l" + std::to_string(i)] = "v";
    obj = TrackUpdate(obj, next, "writer-" + std::to_string(i), "apps/v1", Lists(), kT0 + seconds(i + 1));
  }
  const json& entries = obj["metadata"]["managedFields"];
  CHECK(entries.size() == 10);
  CHECK(Entry(obj, "creator", "Update") == nullptr);
  // Capped after every write: writer-9 folded creator and writer-0, writer-10 folded writer-1.
  CHECK(Entry(obj, "writer-0", "Update") == nullptr);
  CHECK(Entry(obj, "writer-1", "Update") == nullptr);
  FieldSet ancient = Owned(obj, "ancient-changes", "Update");
  CHECK(ancient.Has(kReplicas));
  CHECK(ancient.Has({"f:metadata", "f:labels", "f:l0"}));
  CHECK(ancient.Has({"f:metadata", "f:labels", "f:l1"}));
  CHECK((*Entry(obj, "ancient-changes", "Update"))["time"] == core::FormatTime(kT0 + seconds(2)));
  CHECK(Entry(obj, "writer-10", "Update") != nullptr);
}

TEST_CASE("update: a status write records the subresource", "[managed][update]") {
  json before = TrackUpdate(nullptr, Intent({{"replicas", 1}}), "sluice", "apps/v1", Lists(), kT0);
  json after = before;
  after["status"] = {{"readyReplicas", 1}};
  json out = TrackUpdate(before, after, "sluice", "apps/v1", Lists(), kT0, "status");
  const json* status_entry = nullptr;
  for (const auto& e : out["metadata"]["managedFields"]) {
    if (e.value("subresource", "") == "status") status_entry = &e;
  }
  REQUIRE(status_entry);
  CHECK((*status_entry)["fieldsV1"] == json::parse(R"({"f:status": {".": {}, "f:readyReplicas": {}}})"));
  CHECK(out["metadata"]["managedFields"].size() == 2);
}

}  // namespace
}  // namespace sluice::apimachinery
