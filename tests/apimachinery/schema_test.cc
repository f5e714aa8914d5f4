#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>

#include "crd_fixtures.h"
#include "apimachinery/schema.h"
#include "apimachinery/schema_internal.h"

namespace sluice::apimachinery {
namespace {

using nlohmann::json;

std::string Describe(const std::vector<core::StatusCause>& causes) {
  std::string out;
  for (const auto& c : causes) out += "[" + c.reason + "] " + c.field + ": " + c.message + "\n";
  return out;
}

const core::StatusCause* Find(const std::vector<core::StatusCause>& causes, const std::string& field) {
  for (const auto& c : causes)
    if (c.field == field) return &c;
  return nullptr;
}

// The real CRDs are large; parse each once per test binary.
const StructuralSchema* CrdSchema(const std::string& file, const std::string& version) {
  static std::map<std::string, std::unique_ptr<StructuralSchema>> cache;
  auto dir = testing::CrdDir();
  if (!dir) return nullptr;
  auto& slot = cache[file + "@" + version];
  if (!slot) {
    json crd = testing::LoadCrd(*dir, file);
    slot = std::make_unique<StructuralSchema>(testing::CrdVersion(crd, version)["schema"]["openAPIV3Schema"]);
  }
  return slot.get();
}

const StructuralSchema* HttpRouteSchema() { return CrdSchema("gateway-api-v1.6.1-httproutes.yaml", "v1"); }
const StructuralSchema* VirtualServiceSchema() { return CrdSchema("istio-1.30.3-virtualservices.yaml", "v1"); }

json ValidRoute() {
  return json::parse(R"({
    "apiVersion": "gateway.networking.k8s.io/v1",
    "kind": "HTTPRoute",
    "metadata": {"name": "podinfo", "namespace": "test", "labels": {"app": "podinfo"}},
    "spec": {
      "parentRefs": [{"name": "gateway", "namespace": "istio-ingress"}],
      "hostnames": ["app.example.com"],
      "rules": [{
        "matches": [{"path": {"type": "PathPrefix", "value": "/api"},
                     "headers": [{"name": "x-canary", "value": "always"}]}],
        "backendRefs": [
          {"name": "podinfo-primary", "port": 9898, "weight": 90},
          {"name": "podinfo-canary", "port": 9898, "weight": 10}
        ]
      }]
    }
  })");
}

#define REQUIRE_SCHEMA(var, getter)             \
  const StructuralSchema* var = getter();       \
  if (!var) {                                   \
    WARN(testing::kNoCrdDirMessage);            \
    return;                                     \
  }

TEST_CASE("HTTPRoute: a valid route passes the real Gateway API schema", "[schema][crd]") {
  REQUIRE_SCHEMA(schema, HttpRouteSchema);
  json route = ValidRoute();
  schema->ApplyDefaults(route);
  auto causes = schema->Validate(route);
  INFO(Describe(causes));
  CHECK(causes.empty());
}

TEST_CASE("HTTPRoute: a backend weight above the maximum is refused with its field path", "[schema][crd]") {
  REQUIRE_SCHEMA(schema, HttpRouteSchema);
  json route = ValidRoute();
  route["spec"]["rules"][0]["backendRefs"][0]["weight"] = 2000000;
  auto causes = schema->Validate(route);
  INFO(Describe(causes));
  REQUIRE(causes.size() == 1);
  CHECK(causes[0].reason == "FieldValueInvalid");
  CHECK(causes[0].field == "spec.rules[0].backendRefs[0].weight");
  // Go prints the float64 limit 1000000 with %v, hence 1e+06 as in a real API server.
  CHECK(causes[0].message ==
        "Invalid value: 2000000: spec.rules[0].backendRefs[0].weight in body should be less than or equal to 1e+06");
}

TEST_CASE("HTTPRoute: a negative weight is under the minimum", "[schema][crd]") {
  REQUIRE_SCHEMA(schema, HttpRouteSchema);
  json route = ValidRoute();
  route["spec"]["rules"][0]["backendRefs"][1]["weight"] = -1;
  auto causes = schema->Validate(route);
  INFO(Describe(causes));
  const auto* c = Find(causes, "spec.rules[0].backendRefs[1].weight");
  REQUIRE(c);
  CHECK(c->message == "Invalid value: -1: spec.rules[0].backendRefs[1].weight in body should be greater than or equal to 0");
}

TEST_CASE("HTTPRoute: an unknown path match type is an unsupported value", "[schema][crd]") {
  REQUIRE_SCHEMA(schema, HttpRouteSchema);
  json route = ValidRoute();
  route["spec"]["rules"][0]["matches"][0]["path"]["type"] = "Glob";
  auto causes = schema->Validate(route);
  INFO(Describe(causes));
  const auto* c = Find(causes, "spec.rules[0].matches[0].path.type");
  REQUIRE(c);
  CHECK(c->reason == "FieldValueNotSupported");
  CHECK(c->message == R"(Unsupported value: "Glob": supported values: "Exact", "PathPrefix", "RegularExpression")");
}

TEST_CASE("HTTPRoute: a backendRef without a name is missing a required value", "[schema][crd]") {
  REQUIRE_SCHEMA(schema, HttpRouteSchema);
  json route = ValidRoute();
  route["spec"]["rules"][0]["backendRefs"][1].erase("name");
  auto causes = schema->Validate(route);
  INFO(Describe(causes));
  const auto* c = Find(causes, "spec.rules[0].backendRefs[1].name");
  REQUIRE(c);
  CHECK(c->reason == "FieldValueRequired");
  CHECK(c->message == "Required value");
}

TEST_CASE("HTTPRoute: a string where an integer belongs is a type error", "[schema][crd]") {
  REQUIRE_SCHEMA(schema, HttpRouteSchema);
  json route = ValidRoute();
  route["spec"]["rules"][0]["backendRefs"][0]["weight"] = "heavy";
  auto causes = schema->Validate(route);
  INFO(Describe(causes));
  const auto* c = Find(causes, "spec.rules[0].backendRefs[0].weight");
  REQUIRE(c);
  CHECK(c->reason == "FieldValueTypeInvalid");
  CHECK(c->message ==
        R"(Invalid value: "string": spec.rules[0].backendRefs[0].weight in body must be of type integer: "string")");
}

TEST_CASE("HTTPRoute: hostnames are checked against their pattern, length and count", "[schema][crd]") {
  REQUIRE_SCHEMA(schema, HttpRouteSchema);
  json route = ValidRoute();
  route["spec"]["hostnames"] = {"Bad_Host.example.com", std::string(254, 'a')};
  auto causes = schema->Validate(route);
  INFO(Describe(causes));
  const auto* bad = Find(causes, "spec.hostnames[0]");
  REQUIRE(bad);
  CHECK(bad->reason == "FieldValueInvalid");
  CHECK(bad->message.rfind(R"(Invalid value: "Bad_Host.example.com": spec.hostnames[0] in body should match '^(\*\.)?[a-z0-9])", 0) == 0);
  const auto* long_host = Find(causes, "spec.hostnames[1]");
  REQUIRE(long_host);
  CHECK(long_host->reason == "FieldValueTooLong");
  CHECK(long_host->message == "Too long: may not be more than 253 bytes");

  json many = ValidRoute();
  many["spec"]["hostnames"] = json::array();
  for (int i = 0; i < 17; ++i) many["spec"]["hostnames"].push_back("h" + std::to_string(i) + ".example.com");
  auto too_many = schema->Validate(many);
  INFO(Describe(too_many));
  const auto* c = Find(too_many, "spec.hostnames");
  REQUIRE(c);
  CHECK(c->reason == "FieldValueTooMany");
  CHECK(c->message == "Too many: 17: must have at most 16 items");
}

TEST_CASE("HTTPRoute: duplicate header matches break the list-map keys", "[schema][crd]") {
  REQUIRE_SCHEMA(schema, HttpRouteSchema);
  json route = ValidRoute();
  route["spec"]["rules"][0]["matches"][0]["headers"].push_back({{"name", "x-canary"}, {"value", "never"}});
  auto causes = schema->Validate(route);
  INFO(Describe(causes));
  const auto* c = Find(causes, "spec.rules[0].matches[0].headers[1]");
  REQUIRE(c);
  CHECK(c->reason == "FieldValueDuplicate");
  CHECK(c->message == R"(Duplicate value: map[string]interface {}{"name":"x-canary"})");
}

TEST_CASE("HTTPRoute: defaults fill parentRefs, rules, matches and backendRefs", "[schema][crd]") {
  REQUIRE_SCHEMA(schema, HttpRouteSchema);
  json route = json::parse(R"({
    "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
    "metadata": {"name": "r", "namespace": "test"},
    "spec": {"parentRefs": [{"name": "gateway"}]}
  })");
  schema->ApplyDefaults(route);
  CHECK(route["spec"]["parentRefs"][0]["group"] == "gateway.networking.k8s.io");
  CHECK(route["spec"]["parentRefs"][0]["kind"] == "Gateway");
  REQUIRE(route["spec"]["rules"].size() == 1);
  CHECK(route["spec"]["rules"][0]["matches"] == json::parse(R"([{"path":{"type":"PathPrefix","value":"/"}}])"));

