// Routing providers build objects that the real Gateway API schema accepts, and read their
// weights back.
#include <catch2/catch.hpp>

#include "routing/router.h"
#include "apimachinery/schema.h"
#include "core/yaml_json.h"
#include "tests/support/fixtures.h"
#include "tests/support/process.h"

using namespace sluice::routing;
using json = nlohmann::json;

namespace {

RouteContext Context(const std::string& provider = "gatewayapi") {
  RouteContext ctx;
  ctx.canary = json::parse(R"({
    "apiVersion": "sluice.dev/v1beta1", "kind": "Canary",
    "metadata": {"name": "podinfo", "namespace": "test", "uid": "u-1"},
    "spec": {
      "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
      "service": {"port": 9898, "targetPort": "http", "timeout": "15s",
                  "hosts": ["app.example.com"],
                  "gatewayRefs": [{"name": "public", "namespace": "gateways"}],
                  "headers": {"request": {"set": {"x-env": "prod"}}}},
      "analysis": {"interval": "1s", "stepWeight": 10, "mirrorWeight": 20,
                   "match": [{"headers": {"x-canary": {"exact": "insider"}}},
                             {"headers": {"cookie": {"regex": "^(.*?;)?(canary=always)(;.*)?$"}}},
                             {"queryParams": {"canary": {"exact": "1"}}}]}
    }})");
  ctx.canary["spec"]["provider"] = provider;
  ctx.name = "podinfo";
  ctx.ns = "test";
  ctx.uid = "u-1";
  ctx.service = "podinfo";
  ctx.port = 9898;
  ctx.selector_label = "app";
  ctx.target = "podinfo";
  return ctx;
}

const json& Find(const std::vector<json>& objects, const std::string& kind) {
  for (const auto& o : objects)
    if (o["kind"] == kind) return o;
  FAIL("no " << kind << " among the desired objects");
  throw;
}

// The v1 schema of the real HTTPRoute CRD, or nullopt when the fixtures are absent.
std::optional<sluice::apimachinery::StructuralSchema> HttpRouteSchema() {
  auto file = sluice::testing::CrdFixture("gateway-api-v1.6.1-httproutes.yaml");
  if (!file) return std::nullopt;
  json crd = sluice::core::ParseYaml(sluice::testing::ReadFile(*file));
  for (const auto& v : crd["spec"]["versions"])
    if (v["name"] == "v1") return sluice::apimachinery::StructuralSchema(v["schema"]["openAPIV3Schema"]);
  return std::nullopt;
}

void RequireValid(const json& route) {
  auto schema = HttpRouteSchema();
  if (!schema) {
    WARN("Gateway API CRD fixture not found (SLUICE_CRD_DIR): schema check skipped");
    return;
  }
  json copy = route;
  schema->ApplyDefaults(copy);
  auto causes = schema->Validate(copy);
  std::string all;
  for (const auto& c : causes) all += c.field + ": " + c.message + "\n";
  INFO(all << route.dump(2));
  REQUIRE(causes.empty());
}

}  // namespace

TEST_CASE("the registry refuses an unknown provider by name", "[routing]") {
  const auto& reg = RouterRegistry::Builtin();
  CHECK(reg.Get("gatewayapi").name() == "gatewayapi");
  CHECK(reg.Get("kubernetes").name() == "kubernetes");
  CHECK_THROWS_WITH(reg.Get("linkerd"), Catch::Contains("unknown provider \"linkerd\"") &&
                                            Catch::Contains("gatewayapi, kubernetes"));
}

