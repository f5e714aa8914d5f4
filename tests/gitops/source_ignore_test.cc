#include <catch2/catch.hpp>

#include "controller/gitops/ignore.h"

namespace sluice::gitops {

TEST_CASE("ignore: glob matching keeps * within a segment and lets ** span them") {
  CHECK(GlobMatch("*.yaml", "a.yaml"));
  CHECK_FALSE(GlobMatch("*.yaml", "dir/a.yaml"));
  CHECK(GlobMatch("**/a.yaml", "a.yaml"));
  CHECK(GlobMatch("**/a.yaml", "x/y/a.yaml"));
  CHECK(GlobMatch("docs/**", "docs/x/y.md"));
  CHECK(GlobMatch("a/**/b", "a/b"));
  CHECK(GlobMatch("a/**/b", "a/x/y/b"));
  CHECK(GlobMatch("file-?.txt", "file-1.txt"));
  CHECK_FALSE(GlobMatch("file-?.txt", "file-10.txt"));
  CHECK(GlobMatch("[a-c]x", "bx"));
  CHECK_FALSE(GlobMatch("[!a-c]x", "bx"));
  CHECK(GlobMatch("\\*lit", "*lit"));
}

TEST_CASE("ignore: many stars against a long name take polynomial time (found with fuzz_sourceignore)", "[fuzz]") {
  // Backtracking alone ran for minutes on this two-line .sourceignore and file name: a
  // repository could stall its source. Each case must answer at once.
  std::string name(200, 'a');
  CHECK_FALSE(GlobMatch("*a*a*a*a*a*a*a*a*a*a*a*b", name));
  CHECK(GlobMatch("*a*a*a*a*a*a*a*a*a*a*a*a", name));
  std::string deep;
  for (int i = 0; i < 60; ++i) deep += "a/";
  CHECK_FALSE(GlobMatch("**/a/**/a/**/a/**/a/**/a/**/a/**/b", deep + "c"));
  CHECK(GlobMatch("**/a/**/a/**/a/**/a/**/a/**/a/**/c", deep + "c"));
  IgnoreRules rules;
  rules.Add("*a*a*a*a*a*a*a*a*a*a*a*b\n");
  CHECK_FALSE(rules.Ignored("dir/" + name, false));
}

TEST_CASE("ignore: gitignore rules, anchoring, directories and negation, last match wins") {
  IgnoreRules r;
  r.Add("# comment\n\n*.md\n!keep.md\n/top.yaml\nbuild/\nclusters/staging/*.yaml\n");
  CHECK(r.Ignored("README.md", false));
  CHECK(r.Ignored("docs/x.md", false));
  CHECK_FALSE(r.Ignored("docs/keep.md", false));
  CHECK(r.Ignored("top.yaml", false));
  CHECK_FALSE(r.Ignored("sub/top.yaml", false));
  CHECK(r.Ignored("build", true));
  CHECK(r.Ignored("a/build", true));
  CHECK_FALSE(r.Ignored("build", false));  // a file named build is not a directory
  CHECK(r.Ignored("clusters/staging/app.yaml", false));
  CHECK_FALSE(r.Ignored("clusters/production/app.yaml", false));
}

TEST_CASE("ignore: rules from a subdirectory apply only below it") {
  IgnoreRules r;
  r.Add("*.tmp\n/local.yaml\n", "apps");
  CHECK(r.Ignored("apps/x.tmp", false));
  CHECK_FALSE(r.Ignored("x.tmp", false));
  CHECK(r.Ignored("apps/local.yaml", false));
  CHECK_FALSE(r.Ignored("apps/sub/local.yaml", false));
}

TEST_CASE("ignore: defaults drop VCS and CI files but keep manifests, and can be overridden") {
  IgnoreRules r = IgnoreRules::WithDefaults();
  CHECK(r.Ignored(".github", true));
  CHECK(r.Ignored(".gitlab-ci.yml", false));
  CHECK(r.Ignored("docs/logo.png", false));
  CHECK_FALSE(r.Ignored("apps/deployment.yaml", false));
  r.Add("!*.png\n");
  CHECK_FALSE(r.Ignored("docs/logo.png", false));
}

}  // namespace sluice::gitops
