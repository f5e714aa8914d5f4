// /openapi/v2: the Swagger document kubectl 1.20 (Debian 12's) validates and explains from,
// in JSON and in the protobuf encoding kubectl asks for.
#include <catch2/catch.hpp>

#include "sandbox/emulator/openapi_v2.h"
#include "tests/sandbox/fixture.h"
#include "tests/support/fixtures.h"
#include "tests/support/process.h"

#include <stdexcept>

using namespace sluice::sandbox;
using namespace sluice::sandbox::testing;
using nlohmann::json;
using Catch::Matchers::Contains;

namespace {

// Bytes as a string, for comparing encodings.
std::string B(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s.push_back(static_cast<char>(b));
  return s;
}

}  // namespace

TEST_CASE("openapi v2 protobuf: the wire bytes of a small document", "[sandbox][openapi]") {
  // Document{swagger=1:"2.0", info=2:{title=1:"K"}}, keys in JSON order (info < swagger).
  CHECK(EncodeOpenApiV2Protobuf({{"swagger", "2.0"}, {"info", {{"title", "K"}}}}) ==
        B({0x12, 0x03, 0x0a, 0x01, 'K', 0x0a, 0x03, '2', '.', '0'}));
  // definitions=9:{additional_properties=1:{name=1:"A", value=2:Schema{type=22:{value=1:"string"}}}}
  std::string def = EncodeOpenApiV2Protobuf({{"definitions", {{"A", {{"type", "string"}}}}}});
  CHECK(def == B({0x4a, 0x12, 0x0a, 0x10, 0x0a, 0x01, 'A', 0x12, 0x0b, 0xb2, 0x01, 0x08, 0x0a, 0x06, 's', 't',
                  'r', 'i', 'n', 'g'}));
  // Vendor extensions travel as YAML text (JSON is YAML) in NamedAny{name, Any{yaml=2}}.
  std::string ext = EncodeOpenApiV2Protobuf({{"definitions", {{"A", {{"x-k", 1}}}}}});
  CHECK(ext.find(B({0x12, 0x01, '1'})) != std::string::npos);
  CHECK(ext.find("x-k") != std::string::npos);
}

TEST_CASE("openapi v2 protobuf refuses what it cannot encode, naming where", "[sandbox][openapi]") {
  CHECK_THROWS_WITH(EncodeOpenApiV2Protobuf({{"definitions", {{"A", {{"properties", {{"b", {{"nope", 1}}}}}}}}}}),
                    Contains("$.definitions.A.properties.b.nope") && Contains("Schema"));
  CHECK_THROWS_WITH(EncodeOpenApiV2Protobuf({{"swagger", 2}}), Contains("$.swagger") && Contains("expected string"));
}

