// A repository's .sourceignore and a GitRepository's spec.ignore (controller/gitops/ignore.h),
// matched against the paths of the tree. The input is the rules; its lines are also tried as
// paths, since a repository names its own files.
#include <string>
#include <vector>

#include "controller/gitops/ignore.h"
#include "tests/fuzz/fuzz_support.h"

using namespace sluice;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = fuzz::Text(data, size);
  auto rules = gitops::IgnoreRules::WithDefaults();
  rules.Add(text);
  rules.Add(text, "apps/web");
  std::vector<std::string_view> paths = {"README.md", ".git", "apps/web/deploy.yaml", "apps/web/a/b/c.yml",
                                         "img/logo.png", "a[b]/c*d?.yaml"};
  for (std::string_view rest = text; !rest.empty();) {
    auto [line, after] = fuzz::SplitOnce(rest, '\n');
    if (!line.empty() && line.size() < 256) paths.push_back(line);
    rest = after;
  }
  for (auto path : paths) {
    (void)rules.Ignored(path, false);
    (void)rules.Ignored(path, true);
    for (auto pattern : paths) (void)gitops::GlobMatch(pattern, path);
  }
  return 0;
}