  json with_backend = json::parse(R"({
    "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
    "metadata": {"name": "r"},
    "spec": {"rules": [{"backendRefs": [{"name": "svc", "port": 80}],
                        "matches": [{"headers": [{"name": "x", "value": "y"}]}]}]}
  })");
  schema->ApplyDefaults(with_backend);
  const json& rule = with_backend["spec"]["rules"][0];
  CHECK(rule["backendRefs"][0]["weight"] == 1);
  CHECK(rule["backendRefs"][0]["kind"] == "Service");
  CHECK(rule["backendRefs"][0]["group"] == "");
  // A match that names only headers still gets the default path, and the header match type.
  CHECK(rule["matches"][0]["path"] == json::parse(R"({"type":"PathPrefix","value":"/"})"));
  CHECK(rule["matches"][0]["headers"][0]["type"] == "Exact");
  // No parentRefs were given, and parentRefs has no default: it is not invented.
  CHECK_FALSE(with_backend["spec"].contains("parentRefs"));
  auto causes = schema->Validate(with_backend);
  INFO(Describe(causes));
  CHECK(causes.empty());
}

TEST_CASE("HTTPRoute: unknown fields are pruned and reported, metadata survives", "[schema][crd]") {
  REQUIRE_SCHEMA(schema, HttpRouteSchema);
  json route = ValidRoute();
  route["spec"]["rules"][0]["backendRefs"][0]["bogus"] = true;
  route["spec"]["extra"] = {{"a", 1}};
  route["topLevel"] = "x";
  auto dropped = schema->Prune(route);
  std::sort(dropped.begin(), dropped.end());
  CHECK(dropped == std::vector<std::string>{"spec.extra", "spec.rules[0].backendRefs[0].bogus", "topLevel"});
  CHECK_FALSE(route["spec"].contains("extra"));
  CHECK_FALSE(route["spec"]["rules"][0]["backendRefs"][0].contains("bogus"));
  CHECK(route["metadata"]["labels"]["app"] == "podinfo");
  CHECK(route["kind"] == "HTTPRoute");
  CHECK(route["spec"]["rules"][0]["backendRefs"][0]["weight"] == 90);
}

