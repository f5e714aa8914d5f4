#include <catch2/catch.hpp>

#include <random>

#include "crd_fixtures.h"
#include "core/yaml_json.h"

namespace sluice::apimachinery {
namespace {

using nlohmann::json;

TEST_CASE("yaml: scalars resolve as Kubernetes decodes manifests", "[yaml]") {
  json v = core::ParseYaml(R"(
quotedTrue: "true"
singleQuoted: '42'
plainTrue: true
yes11: yes
off11: Off
int: 42
negative: -7
hex: 0x1F
octal: 0o17
legacyOctal: 017
underscored: 1_000
float: 1.5
wholeFloat: 1.0
exp: 1e3
version: 1.20
nullish: ~
empty:
word: hello
date: 2026-11-26T04:01:49Z
block: |
  line one
  line two
tagged: !!str 123
big: 18446744073709551615
)");
  CHECK(v["quotedTrue"] == "true");
  CHECK(v["singleQuoted"] == "42");
  CHECK(v["plainTrue"] == true);
  CHECK(v["yes11"] == true);
  CHECK(v["off11"] == false);
  CHECK(v["int"].is_number_integer());
  CHECK(v["int"] == 42);
  CHECK(v["negative"] == -7);
  CHECK(v["hex"] == 31);
  CHECK(v["octal"] == 15);
  CHECK(v["legacyOctal"] == 15);
  CHECK(v["underscored"] == 1000);
  CHECK(v["float"].is_number_float());
  CHECK(v["float"] == 1.5);
  CHECK(v["wholeFloat"].is_number_integer());
  CHECK(v["exp"] == 1000);
  CHECK(v["version"] == 1.2);
  CHECK(v["nullish"].is_null());
  CHECK(v["empty"].is_null());
  CHECK(v["word"] == "hello");
  CHECK(v["date"] == "2026-11-26T04:01:49Z");
  CHECK(v["block"] == "line one\nline two\n");
  CHECK(v["tagged"] == "123");
  CHECK(v["big"].is_number_unsigned());
}

TEST_CASE("yaml: anchors, merge keys and multiple documents", "[yaml]") {
  auto docs = core::ParseYamlDocuments(R"(
base: &base {a: 1, b: 2}
derived:
  <<: *base
  b: 3
---
---
kind: Second
)");
  REQUIRE(docs.size() == 2);
  CHECK(docs[0]["derived"] == json({{"a", 1}, {"b", 3}}));
  CHECK(docs[1]["kind"] == "Second");
}

TEST_CASE("yaml: bad input is refused with its line", "[yaml]") {
  CHECK_THROWS_WITH(core::ParseYaml("a: [1, 2\nb: 3\n"), Catch::Contains("yaml: line"));
  CHECK_THROWS_WITH(core::ParseYaml("? [a, b]\n: c\n"), Catch::Contains("mapping key must be a scalar"));
  CHECK_THROWS_WITH(core::ParseYaml("n: !!int twelve\n"), Catch::Contains("!!int"));
}

TEST_CASE("yaml: the real CRDs load with their printer columns intact", "[yaml][crd]") {
  auto dir = testing::CrdDir();
  if (!dir) {
    WARN(testing::kNoCrdDirMessage);
    return;
  }
  json crd = testing::LoadCrd(*dir, "gateway-api-v1.6.1-httproutes.yaml");
  CHECK(crd["kind"] == "CustomResourceDefinition");
  json v1 = testing::CrdVersion(crd, "v1");
  CHECK(v1["served"] == true);
  CHECK(v1["additionalPrinterColumns"][1]["type"] == "date");
  const json& weight = v1["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["rules"]["items"]
                         ["properties"]["backendRefs"]["items"]["properties"]["weight"];
  CHECK(weight["maximum"] == 1000000);
  CHECK(weight["default"] == 1);
}

TEST_CASE("yaml: hostile input is refused with invalid_argument, never a crash", "[yaml]") {
  CHECK_THROWS_AS(core::ParseYaml(std::string(100000, '[')), std::invalid_argument);
  std::string dashes;
  for (int i = 0; i < 1000; ++i) dashes += "- ";
  CHECK_THROWS_AS(core::ParseYaml(dashes + "x\n"), std::invalid_argument);
  CHECK_THROWS_AS(core::ParseYaml(std::string(600, '[') + std::string(600, ']')), std::invalid_argument);
  // yaml-cpp 0.7 never consumes a stray top-level ',' and would produce empty documents forever.
  CHECK_THROWS_WITH(core::ParseYamlDocuments(",a"), Catch::Contains("did not find expected node content"));
  CHECK_THROWS_WITH(core::ParseYamlDocuments("- [a]\n,"), Catch::Contains("line 2"));
  CHECK_THROWS_AS(core::ParseYaml(",{?}\n 5-]"), std::invalid_argument);
  CHECK_THROWS_WITH(core::ParseYaml("a: 1\n---\n,b"), Catch::Contains("did not find expected node content"));
  CHECK_NOTHROW(core::ParseYaml(std::string(100, '[') + std::string(100, ']')));
  std::string laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'h'; ++c)
    laughs += std::string(1, c) + ": &" + c + " [*" + char(c - 1) + ", *" + char(c - 1) + ", *" + char(c - 1) + ", *" +
              char(c - 1) + ", *" + char(c - 1) + ", *" + char(c - 1) + ", *" + char(c - 1) + ", *" + char(c - 1) +
              ", *" + char(c - 1) + ", *" + char(c - 1) + "]\n";
  CHECK_THROWS_WITH(core::ParseYaml(laughs), Catch::Contains("excessive aliasing"));
  const std::string alphabet = "ab: -[]{},'\"\n\t&*!|>#%@`?~0.5";
  std::mt19937 rng(3);
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    for (size_t n = rng() % 40; n > 0; --n) text += alphabet[rng() % alphabet.size()];
    INFO(text);
    try {
      core::ParseYamlDocuments(text);
    } catch (const std::invalid_argument&) {
    }
  }
  SUCCEED("no other exception escaped");
}

TEST_CASE("yaml: a scalar that is not UTF-8 is refused with its line (found by fuzz_yaml_json)", "[yaml][fuzz]") {
  // It parsed, and the first dump() of the object (sending it to the API) threw a
  // nlohmann type_error that no caller expects.
  CHECK_THROWS_WITH(core::ParseYaml("kind: Kustomization\nspec:\n  REPLICAS: \"\xff\xff" "1\"\n"),
                    Catch::StartsWith("yaml: line 3, column 13: invalid UTF-8 (byte 0xFF at offset 0"));
  CHECK_THROWS_AS(core::ParseYamlDocuments("a: 1\n---\n\xc3: x\n"), std::invalid_argument);  // a key, cut short
  CHECK_THROWS_AS(core::ParseYaml("a: \"\xed\xa0\x80\""), std::invalid_argument);  // a surrogate
  CHECK_THROWS_AS(core::ParseYaml("a: \xc0\xaf"), std::invalid_argument);           // an overlong '/'
  CHECK(core::ParseYaml("a: \"h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80\"")["a"] == "h\u00e9 \u20ac \U0001F680");
  CHECK(core::ParseYaml("a: \"\\xff\"")["a"].dump() == "\"\u00ff\"");  // an escape names a code point
}

TEST_CASE("yaml: a long plain scalar of digits stays a string without recursion (found with fuzz_yaml_json)",
          "[yaml][fuzz]") {
  // The float check was a std::regex, a stack frame or more per character: 60 000 digits
  // and an x overflowed the stack.
  std::string digits(60000, '1');
  CHECK(core::ParseYaml("a: " + digits + "x\n")["a"] == digits + "x");
  CHECK(core::ParseYaml("a: " + digits + ".5e1\n")["a"].is_string());  // beyond a double: kept as written
  CHECK(core::ParseYaml("a: -.5e+3\n")["a"] == -500);
  CHECK(core::ParseYaml("a: 1.\n")["a"] == 1);
  CHECK(core::ParseYaml("a: 1e\n")["a"] == "1e");
}

}  // namespace
}  // namespace sluice::apimachinery
