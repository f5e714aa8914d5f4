#include <catch2/catch.hpp>

#include "tests/sandbox/fixture.h"

using namespace sluice::sandbox;
using namespace sluice::sandbox::testing;
using nlohmann::json;

namespace {
const std::string kAggregated =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/"
    "json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

const json* FindResource(const json& list, const std::string& group, const std::string& resource) {
  for (const auto& item : list["items"]) {
    if (item["metadata"].value("name", "") != group) continue;
    for (const auto& r : item["versions"][0]["resources"])
      if (r["resource"] == resource) return &r;
  }
  return nullptr;
}
}  // namespace

TEST_CASE("aggregated discovery when asked for, with its Content-Type", "[sandbox][discovery]") {
  EmulatorFixture f;
  auto& c = *f.client;
  auto core = c.Get("/api", kAggregated);
  REQUIRE(core.status == 200);
  CHECK(core.Header("content-type") == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList");
  auto body = core.Json();
  CHECK(body["kind"] == "APIGroupDiscoveryList");
  auto ns = FindResource(body, "", "namespaces");
  REQUIRE(ns);
  CHECK((*ns)["scope"] == "Cluster");
  CHECK((*ns)["shortNames"] == json{"ns"});
  CHECK((*ns)["responseKind"]["kind"] == "Namespace");

  auto apis = c.Get("/apis", kAggregated).Json();
  auto deploy = FindResource(apis, "apps", "deployments");
  REQUIRE(deploy);
  CHECK((*deploy)["shortNames"] == json{"deploy"});
  CHECK((*deploy)["scope"] == "Namespaced");
  CHECK((*deploy)["subresources"].size() == 2);
  CHECK(FindResource(apis, "autoscaling", "horizontalpodautoscalers"));
  CHECK(FindResource(apis, "networking.k8s.io", "ingresses"));
  CHECK(FindResource(apis, "coordination.k8s.io", "leases"));
  CHECK(FindResource(apis, "apiextensions.k8s.io", "customresourcedefinitions"));
  CHECK(FindResource(apis, "events.k8s.io", "events"));
}

TEST_CASE("legacy discovery, /version and health", "[sandbox][discovery]") {
  EmulatorFixture f;
  auto& c = *f.client;
  auto api = c.Get("/api");
  CHECK(api.Header("content-type") == "application/json");
  CHECK(api.Json()["kind"] == "APIVersions");
  auto groups = c.Get("/apis").Json();
  CHECK(groups["kind"] == "APIGroupList");
  bool apps = false;
  for (const auto& g : groups["groups"])
    if (g["name"] == "apps") apps = g["preferredVersion"]["groupVersion"] == "apps/v1";
  CHECK(apps);
  auto v1 = c.Get("/api/v1").Json();
  CHECK(v1["kind"] == "APIResourceList");
  CHECK(v1["groupVersion"] == "v1");
  bool svc = false, status = false;
  for (const auto& r : v1["resources"]) {
    if (r["name"] == "services") svc = r["shortNames"] == json{"svc"} && r["namespaced"] == true;
    if (r["name"] == "namespaces/status") status = true;
  }
  CHECK(svc);
  CHECK(status);
  auto appsv1 = c.Get("/apis/apps/v1").Json();
  CHECK(appsv1["groupVersion"] == "apps/v1");
  CHECK(c.Get("/apis/apps").Json()["kind"] == "APIGroup");
  auto version = c.Get("/version").Json();
  CHECK(version["gitVersion"] == "v1.32.0");
  CHECK(c.Get("/healthz").body == "ok");
  CHECK(c.Get("/readyz").status == 200);
  CHECK(c.Get("/livez").status == 200);
}

TEST_CASE("openapi v3 index and a PATCH operation with fieldValidation per kind", "[sandbox][discovery]") {
  EmulatorFixture f;
  auto& c = *f.client;
  auto index = c.Get("/openapi/v3").Json();
  REQUIRE(index["paths"].contains("api/v1"));
  REQUIRE(index["paths"].contains("apis/apps/v1"));
  std::string url = index["paths"]["apis/apps/v1"]["serverRelativeURL"];
  CHECK(url.find("?hash=") != std::string::npos);
  auto doc = c.Get(url).Json();
  auto& path = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"];
  REQUIRE(path.contains("patch"));
  CHECK(path["patch"]["x-kubernetes-group-version-kind"]["kind"] == "Deployment");
  bool field_validation = false;
  for (const auto& p : path["patch"]["parameters"]) field_validation |= p["name"] == "fieldValidation";
  CHECK(field_validation);
  // kubectl up to 1.26 reads v2 instead (tests/sandbox/openapi_v2_test.cc).
  CHECK(c.Get("/openapi/v2").Json()["swagger"] == "2.0");
}

TEST_CASE("get with the Table Accept header renders a Table", "[sandbox][discovery]") {
  EmulatorFixture f;
  auto& c = *f.client;
  auto t = c.Get("/api/v1/namespaces?limit=500", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json");
  REQUIRE(t.status == 200);
  auto body = t.Json();
  CHECK(body["kind"] == "Table");
  CHECK_FALSE(body["metadata"]["resourceVersion"].get<std::string>().empty());
  CHECK(body["columnDefinitions"][0]["name"] == "Name");
  CHECK(body["rows"].size() >= 2);
}