TEST_CASE("HTTPRoute: list semantics come from x-kubernetes-list-type", "[schema][crd]") {
  REQUIRE_SCHEMA(schema, HttpRouteSchema);
  auto semantics = schema->ListSemanticsOf();
  auto headers = semantics({"spec", "rules", "matches", "headers"});
  CHECK(headers.type == ListSemantics::Type::kMap);
  CHECK(headers.keys == std::vector<std::string>{"name"});
  CHECK(semantics({"spec", "hostnames"}).type == ListSemantics::Type::kAtomic);
  CHECK(semantics({"spec", "rules", "filters", "cors", "allowMethods"}).type == ListSemantics::Type::kSet);
  CHECK(semantics({"spec", "no", "such", "list"}).type == ListSemantics::Type::kAtomic);
}

// Collects the JSON pointer of every value in `v`.
void Pointers(const json& v, const json::json_pointer& at, std::vector<json::json_pointer>& out) {
  out.push_back(at);
  if (v.is_object())
    for (auto it = v.begin(); it != v.end(); ++it) Pointers(it.value(), at / it.key(), out);
  else if (v.is_array())
    for (size_t i = 0; i < v.size(); ++i) Pointers(v[i], at / i, out);
}

TEST_CASE("HTTPRoute: mangled routes are answered with causes, never a crash", "[schema][crd]") {
  REQUIRE_SCHEMA(schema, HttpRouteSchema);
  const json replacements = json::array({nullptr, 1.5, -7, "x", json::array(), json::object(), true,
                                         std::string(5000, 'a'), 9223372036854775807LL, json::array({1, "a", nullptr})});
  std::mt19937 rng(7);
  int refused = 0;
  for (int round = 0; round < 400; ++round) {
    json route = ValidRoute();
    std::vector<json::json_pointer> pointers;
    Pointers(route, json::json_pointer(), pointers);
    const auto& target = pointers[rng() % pointers.size()];
    if (target.empty()) continue;
    route[target] = replacements[rng() % replacements.size()];
    INFO(target.to_string() << " = " << route[target].dump().substr(0, 80));
    REQUIRE_NOTHROW(schema->Prune(route));
    REQUIRE_NOTHROW(schema->ApplyDefaults(route));
    std::vector<core::StatusCause> causes;
    REQUIRE_NOTHROW(causes = schema->Validate(route));
    for (const auto& c : causes) {
      CHECK_FALSE(c.reason.empty());
      CHECK_FALSE(c.message.empty());
      CHECK_FALSE(c.field.empty());
    }
    if (!causes.empty()) ++refused;
  }
  CHECK(refused > 100);  // most mutations break the schema somewhere
  for (const json& odd : {json(nullptr), json::array({1}), json("text"), json(3)}) {
    json copy = odd;
    CHECK_NOTHROW(schema->Prune(copy));
    CHECK_NOTHROW(schema->ApplyDefaults(copy));
    CHECK_FALSE(schema->Validate(copy).empty());
  }
}

