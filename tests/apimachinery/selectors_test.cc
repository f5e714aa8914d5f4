#include <catch2/catch.hpp>

#include <random>

#include "apimachinery/selectors.h"

namespace sluice::apimachinery {
namespace {

using nlohmann::json;

const json kWeb = {{"app", "web"}, {"tier", "frontend"}, {"env", "prod"}, {"replicas", "3"}};

bool Sel(const std::string& text, const json& labels = kWeb) { return LabelSelector::Parse(text).Matches(labels); }

TEST_CASE("label selector: equality operators", "[selectors]") {
  CHECK(Sel("app=web"));
  CHECK(Sel("app==web"));
  CHECK_FALSE(Sel("app=api"));
  CHECK(Sel("app!=api"));
  CHECK_FALSE(Sel("app!=web"));
  CHECK(Sel("missing!=x"));  // != also matches objects without the label
  CHECK_FALSE(Sel("missing=x"));
  CHECK(Sel("app=web,tier=frontend"));
  CHECK_FALSE(Sel("app=web,tier=backend"));
  CHECK(Sel("app=", {{"app", ""}}));
  CHECK_FALSE(Sel("app=", kWeb));
}

TEST_CASE("label selector: set operators and existence", "[selectors]") {
  CHECK(Sel("env in (prod,staging)"));
  CHECK_FALSE(Sel("env in (dev,staging)"));
  CHECK(Sel("env notin (dev,staging)"));
  CHECK_FALSE(Sel("env notin (prod)"));
  CHECK(Sel("missing notin (a)"));
  CHECK_FALSE(Sel("missing in (a)"));
  CHECK(Sel("tier"));
  CHECK_FALSE(Sel("missing"));
  CHECK(Sel("!missing"));
  CHECK_FALSE(Sel("!tier"));
  CHECK(Sel("replicas>2"));
  CHECK_FALSE(Sel("replicas<3"));
  CHECK_FALSE(Sel("app>1"));  // not a number: never greater
}

TEST_CASE("label selector: whitespace is tolerated and empty selects all", "[selectors]") {
  CHECK(Sel("  app = web ,  env in ( prod , dev ) , ! legacy "));
  CHECK(LabelSelector::Parse("").Empty());
  CHECK(LabelSelector::Parse("   ").Matches(json::object()));
  CHECK(LabelSelector::Parse("").Matches(nullptr));
  CHECK_FALSE(LabelSelector::Parse("app").Matches(nullptr));
  CHECK(Sel("example.com/role=db", {{"example.com/role", "db"}}));
}

TEST_CASE("label selector: bad syntax names the position", "[selectors]") {
  CHECK_THROWS_WITH(LabelSelector::Parse("app in (a,b"), Catch::Contains("at position 11") && Catch::Contains("')'"));
  CHECK_THROWS_WITH(LabelSelector::Parse("app=web,"), Catch::Contains("at position 8") && Catch::Contains("label key"));
  CHECK_THROWS_WITH(LabelSelector::Parse("app within (a)"), Catch::Contains("at position 4"));
  CHECK_THROWS_WITH(LabelSelector::Parse("app in ()"), Catch::Contains("values set can't be empty"));
  CHECK_THROWS_WITH(LabelSelector::Parse("app in a"), Catch::Contains("'('"));
  CHECK_THROWS_WITH(LabelSelector::Parse("a=b c"), Catch::Contains("at position 4"));
  CHECK_THROWS_WITH(LabelSelector::Parse("-bad=x"), Catch::Contains("invalid label key \"-bad\""));
  CHECK_THROWS_WITH(LabelSelector::Parse("a=" + std::string(64, 'v')), Catch::Contains("invalid label value"));
  CHECK_THROWS_WITH(LabelSelector::Parse("n>abc"), Catch::Contains("an integer"));
  CHECK_THROWS_AS(LabelSelector::Parse("=x"), std::invalid_argument);
}

TEST_CASE("label selector: from a metav1.LabelSelector object", "[selectors]") {
  auto s = LabelSelector::FromObject(json::parse(R"({
    "matchLabels": {"app": "web"},
    "matchExpressions": [
      {"key": "env", "operator": "In", "values": ["prod", "staging"]},
      {"key": "tier", "operator": "NotIn", "values": ["db"]},
      {"key": "replicas", "operator": "Exists"},
      {"key": "legacy", "operator": "DoesNotExist"}
    ]})"));
  CHECK(s.Matches(kWeb));
  json changed = kWeb;
  changed["legacy"] = "yes";
  CHECK_FALSE(s.Matches(changed));
  changed = kWeb;
  changed["env"] = "dev";
  CHECK_FALSE(s.Matches(changed));
  changed = kWeb;
  changed.erase("replicas");
  CHECK_FALSE(s.Matches(changed));

  CHECK(LabelSelector::FromObject(json::object()).Matches(kWeb));      // {} selects everything
  CHECK_FALSE(LabelSelector::FromObject(nullptr).Matches(kWeb));       // null selects nothing
  CHECK_FALSE(LabelSelector::FromObject(nullptr).Matches(json::object()));
}

TEST_CASE("label selector: bad selector objects are refused clearly", "[selectors]") {
  CHECK_THROWS_WITH(LabelSelector::FromObject(json::parse(R"({"matchExpressions":[{"key":"a","operator":"Like"}]})")),
                    Catch::Contains("matchExpressions[0].operator: Unsupported value: \"Like\""));
  CHECK_THROWS_WITH(LabelSelector::FromObject(json::parse(R"({"matchExpressions":[{"key":"a","operator":"In"}]})")),
                    Catch::Contains("matchExpressions[0].values: Required value"));
  CHECK_THROWS_WITH(
      LabelSelector::FromObject(json::parse(R"({"matchExpressions":[{"key":"a","operator":"Exists","values":["x"]}]})")),
      Catch::Contains("Forbidden"));
  CHECK_THROWS_WITH(LabelSelector::FromObject(json::parse(R"({"app":"web"})")), Catch::Contains("unknown field \"app\""));
  CHECK_THROWS_WITH(LabelSelector::FromObject(json::parse(R"({"matchLabels":{"a":1}})")), Catch::Contains("matchLabels.a"));
}

json Obj(const std::string& ns, const std::string& name) {
  return {{"metadata", {{"namespace", ns}, {"name", name}}}};
}

TEST_CASE("field selector: metadata.name and metadata.namespace", "[selectors]") {
  auto by_name = FieldSelector::Parse("metadata.name=podinfo");
  CHECK(by_name.Matches(Obj("test", "podinfo")));
  CHECK_FALSE(by_name.Matches(Obj("test", "other")));
  CHECK(by_name.PinnedName() == "podinfo");

  auto both = FieldSelector::Parse("metadata.namespace==test,metadata.name!=skip");
  CHECK(both.Matches(Obj("test", "podinfo")));
  CHECK_FALSE(both.Matches(Obj("test", "skip")));
  CHECK_FALSE(both.Matches(Obj("prod", "podinfo")));
  CHECK(both.PinnedName().empty());

  CHECK(FieldSelector::Parse("").Empty());
  CHECK(FieldSelector::Parse("").Matches(Obj("a", "b")));
  CHECK(FieldSelector::Parse("metadata.namespace=").Matches(json::object()));  // cluster-scoped objects
  CHECK(FieldSelector::Parse(R"(metadata.name=a\,b)").Matches(Obj("", "a,b")));
}

TEST_CASE("field selector: the Event fields kubectl describe asks for", "[selectors]") {
  json event = {{"metadata", {{"name", "podinfo.1"}, {"namespace", "default"}}},
                {"involvedObject", {{"kind", "Canary"}, {"name", "podinfo"}, {"namespace", "default"}}},
                {"reason", "Advance"},
                {"type", "Normal"},
                {"source", {{"component", "sluice"}}}};
  CHECK(FieldSelector::Parse("involvedObject.kind=Canary,involvedObject.name=podinfo").Matches(event));
  CHECK_FALSE(FieldSelector::Parse("involvedObject.name=other").Matches(event));
  CHECK(FieldSelector::Parse("reason=Advance,type!=Warning,source=sluice").Matches(event));
  CHECK_FALSE(FieldSelector::Parse("involvedObject.uid=x").Matches(event));
  CHECK(FieldSelector::Parse("involvedObject.name=podinfo").PinnedName().empty());  // not the object's own name
}

TEST_CASE("field selector: unknown fields and bad syntax", "[selectors]") {
  CHECK_THROWS_WITH(FieldSelector::Parse("spec.x=1"),
                    Catch::StartsWith(R"("spec.x" is not a known field selector: only "metadata.name", "metadata.namespace")"));
  CHECK_THROWS_WITH(FieldSelector::Parse("metadata.name=a,status.phase!=Running"), Catch::Contains("\"status.phase\""));
  CHECK_THROWS_WITH(FieldSelector::Parse("metadata.name"), Catch::Contains("can't understand 'metadata.name'"));
}

TEST_CASE("label selector: a < or > bound beyond int64 is refused when parsed (found by fuzz_selectors)",
          "[selectors][fuzz]") {
  // The fuzzer's input: it parsed, then every Matches threw std::out_of_range from stoll.
  CHECK_THROWS_WITH(LabelSelector::Parse("n,n<40999999999999999999999"),
                    Catch::Contains("at position 4") && Catch::Contains("an integer"));
  CHECK_THROWS_AS(LabelSelector::Parse("n>-9223372036854775809"), std::invalid_argument);
  CHECK(LabelSelector::Parse("n<9223372036854775807").Matches(json{{"n", "5"}}));
  CHECK(LabelSelector::Parse("n>-9223372036854775808").Matches(json{{"n", "-5"}}));
}

TEST_CASE("label selector: the error names a whole character, not its first byte (found by fuzz_selectors)",
          "[selectors][fuzz]") {
  // "found '\xd7'" was half a character: the Status body carrying it could not be written.
  try {
    LabelSelector::Parse("n\t\t\xd7\x89\tr");
    FAIL("expected invalid_argument");
  } catch (const std::invalid_argument& e) {
    CHECK_THAT(e.what(), Catch::Contains("found '\xd7\x89'"));
    CHECK_NOTHROW(json(e.what()).dump());
  }
}

TEST_CASE("label selector: a bound of 60 000 digits is refused without recursion (found with fuzz_selectors)",
          "[selectors][fuzz]") {
  // The recursive std::regex ran before the int64 check and overflowed the stack.
  CHECK_THROWS_WITH(LabelSelector::Parse("n<" + std::string(60000, '1')), Catch::Contains("an integer"));
}

TEST_CASE("selectors: random input parses or is refused with invalid_argument", "[selectors]") {
  const std::string alphabet = "ab=!,() in notin<>\\x/.-_9";
  std::mt19937 rng(11);
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    for (size_t n = rng() % 16; n > 0; --n) text += alphabet[rng() % alphabet.size()];
    INFO(text);
    try {
      auto s = LabelSelector::Parse(text);
      s.Matches(kWeb);
    } catch (const std::invalid_argument&) {
    }
    try {
      auto f = FieldSelector::Parse("metadata.name" + text);
      f.Matches(Obj("a", "b"));
    } catch (const std::invalid_argument&) {
    }
  }
  SUCCEED("no other exception escaped");
}

}  // namespace
}  // namespace sluice::apimachinery