TEST_CASE("gatewayapi: one HTTPRoute splitting by weight, valid against the v1.6.1 schema", "[routing]") {
  const Router& r = RouterRegistry::Builtin().Get("gatewayapi");
  auto ctx = Context();
  auto objects = r.Desired(ctx, {70, 30});
  const json& route = Find(objects, "HTTPRoute");
  CHECK(route["metadata"]["name"] == "podinfo");
  CHECK(route["metadata"]["ownerReferences"][0]["uid"] == "u-1");
  CHECK(route["spec"]["parentRefs"][0] == json({{"name", "public"}, {"namespace", "gateways"}}));
  CHECK(route["spec"]["hostnames"] == json({"app.example.com"}));
  const json& rule = route["spec"]["rules"][0];
  CHECK(rule["matches"][0]["path"] == json({{"type", "PathPrefix"}, {"value", "/"}}));
  CHECK(rule["backendRefs"][0]["name"] == "podinfo-primary");
  CHECK(rule["backendRefs"][0]["weight"] == 70);
  CHECK(rule["backendRefs"][1]["name"] == "podinfo-canary");
  CHECK(rule["backendRefs"][1]["weight"] == 30);
  CHECK(rule["timeouts"]["request"] == "15s");
  CHECK(rule["filters"][0]["type"] == "RequestHeaderModifier");
  RequireValid(route);
  CHECK(r.Read(ctx, objects) == Weights{70, 30});
  // The apex Service keeps selecting the primary pods.
  CHECK(Find(objects, "Service")["spec"]["selector"]["app"] == "podinfo-primary");
}

TEST_CASE("gatewayapi: A/B matches go to the canary in a rule of their own", "[routing]") {
  const Router& r = RouterRegistry::Builtin().Get("gatewayapi");
  auto ctx = Context();
  Weights ab{100, 0, true, false};
  auto objects = r.Desired(ctx, ab);
  const json& route = Find(objects, "HTTPRoute");
  const json& rules = route["spec"]["rules"];
  REQUIRE(rules.size() == 2);
  CHECK(rules[0]["matches"][0]["headers"][0] == json({{"type", "Exact"}, {"name", "x-canary"}, {"value", "insider"}}));
  CHECK(rules[0]["matches"][1]["headers"][0]["type"] == "RegularExpression");
  CHECK(rules[0]["matches"][2]["queryParams"][0]["name"] == "canary");
  CHECK(rules[0]["backendRefs"][1]["weight"] == 100);
  CHECK(rules[1]["backendRefs"][0]["weight"] == 100);
  RequireValid(route);
  CHECK(r.Read(ctx, objects) == ab);
}

TEST_CASE("gatewayapi: mirroring adds a RequestMirror filter with the mirror percentage", "[routing]") {
  const Router& r = RouterRegistry::Builtin().Get("gatewayapi");
  auto ctx = Context();
  auto objects = r.Desired(ctx, {100, 0, false, true});
  const json& route = Find(objects, "HTTPRoute");
  const json& filters = route["spec"]["rules"][0]["filters"];
  REQUIRE(filters.size() == 2);
  CHECK(filters[1]["type"] == "RequestMirror");
  CHECK(filters[1]["requestMirror"]["backendRef"]["name"] == "podinfo-canary");
  CHECK(filters[1]["requestMirror"]["percent"] == 20);
  RequireValid(route);
}

TEST_CASE("gatewayapi: a match the provider cannot express names the field", "[routing]") {
  const Router& r = RouterRegistry::Builtin().Get("gatewayapi");
  auto ctx = Context();
  ctx.canary["spec"]["analysis"]["match"] = json::parse(R"([{"headers": {"x-a": {"prefix": "v"}}}])");
  CHECK_THROWS_WITH(r.Desired(ctx, {100, 0, true, false}), Catch::Contains("spec.analysis.match[0].headers.x-a"));
}

TEST_CASE("kubernetes: blue/green switches the apex Service selector", "[routing]") {
  const Router& r = RouterRegistry::Builtin().Get("kubernetes");
  auto ctx = Context("kubernetes");
  auto before = r.Desired(ctx, {100, 0});
  REQUIRE(before.size() == 1);
  CHECK(before[0]["spec"]["selector"]["app"] == "podinfo-primary");
  CHECK(before[0]["spec"]["ports"][0]["targetPort"] == "http");
  CHECK(r.Read(ctx, before) == Weights{100, 0});
  auto after = r.Desired(ctx, {0, 100});
  CHECK(after[0]["spec"]["selector"]["app"] == "podinfo");
  CHECK(r.Read(ctx, after) == Weights{0, 100});
  CHECK(r.Revert(ctx)[0]["spec"]["selector"]["app"] == "podinfo");
}
