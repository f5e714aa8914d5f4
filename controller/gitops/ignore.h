// Which files of a revision stay out of the artifact: .gitignore syntax (the same rules
// `git` applies), in order, the last matching pattern winning. Rules come from defaults (VCS
// and CI files), a `.sourceignore` file at the repository root, then `spec.ignore`; a later
// `!pattern` can bring back what an earlier one excluded.
//
// As in Git, a file inside an excluded directory cannot be re-included: the tree walk does
// not descend into excluded directories.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sluice::gitops {

class IgnoreRules {
 public:
  // Version-control and CI files no sync wants applied.
  static IgnoreRules WithDefaults();

  // Lines in .gitignore syntax; blank lines and # comments are skipped. `base` is the
  // directory (relative to the root, no leading or trailing '/') the lines apply in.
  void Add(std::string_view text, std::string_view base = "");

  // `path` is relative to the root, '/'-separated, without a leading '/'.
  bool Ignored(std::string_view path, bool is_dir) const;
  size_t size() const { return rules_.size(); }

 private:
  struct Rule {
    std::string pattern;  // without '!', leading '/' and trailing '/'
    std::string base;
    bool negate = false;
    bool dir_only = false;
    bool anchored = false;  // matched against the whole path under base, not just the name
  };
  std::vector<Rule> rules_;
};

// Glob match of gitignore patterns: * and ? stay within one path segment, ** spans
// segments, [a-z] / [!a-z] classes, backslash escapes.
bool GlobMatch(std::string_view pattern, std::string_view text);

}  // namespace sluice::gitops
