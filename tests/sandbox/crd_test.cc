#include <catch2/catch.hpp>

#include "tests/sandbox/fixture.h"
#include "tests/support/fixtures.h"
#include "tests/support/process.h"

using namespace sluice::sandbox;
using namespace sluice::sandbox::testing;
using nlohmann::json;

namespace {

const std::string kRoutes = "/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes";

json Route(const std::string& name, int weight) {
  return {{"apiVersion", "gateway.networking.k8s.io/v1"},
          {"kind", "HTTPRoute"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"parentRefs", {{{"name", "gw"}}}},
            {"rules", {{{"backendRefs", {{{"name", "web-primary"}, {"port", 80}, {"weight", weight}}}}}}}}}};
}

json Widget(const std::string& name) {
  return {{"apiVersion", "example.com/v1"},
          {"kind", "Widget"},
          {"metadata", {{"name", name}}},
          {"spec", {{"size", 3}}}};
}

json WidgetCrd() {
  json schema = {{"type", "object"},
                 {"properties",
                  {{"spec",
                    {{"type", "object"},
                     {"properties", {{"size", {{"type", "integer"}, {"minimum", 1}}}, {"color", {{"type", "string"}, {"default", "blue"}}}}}}},
                   {"status", {{"type", "object"}, {"properties", {{"ready", {{"type", "boolean"}}}}}}}}}};
  return {{"apiVersion", "apiextensions.k8s.io/v1"},
          {"kind", "CustomResourceDefinition"},
          {"metadata", {{"name", "widgets.example.com"}}},
          {"spec",
           {{"group", "example.com"},
            {"scope", "Namespaced"},
            {"names", {{"plural", "widgets"}, {"singular", "widget"}, {"kind", "Widget"}, {"shortNames", {"wd"}}}},
            {"versions",
             {{{"name", "v1"},
               {"served", true},
               {"storage", true},
               {"schema", {{"openAPIV3Schema", schema}}},
               {"subresources", {{"status", json::object()}}},
               {"additionalPrinterColumns",
                {{{"name", "Size"}, {"type", "integer"}, {"jsonPath", ".spec.size"}}}}}}}}}};
}

}  // namespace

TEST_CASE("a CRD registers at once: discovery, Established, custom resources", "[sandbox][crd]") {
  EmulatorFixture f;
  auto& c = *f.client;
  auto crd = c.Post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", WidgetCrd());
  REQUIRE(crd.status == 201);
  auto crd_obj = crd.Json();
  bool established = false;
  for (const auto& cond : crd_obj["status"]["conditions"])
    established |= cond["type"] == "Established" && cond["status"] == "True";
  CHECK(established);
  auto res = c.Get("/apis/example.com/v1").Json();
  REQUIRE(res["resources"].size() == 2);
  CHECK(res["resources"][0]["shortNames"] == json{"wd"});
  CHECK(res["resources"][1]["name"] == "widgets/status");

  const std::string path = "/apis/example.com/v1/namespaces/default/widgets";
  auto w = c.Post(path, Widget("w1"));
  REQUIRE(w.status == 201);
  auto obj = w.Json();
  CHECK(obj["metadata"]["generation"] == 1);
  CHECK(obj["spec"]["color"] == "blue");  // schema default

  // PUT needs a resourceVersion and never creates.
  json no_rv = obj;
  no_rv["metadata"].erase("resourceVersion");
  CHECK(c.Put(path + "/w1", no_rv).status == 422);
  CHECK(c.Put(path + "/w2", Widget("w2")).status == 404);
  // Strategic merge patch is refused on custom resources, naming what is accepted.
  auto smp = c.Patch(path + "/w1", "application/strategic-merge-patch+json", R"({"spec":{"size":4}})");
  CHECK(smp.status == 415);
  CHECK(smp.Json()["message"].get<std::string>().find("application/merge-patch+json") != std::string::npos);
  // Status through /status does not bump generation.
  obj["status"] = {{"ready", true}};
  auto st = c.Put(path + "/w1/status", obj);
  REQUIRE(st.status == 200);
  CHECK(st.Json()["metadata"]["generation"] == 1);
  CHECK(st.Json()["status"]["ready"] == true);

  // Immediate delete answers a Status carrying the uid.
  auto del = c.Delete(path + "/w1", R"({"propagationPolicy":"Background"})");
  REQUIRE(del.status == 200);
  CHECK(del.Json()["kind"] == "Status");
  CHECK(del.Json()["details"]["uid"] == obj["metadata"]["uid"]);
  CHECK(del.Json()["details"]["group"] == "example.com");

  // Deleting the CRD removes its objects and its API.
  REQUIRE(c.Post(path, Widget("w3")).status == 201);
  REQUIRE(c.Delete("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com").status == 200);
  CHECK(c.Get(path).status == 404);
  CHECK(c.Get("/apis/example.com/v1").status == 404);
}