json ValidVirtualService() {
  return json::parse(R"({
    "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
    "metadata": {"name": "podinfo", "namespace": "test"},
    "spec": {
      "hosts": ["podinfo.test.svc.cluster.local"],
      "gateways": ["mesh"],
      "http": [{
        "match": [{"headers": {"x-canary": {"exact": "insider"}}, "uri": {"prefix": "/api"}}],
        "route": [
          {"destination": {"host": "podinfo-primary", "port": {"number": 9898}}, "weight": 95},
          {"destination": {"host": "podinfo-canary", "port": {"number": 9898}}, "weight": 5}
        ],
        "retries": {"attempts": 3, "perTryTimeout": "1s"},
        "timeout": "30s"
      }]
    },
    "status": {"observedGeneration": 3, "somethingIstioAdds": {"nested": [1, 2]}}
  })");
}

TEST_CASE("VirtualService: a canary route passes the real Istio schema", "[schema][crd]") {
  REQUIRE_SCHEMA(schema, VirtualServiceSchema);
  json vs = ValidVirtualService();
  auto dropped = schema->Prune(vs);
  CHECK(dropped.empty());
  CHECK(vs["status"]["somethingIstioAdds"]["nested"] == json::array({1, 2}));  // preserve-unknown-fields
  schema->ApplyDefaults(vs);
  auto causes = schema->Validate(vs);
  INFO(Describe(causes));
  CHECK(causes.empty());
}

TEST_CASE("VirtualService: oneOf alternatives and large maximums are enforced", "[schema][crd]") {
  REQUIRE_SCHEMA(schema, VirtualServiceSchema);
  json vs = ValidVirtualService();
  vs["spec"]["http"][0]["match"][0]["uri"] = {{"prefix", "/api"}, {"exact", "/api"}};
  auto causes = schema->Validate(vs);
  INFO(Describe(causes));
  REQUIRE(causes.size() == 1);
  CHECK(causes[0].field == "<nil>");
  CHECK(causes[0].message ==
        R"(Invalid value: "": "spec.http[0].match[0].uri" must validate one and only one schema (oneOf). Found 2 valid alternatives)");

  json port = ValidVirtualService();
  port["spec"]["http"][0]["route"][0]["destination"]["port"]["number"] = 5000000000LL;
  auto port_causes = schema->Validate(port);
  INFO(Describe(port_causes));
  const auto* c = Find(port_causes, "spec.http[0].route[0].destination.port.number");
  REQUIRE(c);
  CHECK(c->message == "Invalid value: 5000000000: spec.http[0].route[0].destination.port.number in body should be "
                      "less than or equal to 4.294967295e+09");

  json unknown = ValidVirtualService();
  unknown["spec"]["http"][0]["fancy"] = 1;
  CHECK(schema->Prune(unknown) == std::vector<std::string>{"spec.http[0].fancy"});
}

void CollectUncompiled(const schema_internal::Node& n, const std::string& where, std::vector<std::string>& out) {
  if (!n.pattern.empty() && !n.regex) out.push_back(where + ": " + n.pattern);
  for (const auto& [name, child] : n.properties) CollectUncompiled(*child, where + "." + name, out);
  if (n.items) CollectUncompiled(*n.items, where + "[]", out);
  if (n.additional) CollectUncompiled(*n.additional, where + "{}", out);
  for (const auto* branches : {&n.all_of, &n.any_of, &n.one_of})
    for (const auto& b : *branches) CollectUncompiled(*b, where + "|", out);
  if (n.not_schema) CollectUncompiled(*n.not_schema, where + "!", out);
}