TEST_CASE("a CRD schema in v2 form, as kube-apiserver publishes it", "[sandbox][openapi]") {
  json v3 = {{"type", "object"},
             {"required", {"spec"}},
             {"properties",
              {{"apiVersion", {{"type", "string"}}},
               {"metadata", {{"type", "object"}}},
               {"spec",
                {{"type", "object"},
                 {"required", {"a", "n"}},
                 {"properties",
                  {{"a", {{"type", "string"}, {"anyOf", {{{"minLength", 1}}}}}},
                   {"n", {{"type", "string"}, {"nullable", true}}},
                   {"free", {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true},
                             {"properties", {{"x", {{"type", "string"}}}}}}},
                   {"list", {{"type", "array"}, {"x-kubernetes-preserve-unknown-fields", true},
                             {"items", {{"type", "string"}}}}}}}}}}}};
  json v2 = PublishedCrdSchema(v3, true);
  CHECK(v2["properties"]["metadata"] == json{{"$ref", "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}});
  CHECK(v2["properties"]["apiVersion"].contains("description"));
  CHECK(v2["properties"]["kind"]["type"] == "string");  // added where the CRD leaves it out
  CHECK(PublishedCrdSchema(v3, false)["properties"]["metadata"]["allOf"][0]["$ref"] ==
        "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
  CHECK(PublishedCrdSchema({{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}, true) ==
        json{{"type", "object"}});
  const json& spec = v2["properties"]["spec"];
  CHECK_FALSE(spec["properties"]["a"].contains("anyOf"));
  CHECK_FALSE(spec["properties"]["n"].contains("type"));   // nullable: untyped
  CHECK(spec["required"] == json{"a"});                     // and no longer required
  CHECK_FALSE(spec["properties"]["free"].contains("properties"));
  CHECK(spec["properties"]["free"]["type"] == "object");
  CHECK_FALSE(spec["properties"]["list"].contains("type"));  // an array without items
  CHECK_NOTHROW(EncodeOpenApiV2Protobuf({{"definitions", {{"X", v2}, {"M", ObjectMetaV2Definition()}}}}));
}

TEST_CASE("the emulator serves /openapi/v2 in JSON and protobuf, CRDs included", "[sandbox][openapi][crd]") {
  auto file = sluice::testing::CrdFixture("gateway-api-v1.6.1-httproutes.yaml");
  if (!file) {
    WARN("Gateway API fixtures missing; skipping");
    return;
  }
  EmulatorFixture f;
  auto& c = *f.client;
  REQUIRE(f.emulator.LoadCrdsYaml(sluice::testing::ReadFile(*file)) == 1);

  json doc = c.Get("/openapi/v2").Json();
  CHECK(doc["swagger"] == "2.0");
  const json& route = doc["definitions"]["io.k8s.networking.gateway.v1.HTTPRoute"];
  REQUIRE(route.is_object());
  CHECK(route["x-kubernetes-group-version-kind"][0] ==
        json{{"group", "gateway.networking.k8s.io"}, {"version", "v1"}, {"kind", "HTTPRoute"}});
  CHECK(route["properties"]["metadata"].contains("$ref"));
  CHECK(doc["definitions"].contains("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"));
  const json& patch =
      doc["paths"]["/apis/gateway.networking.k8s.io/v1/namespaces/{namespace}/httproutes/{name}"]["patch"];
  CHECK(patch["x-kubernetes-group-version-kind"]["kind"] == "HTTPRoute");
  CHECK(patch["responses"]["200"]["schema"]["$ref"] == "#/definitions/io.k8s.networking.gateway.v1.HTTPRoute");
  for (const auto& p : patch["parameters"]) CHECK_FALSE(p.contains("schema"));  // v2 parameters carry `type`

  auto pb = c.Get("/openapi/v2", "application/com.github.proto-openapi.spec.v2@v1.0+protobuf");
  CHECK(pb.status == 200);
  CHECK(pb.Header("content-type") == "application/octet-stream");
  CHECK(pb.body == EncodeOpenApiV2Protobuf(doc));

  // Registering a CRD changes both forms at once.
  f.emulator.LoadCrdsYaml(sluice::testing::ReadFile(*sluice::testing::CrdFixture("gateway-api-v1.6.1-gateways.yaml")));
  CHECK(c.Get("/openapi/v2").Json()["definitions"].contains("io.k8s.networking.gateway.v1.Gateway"));
}

TEST_CASE("every fixture CRD goes into /openapi/v2 and its protobuf form", "[sandbox][openapi][crd]") {
  auto dir = sluice::testing::CrdFixtureDir();
  if (!dir) {
    WARN("CRD fixtures missing; skipping");
    return;
  }
  EmulatorFixture f;
  REQUIRE(f.emulator.LoadCrdsFromDirectory(*dir) >= 7);
  auto& c = *f.client;
  json doc = c.Get("/openapi/v2").Json();
  CHECK(doc["definitions"].contains("io.istio.networking.v1.VirtualService"));
  auto pb = c.Get("/openapi/v2", "application/com.github.proto-openapi.spec.v2@v1.0+protobuf");
  INFO(pb.body.substr(0, 300));
  REQUIRE(pb.status == 200);
  CHECK(pb.body == EncodeOpenApiV2Protobuf(doc));
}
