#include <catch2/catch.hpp>

#include "controller/gitops/semver.h"

namespace sluice::gitops {
namespace {

bool In(const std::string& range, const std::string& version) {
  auto v = ParseVersion(version);
  REQUIRE(v);
  return SemverRange::Parse(range).Matches(*v);
}

}  // namespace

TEST_CASE("semver: versions parse with an optional v and order by precedence") {
  REQUIRE(ParseVersion("v1.2.3"));
  CHECK(ToString(*ParseVersion("1.2.3-rc.1+build.7")) == "1.2.3-rc.1");
  CHECK_FALSE(ParseVersion("1.2"));
  CHECK_FALSE(ParseVersion("latest"));
  CHECK_FALSE(ParseVersion("01.2.3"));
  std::vector<std::string> ordered = {"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
                                      "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.10.0"};
  for (size_t i = 0; i + 1 < ordered.size(); ++i)
    CHECK(Compare(*ParseVersion(ordered[i]), *ParseVersion(ordered[i + 1])) < 0);
}

TEST_CASE("semver: comparators, tilde, caret, x ranges, hyphens and ||") {
  CHECK(In(">=1.2.0 <2.0.0", "1.9.9"));
  CHECK_FALSE(In(">=1.2.0 <2.0.0", "2.0.0"));
  CHECK(In(">= 1.2.0", "1.2.0"));
  CHECK(In("~1.2.3", "1.2.9"));
  CHECK_FALSE(In("~1.2.3", "1.3.0"));
  CHECK(In("~1", "1.9.0"));
  CHECK(In("^1.2.3", "1.9.0"));
  CHECK_FALSE(In("^1.2.3", "2.0.0"));
  CHECK(In("^0.2.3", "0.2.9"));
  CHECK_FALSE(In("^0.2.3", "0.3.0"));
  CHECK_FALSE(In("^0.0.3", "0.0.4"));
  CHECK(In("1.2.x", "1.2.7"));
  CHECK_FALSE(In("1.2.x", "1.3.0"));
  CHECK(In("1.*", "1.0.0"));
  CHECK(In("*", "9.9.9"));
  CHECK(In(">1.2", "1.3.0"));
  CHECK_FALSE(In(">1.2", "1.2.9"));
  CHECK(In("<=1.2", "1.2.9"));
  CHECK_FALSE(In("<1.2", "1.2.0"));
  CHECK(In("1.2 - 1.4", "1.4.9"));
  CHECK_FALSE(In("1.2 - 1.4", "1.5.0"));
  CHECK(In("<1.0.0 || >=3.0.0", "3.1.0"));
  CHECK_FALSE(In("<1.0.0 || >=3.0.0", "2.0.0"));
}

TEST_CASE("semver: pre-releases match only ranges that name one of the same version") {
  CHECK_FALSE(In(">=1.0.0", "1.3.0-rc.1"));
  CHECK(In(">=1.3.0-rc.0", "1.3.0-rc.1"));
  CHECK_FALSE(In(">=1.3.0-rc.0", "1.4.0-rc.1"));
  CHECK(In(">=1.3.0-rc.0", "1.4.0"));
}

TEST_CASE("semver: bad ranges are refused with what is wrong") {
  CHECK_THROWS_WITH(SemverRange::Parse("foo"), Catch::Contains("'foo'"));
  CHECK_THROWS_WITH(SemverRange::Parse(""), Catch::Contains("empty"));
  CHECK_THROWS_WITH(SemverRange::Parse(">=1.0.0 ||"), Catch::Contains("both sides"));
  CHECK_THROWS(SemverRange::Parse("1.x.3"));
}

TEST_CASE("semver: the highest matching tag wins and non-version tags are skipped") {
  std::vector<std::string> tags = {"v1.0.0", "v1.2.0", "v1.10.0", "v2.0.0", "latest", "v1.11.0-rc.1"};
  CHECK(HighestMatchingTag(SemverRange::Parse("^1.0.0"), tags) == "v1.10.0");
  CHECK(HighestMatchingTag(SemverRange::Parse(">=3"), tags) == std::nullopt);
}

}  // namespace sluice::gitops