TEST_CASE("schema: every version of every fixture and project CRD loads, and all patterns compile", "[schema][crd]") {
  auto dir = testing::CrdDir();
  if (!dir) {
    WARN(testing::kNoCrdDirMessage);
    return;
  }
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(*dir)) files.push_back(entry.path());
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(SLUICE_SOURCE_DIR) / "crds"))
    files.push_back(entry.path());
  REQUIRE(files.size() >= 7);
  int versions = 0;
  for (const auto& file : files) {
    if (file.extension() != ".yaml") continue;
    json crd = testing::LoadCrd(file.parent_path(), file.filename().string());
    for (const auto& version : crd["spec"]["versions"]) {
      INFO(file.filename().string() << " " << version["name"]);
      const json& open_api = version["schema"]["openAPIV3Schema"];
      REQUIRE_NOTHROW(StructuralSchema(open_api));
      std::vector<std::string> uncompiled;
      CollectUncompiled(*schema_internal::ParseNode(open_api, "openAPIV3Schema"), "", uncompiled);
      std::string list;
      for (const auto& u : uncompiled) list += u + "\n";
      INFO(list);
      CHECK(uncompiled.empty());
      ++versions;
    }
  }
  CHECK(versions >= 12);
}

// ---- synthetic schemas for the rules the real CRDs exercise little ----

StructuralSchema Make(const char* spec_schema) {
  json root = {{"type", "object"}, {"properties", {{"spec", json::parse(spec_schema)}}}};
  return StructuralSchema(root);
}

TEST_CASE("schema: nullable, int-or-string and integral floats", "[schema]") {
  auto s = Make(R"({"type":"object","properties":{
      "n": {"type":"string","nullable":true},
      "m": {"type":"string"},
      "port": {"x-kubernetes-int-or-string": true},
      "count": {"type":"integer"},
      "ratio": {"type":"number"}}})");
  CHECK(s.Validate({{"spec", {{"n", nullptr}, {"port", "http"}, {"count", 3.0}, {"ratio", 2}}}}).empty());
  CHECK(s.Validate({{"spec", {{"port", 8080}}}}).empty());
  auto causes = s.Validate({{"spec", {{"m", nullptr}, {"port", true}, {"count", 1.5}}}});
  INFO(Describe(causes));
  REQUIRE(causes.size() == 3);
  CHECK(Find(causes, "spec.m")->message == R"(Invalid value: "null": spec.m in body must be of type string: "null")");
  CHECK(Find(causes, "spec.port")->message ==
        R"(Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean")");
  CHECK(Find(causes, "spec.count")->message ==
        R"(Invalid value: "number": spec.count in body must be of type integer: "number")");
}

TEST_CASE("schema: numeric, string, array and object limits", "[schema]") {
  auto s = Make(R"({"type":"object","properties":{
      "pct": {"type":"number","minimum":0,"exclusiveMinimum":true,"maximum":100,"exclusiveMaximum":true},
      "step": {"type":"integer","multipleOf":5},
      "name": {"type":"string","minLength":2,"maxLength":4},
      "tags": {"type":"array","items":{"type":"string"},"minItems":1,"uniqueItems":true},
      "labels": {"type":"object","additionalProperties":{"type":"string","maxLength":3},"minProperties":1,"maxProperties":2}
    }})");
  CHECK(s.Validate({{"spec", {{"pct", 50.5}, {"step", 10}, {"name", "abc"}, {"tags", {"a"}}, {"labels", {{"a", "b"}}}}}})
            .empty());
  auto causes = s.Validate(
      {{"spec", {{"pct", 100}, {"step", 7}, {"name", "a"}, {"tags", {"a", "a"}}, {"labels", {{"a", "long"}}}}}});
  INFO(Describe(causes));
  CHECK(Find(causes, "spec.pct")->message == "Invalid value: 100: spec.pct in body should be less than 100");
  CHECK(Find(causes, "spec.step")->message == "Invalid value: 7: spec.step in body should be a multiple of 5");
  CHECK(Find(causes, "spec.name")->message == R"(Invalid value: "a": spec.name in body should be at least 2 chars long)");
  CHECK(Find(causes, "spec.tags")->message == R"(Invalid value: "": spec.tags in body shouldn't contain duplicates)");
  CHECK(Find(causes, "spec.labels.a")->reason == "FieldValueTooLong");

  auto zero = s.Validate({{"spec", {{"pct", 0}, {"tags", json::array()}, {"labels", json::object()}}}});
  INFO(Describe(zero));
  CHECK(Find(zero, "spec.pct")->message == "Invalid value: 0: spec.pct in body should be greater than 0");
  CHECK(Find(zero, "spec.tags")->message == "Invalid value: 0: spec.tags in body should have at least 1 items");
  CHECK(Find(zero, "spec.labels")->message == "Invalid value: 0: spec.labels in body should have at least 1 properties");
  auto many = s.Validate({{"spec", {{"labels", {{"a", "1"}, {"b", "2"}, {"c", "3"}}}}}});
  CHECK(Find(many, "spec.labels")->message == "Too many: 3: must have at most 2 items");
}

