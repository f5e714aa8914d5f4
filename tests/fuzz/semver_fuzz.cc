// A GitRepository's spec.ref.semver range against the repository's tags
// (controller/gitops/semver.h): the first line is the range, every other line a tag.
#include <stdexcept>
#include <string>
#include <vector>

#include "controller/gitops/semver.h"
#include "tests/fuzz/fuzz_support.h"

using namespace sluice;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto [range_text, rest] = fuzz::SplitOnce(fuzz::Text(data, size), '\n');
  std::vector<std::string> tags;
  while (!rest.empty()) {
    auto [tag, after] = fuzz::SplitOnce(rest, '\n');
    tags.emplace_back(tag);
    rest = after;
  }
  // Every tag that is a version prints as one that parses back to the same version, and the
  // order is a total order.
  std::vector<gitops::Version> versions;
  for (const auto& tag : tags)
    if (auto v = gitops::ParseVersion(tag)) {
      auto again = gitops::ParseVersion(gitops::ToString(*v));
      SLUICE_FUZZ_CHECK(again && *again == *v);
      versions.push_back(*v);
    }
  for (size_t i = 0; i + 1 < versions.size(); ++i) {
    int ab = gitops::Compare(versions[i], versions[i + 1]), ba = gitops::Compare(versions[i + 1], versions[i]);
    SLUICE_FUZZ_CHECK((ab < 0) == (ba > 0) && (ab == 0) == (ba == 0));
  }
  try {
    auto range = gitops::SemverRange::Parse(range_text);
    auto best = gitops::HighestMatchingTag(range, tags);
    if (best) SLUICE_FUZZ_CHECK(range.Matches(*gitops::ParseVersion(*best)));
  } catch (const std::invalid_argument&) {  // a range that is not understood: the condition says which part
  }
  return 0;
}