TEST_CASE("custom resources are pruned, defaulted and validated by their schema", "[sandbox][crd]") {
  EmulatorFixture f;
  auto& c = *f.client;
  REQUIRE(c.Post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", WidgetCrd()).status == 201);
  const std::string path = "/apis/example.com/v1/namespaces/default/widgets";
  json unknown = Widget("u");
  unknown["spec"]["extra"] = "x";
  auto strict = c.Request("POST", path + "?fieldValidation=Strict", unknown.dump(), {{"Content-Type", "application/json"}});
  CHECK(strict.status == 400);
  CHECK(strict.Json()["message"].get<std::string>().find("unknown field \"spec.extra\"") != std::string::npos);
  auto warn = c.Request("POST", path + "?fieldValidation=Warn", unknown.dump(), {{"Content-Type", "application/json"}});
  REQUIRE(warn.status == 201);
  CHECK(warn.Header("warning").find("spec.extra") != std::string::npos);
  CHECK_FALSE(warn.Json()["spec"].contains("extra"));

  json bad = Widget("bad");
  bad["spec"]["size"] = 0;
  auto invalid = c.Post(path, bad);
  CHECK(invalid.status == 422);
  CHECK(invalid.Json()["reason"] == "Invalid");
  CHECK(invalid.Json()["details"]["causes"][0]["field"] == "spec.size");
}

TEST_CASE("the real Gateway API HTTPRoute CRD loads and enforces its schema", "[sandbox][crd]") {
  auto file = sluice::testing::CrdFixture("gateway-api-v1.6.1-httproutes.yaml");
  if (!file) {
    WARN("Gateway API fixtures missing; skipping");
    return;
  }
  EmulatorFixture f;
  auto& c = *f.client;
  CHECK(f.emulator.LoadCrdsYaml(sluice::testing::ReadFile(*file)) == 1);
  auto ok = c.Post(kRoutes, Route("web", 90));
  INFO(ok.body.substr(0, 500));
  REQUIRE(ok.status == 201);
  auto bad = c.Post(kRoutes, Route("bad", 1000001));
  INFO(bad.body.substr(0, 500));
  CHECK(bad.status == 422);
  CHECK(bad.Json()["details"]["causes"][0]["field"].get<std::string>().find("weight") != std::string::npos);
  auto table = c.Get(kRoutes, "application/json;as=Table;v=v1;g=meta.k8s.io,application/json").Json();
  CHECK(table["kind"] == "Table");
  bool hostnames = false;
  for (const auto& col : table["columnDefinitions"]) hostnames |= col["name"] == "Hostnames";
  CHECK(hostnames);
  // The openapi document carries the schema for kubectl.
  auto index = c.Get("/openapi/v3").Json();
  REQUIRE(index["paths"].contains("apis/gateway.networking.k8s.io/v1"));
  auto doc = c.Get(index["paths"]["apis/gateway.networking.k8s.io/v1"]["serverRelativeURL"].get<std::string>()).Json();
  CHECK(doc["components"]["schemas"].contains("io.k8s.networking.gateway.v1.HTTPRoute"));
}

TEST_CASE("every fixture CRD loads from a directory", "[sandbox][crd]") {
  auto dir = sluice::testing::CrdFixtureDir();
  if (!dir) {
    WARN("CRD fixtures missing; skipping");
    return;
  }
  EmulatorFixture f;
  CHECK(f.emulator.LoadCrdsFromDirectory(*dir) >= 7);
  auto& c = *f.client;
  CHECK(c.Get("/apis/networking.istio.io/v1/namespaces/default/virtualservices").status == 200);
  CHECK(c.Get("/apis/gateway.networking.k8s.io/v1/gateways").status == 200);
}