TEST_CASE("schema: additionalProperties false forbids unknown keys", "[schema]") {
  auto s = Make(R"({"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false})");
  CHECK(s.Validate({{"spec", {{"a", "x"}}}}).empty());
  auto causes = s.Validate({{"spec", {{"a", "x"}, {"b", 1}}}});
  REQUIRE(causes.size() == 1);
  CHECK(causes[0].field == "spec");
  CHECK(causes[0].message == R"(Invalid value: "b": spec.b in body is a forbidden property)");
}

TEST_CASE("schema: formats the API server checks", "[schema]") {
  auto s = Make(R"({"type":"object","properties":{
      "when": {"type":"string","format":"date-time"},
      "ip": {"type":"string","format":"ipv4"},
      "ip6": {"type":"string","format":"ipv6"},
      "host": {"type":"string","format":"hostname"},
      "n": {"type":"integer","format":"int32"}}})");
  CHECK(s.Validate({{"spec", {{"when", "2026-11-26T04:01:49Z"}, {"ip", "10.0.0.1"}, {"ip6", "fd00::1"},
                              {"host", "a.example.com"}, {"n", 7}}}})
            .empty());
  auto causes = s.Validate({{"spec", {{"when", "yesterday"}, {"ip", "10.0.0.256"}, {"ip6", "fd00:::1"}, {"host", "-x"}}}});
  INFO(Describe(causes));
  REQUIRE(causes.size() == 4);
  CHECK(Find(causes, "spec.when")->reason == "FieldValueTypeInvalid");
  CHECK(Find(causes, "spec.when")->message ==
        R"(Invalid value: "yesterday": spec.when in body must be of type date-time: "yesterday")");
  CHECK(Find(causes, "spec.ip")->message == R"(Invalid value: "10.0.0.256": spec.ip in body must be of type ipv4: "10.0.0.256")");
  CHECK(Find(causes, "spec.ip6"));
  CHECK(Find(causes, "spec.host"));
}

TEST_CASE("schema: long values in unbounded formats are checked without recursion (found with fuzz_schema)",
          "[schema][fuzz]") {
  // std::regex took a stack frame or more per character: 60 KB in a format: byte field
  // overflowed the emulator's stack.
  auto s = Make(R"({"type":"object","properties":{
      "data": {"type":"string","format":"byte"},
      "link": {"type":"string","format":"uri"},
      "mail": {"type":"string","format":"email"},
      "when": {"type":"string","format":"date-time"}}})");
  std::string base64;
  for (int i = 0; i < 15000; ++i) base64 += "QUFB";
  CHECK(s.Validate({{"spec", {{"data", base64 + "QQ=="}, {"link", "https://x/" + base64}, {"mail", base64 + "@x"},
                              {"when", "2026-11-26T04:01:49." + std::string(60000, '1') + "Z"}}}})
            .empty());
  auto causes = s.Validate({{"spec", {{"data", base64 + "Q==="}, {"link", base64 + " x"}, {"mail", base64},
                                      {"when", "2026-11-26T04:01:49." + std::string(60000, '1')}}}});
  INFO(Describe(causes));
  CHECK(causes.size() == 4);
  CHECK(s.Validate({{"spec", {{"data", "QUJD"}, {"link", "/p"}, {"mail", "a@b"}, {"when", "2026-11-26 04:01:49+01:00"}}}})
            .empty());
}

TEST_CASE("schema: a pattern std::regex cannot compile is skipped, not fatal", "[schema]") {
  auto s = Make(R"({"type":"object","properties":{"x": {"type":"string","pattern":"(?i)^abc$"},
                                                   "y": {"type":"string","pattern":"^[a-z]+$"}}})");
  CHECK(s.Validate({{"spec", {{"x", "anything at all"}, {"y", "abc"}}}}).empty());
  auto causes = s.Validate({{"spec", {{"y", "ABC"}}}});
  REQUIRE(causes.size() == 1);
  CHECK(causes[0].message == R"(Invalid value: "ABC": spec.y in body should match '^[a-z]+$')");
}

