// Semantic versions of Git tags and the ranges a GitRepository's `ref.semver` selects them
// with, in the npm / Masterminds syntax people write in Flux: comparators (=, >, >=, <, <=),
// tilde (~1.2 = >=1.2.0 <1.3.0), caret (^1.2 = >=1.2.0 <2.0.0, ^0.2 = <0.3.0), x ranges
// (1.2.x, 1.*, *), hyphen ranges (1.2 - 1.4), sets joined by spaces (and) and || (or).
//
// A pre-release (1.3.0-rc.1) matches only a set holding a comparator that names a
// pre-release of the same major.minor.patch, so `>=1.0.0` never picks up release candidates.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::gitops {

struct Version {
  uint64_t major = 0, minor = 0, patch = 0;
  std::vector<std::string> prerelease;  // dot-separated identifiers after '-'
  bool operator==(const Version&) const = default;
};

// "1.2.3", "v1.2.3", "1.2.3-rc.1+build.5" (build metadata is ignored). nullopt when the
// text is not a full semantic version (tags like "latest" or "1.2" are simply not versions).
std::optional<Version> ParseVersion(std::string_view text);
// <0, 0, >0 by semver precedence.
int Compare(const Version& a, const Version& b);
std::string ToString(const Version& v);

class SemverRange {
 public:
  // Throws std::invalid_argument naming the part that is not understood.
  static SemverRange Parse(std::string_view text);
  bool Matches(const Version& v) const;

 private:
  struct Comparator {
    enum class Op { kEq, kLt, kLe, kGt, kGe } op;
    Version version;
    bool names_prerelease = false;  // written by the user with a pre-release part
    bool Holds(const Version& v) const;
  };
  using Set = std::vector<Comparator>;
  static Set ParseSet(std::string_view text);
  static void AddComparators(std::string_view token, Set& out);
  bool SetMatches(const Set& set, const Version& v) const;

  std::vector<Set> sets_;
};

// The tag with the highest version the range matches; tags that are not versions are
// skipped. nullopt when none matches.
std::optional<std::string> HighestMatchingTag(const SemverRange& range, const std::vector<std::string>& tags);

}  // namespace sluice::gitops
