#include "controller/gitops/ignore.h"

#include <vector>

namespace sluice::gitops {

namespace {

constexpr const char* kDefaults =
    "# version control\n.git/\n.gitignore\n.gitmodules\n.gitattributes\n"
    "# CI configuration\n.github/\n.gitlab-ci.yml\n.circleci/\n.travis.yml\nappveyor.yml\n.drone.yml\n"
    "cloudbuild.yaml\ncodeship-services.yml\ncodeship-steps.yml\n.sourceignore\n"
    "# images and archives\n*.jpg\n*.jpeg\n*.gif\n*.png\n*.wmv\n*.flv\n*.tar.gz\n*.zip\n";

// Matches a bracket class at pattern[0] == '['; returns the pattern length consumed, or 0
// when the class is malformed (then '[' is literal).
size_t MatchClass(std::string_view pattern, char c, bool& matched) {
  size_t i = 1;
  bool negate = i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^');
  if (negate) ++i;
  bool any = false;
  bool first = true;
  while (i < pattern.size() && (pattern[i] != ']' || first)) {
    first = false;
    char lo = pattern[i];
    if (lo == '\\' && i + 1 < pattern.size()) lo = pattern[++i];
    char hi = lo;
    if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
      hi = pattern[i + 2];
      i += 2;
    }
    if (c >= lo && c <= hi) any = true;
    ++i;
  }
  if (i >= pattern.size()) return 0;
  matched = (any != negate) && c != '/';
  return i + 1;
}

}  // namespace

namespace {

// Backtracking over `*` and `**/` alone takes exponential time: "*a*a*a*a*a*a*a*a*a*a*a*b"
// against a 200-character file name ran for minutes, and both come from the repository.
// A (pattern, text) position that failed once fails again, so each is tried once:
// O(pattern x text) positions, O(text) work each.
class Glob {
 public:
  Glob(std::string_view pattern, std::string_view text)
      : p_(pattern), t_(text), failed_((pattern.size() + 1) * (text.size() + 1), false) {}

  bool Match(size_t pi, size_t ti) {
    size_t key = pi * (t_.size() + 1) + ti;
    if (failed_[key]) return false;
    bool matched = Walk(pi, ti);
    if (!matched) failed_[key] = true;
    return matched;
  }

 private:
  bool Walk(size_t pi, size_t ti) {
    while (pi < p_.size()) {
      if (p_.substr(pi, 2) == "**") {
        size_t rest = pi + 2;
        if (rest == p_.size()) return true;  // trailing **: everything below
        if (p_[rest] == '/') {
          // "**/": zero or more whole directories.
          ++rest;
          if (Match(rest, ti)) return true;
          for (size_t i = ti; i < t_.size(); ++i)
            if (t_[i] == '/' && Match(rest, i + 1)) return true;
          return false;
        }
        ++pi;  // "**x" is two stars in one segment
        continue;
      }
      char c = p_[pi];
      if (c == '*') {
        for (size_t i = ti;; ++i) {
          if (Match(pi + 1, i)) return true;
          if (i >= t_.size() || t_[i] == '/') return false;
        }
      }
      if (ti >= t_.size()) return false;
      if (c == '?') {
        if (t_[ti] == '/') return false;
        ++pi;
      } else if (c == '[') {
        bool matched = false;
        size_t used = MatchClass(p_.substr(pi), t_[ti], matched);
        if (used == 0) {
          if (t_[ti] != '[') return false;
          ++pi;
        } else {
          if (!matched) return false;
          pi += used;
        }
      } else {
        if (c == '\\' && pi + 1 < p_.size()) c = p_[++pi];
        if (c != t_[ti]) return false;
        ++pi;
      }
      ++ti;
    }
    return ti == t_.size();
  }

  std::string_view p_, t_;
  std::vector<bool> failed_;
};

}  // namespace

bool GlobMatch(std::string_view p, std::string_view t) { return Glob(p, t).Match(0, 0); }

IgnoreRules IgnoreRules::WithDefaults() {
  IgnoreRules r;
  r.Add(kDefaults);
  return r;
}

void IgnoreRules::Add(std::string_view text, std::string_view base) {
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    std::string line(text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start));
    start = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    // Trailing spaces are dropped unless escaped.
    while (!line.empty() && line.back() == ' ' && !(line.size() > 1 && line[line.size() - 2] == '\\')) line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    Rule rule;
    rule.base = std::string(base);
    if (line[0] == '!') {
      rule.negate = true;
      line.erase(0, 1);
    } else if (line.substr(0, 2) == "\\!" || line.substr(0, 2) == "\\#") {
      line.erase(0, 1);
    }
    if (!line.empty() && line.back() == '/') {
      rule.dir_only = true;
      line.pop_back();
    }
    // A slash at the start or in the middle ties the pattern to the base directory.
    if (line.find('/') != std::string::npos) rule.anchored = true;
    if (!line.empty() && line[0] == '/') line.erase(0, 1);
    if (line.empty()) continue;
    rule.pattern = std::move(line);
    rules_.push_back(std::move(rule));
  }
}

bool IgnoreRules::Ignored(std::string_view path, bool is_dir) const {
  bool ignored = false;
  for (const Rule& rule : rules_) {
    if (rule.dir_only && !is_dir) continue;
    std::string_view rel = path;
    if (!rule.base.empty()) {
      if (rel.size() <= rule.base.size() || rel.substr(0, rule.base.size()) != rule.base ||
          rel[rule.base.size()] != '/')
        continue;
      rel.remove_prefix(rule.base.size() + 1);
    }
    bool match;
    if (rule.anchored) {
      match = GlobMatch(rule.pattern, rel);
    } else {
      auto slash = rel.rfind('/');
      match = GlobMatch(rule.pattern, slash == std::string_view::npos ? rel : rel.substr(slash + 1));
    }
    if (match) ignored = !rule.negate;
  }
  return ignored;
}

}  // namespace sluice::gitops