TEST_CASE("schema: allOf, anyOf and not", "[schema]") {
  auto s = Make(R"({"type":"object",
      "properties":{"a":{"type":"string"},"b":{"type":"string"}},
      "anyOf":[{"required":["a"]},{"required":["b"]}],
      "not":{"required":["forbidden"]},
      "allOf":[{"properties":{"a":{"maxLength":3}}}]})");
  CHECK(s.Validate({{"spec", {{"a", "x"}}}}).empty());
  auto none = s.Validate({{"spec", json::object()}});
  INFO(Describe(none));
  CHECK(none[0].message == R"(Invalid value: "": "spec" must validate at least one schema (anyOf))");
  CHECK(Find(none, "spec.a")->reason == "FieldValueRequired");
  auto forbidden = s.Validate({{"spec", {{"b", "x"}, {"forbidden", 1}}}});
  INFO(Describe(forbidden));
  REQUIRE(forbidden.size() == 1);
  CHECK(forbidden[0].message == R"(Invalid value: "": "spec" must not validate the schema (not))");
  auto all = s.Validate({{"spec", {{"a", "toolong"}}}});
  INFO(Describe(all));
  CHECK(Find(all, "spec.a"));
  CHECK(Find(all, "<nil>")->message == R"(Invalid value: "": "spec" must validate all the schemas (allOf). None validated)");
}

TEST_CASE("schema: list-type set duplicates", "[schema]") {
  auto s = Make(R"({"type":"object","properties":{"s":{"type":"array","items":{"type":"string"},
                                                       "x-kubernetes-list-type":"set"}}})");
  auto causes = s.Validate({{"spec", {{"s", {"a", "b", "a", "a"}}}}});
  REQUIRE(causes.size() == 1);  // the third "a" is not reported again
  CHECK(causes[0].reason == "FieldValueDuplicate");
  CHECK(causes[0].field == "spec.s[2]");
  CHECK(causes[0].message == R"(Duplicate value: "a")");
}

TEST_CASE("schema: list-type map keys, missing keys and nested maps", "[schema]") {
  auto s = Make(R"({"type":"object","properties":{
      "ports": {"type":"array","x-kubernetes-list-type":"map","x-kubernetes-list-map-keys":["port","protocol"],
                "items":{"type":"object","properties":{"port":{"type":"integer"},"protocol":{"type":"string"}}}},
      "byName": {"type":"object","additionalProperties":{"type":"array","x-kubernetes-list-type":"map",
                 "x-kubernetes-list-map-keys":["name"],
                 "items":{"type":"object","properties":{"name":{"type":"string"}}}}}}})");
  auto causes = s.Validate(json::parse(R"({"spec":{
      "ports":[{"port":80,"protocol":"TCP"},{"port":80,"protocol":"UDP"},{"protocol":"TCP","port":80}],
      "byName":{"k":[{"name":"a"},{},{"name":"a"},{}]}}})"));
  INFO(Describe(causes));
  REQUIRE(causes.size() == 3);
  CHECK(Find(causes, "spec.ports[2]")->message == R"(Duplicate value: map[string]interface {}{"port":80, "protocol":"TCP"})");
  CHECK(Find(causes, "spec.byName[k][2]")->message == R"(Duplicate value: map[string]interface {}{"name":"a"})");
  CHECK(Find(causes, "spec.byName[k][3]")->message == "Duplicate value: map[string]interface {}{}");
  auto not_objects = s.Validate(json::parse(R"({"spec":{"ports":[1]}})"));
  REQUIRE(not_objects.size() == 2);  // the item type error, then the list-map check
  CHECK(not_objects[1].field == "spec.ports[0]");
  CHECK(not_objects[1].message == "Invalid value: 1: must be an object for an array of list-type map");
}

TEST_CASE("schema: defaults reach array items and map values but do not invent parents", "[schema]") {
  auto s = Make(R"({"type":"object","properties":{
      "opt": {"type":"object","properties":{"x":{"type":"integer","default":1}}},
      "withDefault": {"type":"object","default":{},"properties":{"y":{"type":"string","default":"z"}}},
      "list": {"type":"array","items":{"type":"object","properties":{"w":{"type":"integer","default":7}}}},
      "map": {"type":"object","additionalProperties":{"type":"object","properties":{"v":{"type":"boolean","default":true}}}},
      "strings": {"type":"object","additionalProperties":{"type":"string"}},
      "gone": {"type":"string"},
      "kept": {"type":"string","nullable":true}}})");
  json obj = {{"spec", {{"list", {json::object(), {{"w", 2}}}}, {"map", {{"k", json::object()}}}, {"gone", nullptr},
                        {"kept", nullptr}, {"strings", {{"a", "x"}, {"b", nullptr}}}}}};
  s.ApplyDefaults(obj);
  CHECK_FALSE(obj["spec"].contains("opt"));
  CHECK(obj["spec"]["withDefault"] == json({{"y", "z"}}));
  CHECK(obj["spec"]["list"] == json::parse(R"([{"w":7},{"w":2}])"));
  CHECK(obj["spec"]["map"]["k"]["v"] == true);
  CHECK_FALSE(obj["spec"].contains("gone"));  // a non-nullable null without a default is dropped
  CHECK(obj["spec"]["kept"].is_null());
  CHECK(obj["spec"]["strings"] == json({{"a", "x"}}));
}

TEST_CASE("schema: pruning honours preserve-unknown-fields and embedded resources", "[schema]") {
  auto s = Make(R"({"type":"object","properties":{
      "free": {"type":"object","x-kubernetes-preserve-unknown-fields":true,
               "properties":{"typed":{"type":"object","properties":{"a":{"type":"string"}}}}},
      "template": {"type":"object","x-kubernetes-embedded-resource":true,
                   "properties":{"spec":{"type":"object","properties":{"replicas":{"type":"integer"}}}}}}})");
  json obj = json::parse(R"({"apiVersion":"x/v1","kind":"K","metadata":{"name":"n","anything":1},
      "spec":{"free":{"whatever":{"deep":true},"typed":{"a":"1","b":"2"}},
              "template":{"apiVersion":"v1","kind":"Pod","metadata":{"labels":{"a":"b"}},
                          "spec":{"replicas":1,"junk":2},"other":3}}})");
  auto dropped = s.Prune(obj);
  std::sort(dropped.begin(), dropped.end());
  CHECK(dropped == std::vector<std::string>{"spec.free.typed.b", "spec.template.other", "spec.template.spec.junk"});
  CHECK(obj["spec"]["free"]["whatever"]["deep"] == true);
  CHECK(obj["spec"]["template"]["metadata"]["labels"]["a"] == "b");
  CHECK(obj["spec"]["template"]["kind"] == "Pod");
  CHECK(obj["metadata"]["anything"] == 1);

  json no_kind = {{"spec", {{"template", {{"apiVersion", "v1"}}}}}};
  auto causes = s.Validate(no_kind);
  REQUIRE(causes.size() == 1);
  CHECK(causes[0].field == "spec.template.kind");
  CHECK(causes[0].message == "Required value: must not be empty");
}

TEST_CASE("schema: apiVersion, kind and metadata at the root are left to the server", "[schema]") {
  StructuralSchema s(json::parse(R"({"type":"object","required":["spec"],"properties":{
      "metadata":{"type":"object","properties":{"name":{"type":"string","maxLength":3}}},
      "spec":{"type":"object"}}})"));
  auto causes = s.Validate({{"apiVersion", 5}, {"metadata", {{"name", "much-too-long"}}}});
  INFO(Describe(causes));
  REQUIRE(causes.size() == 1);
  CHECK(causes[0].field == "spec");
  CHECK(causes[0].reason == "FieldValueRequired");
}

TEST_CASE("schema: an unusable schema is refused naming where", "[schema]") {
  CHECK_THROWS_WITH(StructuralSchema(json::parse(R"({"type":"object","properties":{"spec":{"type":"strnig"}}})")),
                    Catch::Contains("openAPIV3Schema.properties[spec].type") && Catch::Contains("strnig"));
  CHECK_THROWS_WITH(StructuralSchema(json::parse(R"({"properties":{"a":{"maxLength":"ten"}}})")),
                    Catch::Contains("openAPIV3Schema.properties[a].maxLength"));
  CHECK_THROWS_AS(StructuralSchema(json::parse(R"({"properties":{"a":{"type":"array","x-kubernetes-list-type":"map"}}})")),
                  std::invalid_argument);
}

TEST_CASE("schema: Go value printing matches the API server", "[schema]") {
  using schema_internal::GoFloat;
  using schema_internal::GoValue;
  CHECK(GoFloat(1000000) == "1e+06");
  CHECK(GoFloat(100000) == "100000");
  CHECK(GoFloat(0.5) == "0.5");
  CHECK(GoFloat(0.0001) == "0.0001");
  CHECK(GoFloat(0.00001) == "1e-05");
  CHECK(GoFloat(4294967295.0) == "4.294967295e+09");
  CHECK(GoFloat(-2.5) == "-2.5");
  CHECK(GoValue("a\"b\n") == R"("a\"b\n")");
  CHECK(GoValue(json::parse(R"({"b":[1,"x"],"a":null})")) ==
        R"(map[string]interface {}{"a":interface {}(nil), "b":[]interface {}{1, "x"}})");
}

}  // namespace
}  // namespace sluice::apimachinery
