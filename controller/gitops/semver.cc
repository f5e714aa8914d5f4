#include "controller/gitops/semver.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace sluice::gitops {

namespace {

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

std::optional<uint64_t> Number(std::string_view s) {
  if (!AllDigits(s) || s.size() > 18 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  uint64_t n = 0;
  for (char c : s) n = n * 10 + static_cast<uint64_t>(c - '0');
  return n;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

bool IsWildcard(std::string_view s) { return s == "x" || s == "X" || s == "*"; }

// A version with missing or wildcard parts ("1", "1.2", "1.x", "*"); `parts` counts the
// numeric parts given before the first wildcard.
struct Partial {
  Version version;
  int parts = 0;
  bool has_prerelease = false;
};

std::optional<Partial> ParsePartial(std::string_view text) {
  if (!text.empty() && (text[0] == 'v' || text[0] == 'V')) text.remove_prefix(1);
  if (auto plus = text.find('+'); plus != std::string_view::npos) text = text.substr(0, plus);
  Partial p;
  std::string_view pre;
  if (auto dash = text.find('-'); dash != std::string_view::npos) {
    pre = text.substr(dash + 1);
    text = text.substr(0, dash);
    if (pre.empty()) return std::nullopt;
  }
  auto fields = Split(text, '.');
  if (fields.empty() || fields.size() > 3) return std::nullopt;
  uint64_t* slots[3] = {&p.version.major, &p.version.minor, &p.version.patch};
  bool wild = false;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (IsWildcard(fields[i])) {
      wild = true;
      continue;
    }
    if (wild) return std::nullopt;  // "1.x.3"
    auto n = Number(fields[i]);
    if (!n) return std::nullopt;
    *slots[i] = *n;
    p.parts = static_cast<int>(i) + 1;
  }
  if (!pre.empty()) {
    if (p.parts != 3) return std::nullopt;
    for (auto id : Split(pre, '.')) {
      if (id.empty()) return std::nullopt;
      p.version.prerelease.emplace_back(id);
    }
    p.has_prerelease = true;
  }
  return p;
}

// The lowest version above every version starting with the given parts: 1.2 -> 1.3.0-0.
Version NextAfter(const Partial& p) {
  Version v;
  if (p.parts == 1) v.major = p.version.major + 1;
  if (p.parts == 2) {
    v.major = p.version.major;
    v.minor = p.version.minor + 1;
  }
  v.prerelease = {"0"};
  return v;
}

int CompareIdentifiers(const std::string& a, const std::string& b) {
  bool na = AllDigits(a), nb = AllDigits(b);
  if (na && nb) {
    if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
    return a.compare(b) < 0 ? -1 : (a == b ? 0 : 1);
  }
  if (na != nb) return na ? -1 : 1;  // numeric identifiers sort below alphanumeric ones
  int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

}  // namespace

std::optional<Version> ParseVersion(std::string_view text) {
  auto p = ParsePartial(text);
  if (!p || p->parts != 3) return std::nullopt;
  return p->version;
}

int Compare(const Version& a, const Version& b) {
  if (a.major != b.major) return a.major < b.major ? -1 : 1;
  if (a.minor != b.minor) return a.minor < b.minor ? -1 : 1;
  if (a.patch != b.patch) return a.patch < b.patch ? -1 : 1;
  if (a.prerelease.empty() != b.prerelease.empty()) return a.prerelease.empty() ? 1 : -1;
  for (size_t i = 0; i < std::min(a.prerelease.size(), b.prerelease.size()); ++i)
    if (int c = CompareIdentifiers(a.prerelease[i], b.prerelease[i])) return c;
  if (a.prerelease.size() != b.prerelease.size()) return a.prerelease.size() < b.prerelease.size() ? -1 : 1;
  return 0;
}

std::string ToString(const Version& v) {
  std::string s = std::to_string(v.major) + "." + std::to_string(v.minor) + "." + std::to_string(v.patch);
  for (size_t i = 0; i < v.prerelease.size(); ++i) s += (i == 0 ? "-" : ".") + v.prerelease[i];
  return s;
}

bool SemverRange::Comparator::Holds(const Version& v) const {
  int c = Compare(v, version);
  switch (op) {
    case Op::kEq: return c == 0;
    case Op::kLt: return c < 0;
    case Op::kLe: return c <= 0;
    case Op::kGt: return c > 0;
    case Op::kGe: return c >= 0;
  }
  return false;
}

void SemverRange::AddComparators(std::string_view token, Set& out) {
  using Op = Comparator::Op;
  std::string_view op;
  for (std::string_view candidate : {">=", "<=", ">", "<", "=", "~>", "~", "^"})
    if (token.substr(0, candidate.size()) == candidate) {
      op = candidate;
      break;
    }
  std::string_view rest = token.substr(op.size());
  auto p = ParsePartial(rest);
  if (!p) throw std::invalid_argument("'" + std::string(token) + "' is not a version or comparator");
  const Version& v = p->version;
  bool pre = p->has_prerelease;
  auto add = [&](Op o, Version version, bool named = false) { out.push_back({o, std::move(version), named}); };
  if (p->parts == 0) {  // *, x, >=*, ...: any version, or none for > and <
    if (op == ">" || op == "<") add(Op::kLt, Version{0, 0, 0, {"0"}});
    return;
  }
  if (op == "~" || op == "~>") {
    add(Op::kGe, v, pre);
    Partial upto = *p;
    upto.parts = p->parts == 1 ? 1 : 2;
    add(Op::kLt, NextAfter(upto));
    return;
  }
  if (op == "^") {
    add(Op::kGe, v, pre);
    Partial upto = *p;
    // The leftmost non-zero part given may not change; with only zeros, the last part given.
    if (v.major > 0 || p->parts == 1)
      upto.parts = 1;
    else if (v.minor > 0 || p->parts == 2)
      upto.parts = 2;
    else {
      Version next{0, 0, v.patch + 1, {"0"}};
      add(Op::kLt, next);
      return;
    }
    add(Op::kLt, NextAfter(upto));
    return;
  }
  if (p->parts < 3) {  // a partial version stands for the whole range it starts
    if (op.empty() || op == "=") {
      add(Op::kGe, v);
      add(Op::kLt, NextAfter(*p));
    } else if (op == ">=") {
      add(Op::kGe, v);
    } else if (op == ">") {
      Version next = NextAfter(*p);
      next.prerelease.clear();
      add(Op::kGe, next);
    } else if (op == "<") {
      Version below = v;
      below.prerelease = {"0"};
      add(Op::kLt, below);
    } else {  // <=
      add(Op::kLt, NextAfter(*p));
    }
    return;
  }
  Op o = op == ">=" ? Op::kGe : op == "<=" ? Op::kLe : op == ">" ? Op::kGt : op == "<" ? Op::kLt : Op::kEq;
  add(o, v, pre);
}

SemverRange::Set SemverRange::ParseSet(std::string_view text) {
  std::vector<std::string> tokens;
  std::string current;
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == ',') {
      if (!current.empty()) tokens.push_back(std::move(current));
      current.clear();
    } else {
      current.push_back(c);
    }
  }
  if (!current.empty()) tokens.push_back(std::move(current));
  // ">= 1.2" written with a space: join the operator to its version.
  std::vector<std::string> joined;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string& t = tokens[i];
    bool bare_op = t.find_first_not_of("<>=~^") == std::string::npos;
    if (bare_op && t != "-" && i + 1 < tokens.size()) {
      joined.push_back(t + tokens[++i]);
    } else {
      joined.push_back(t);
    }
  }
  Set set;
  for (size_t i = 0; i < joined.size(); ++i) {
    if (i + 2 < joined.size() && joined[i + 1] == "-") {  // hyphen range "A - B"
      AddComparators(">=" + joined[i], set);
      AddComparators("<=" + joined[i + 2], set);
      i += 2;
      continue;
    }
    if (joined[i] == "-") throw std::invalid_argument("a hyphen range needs a version on both sides");
    AddComparators(joined[i], set);
  }
  return set;
}

SemverRange SemverRange::Parse(std::string_view text) {
  SemverRange range;
  size_t start = 0;
  for (;;) {
    size_t at = text.find("||", start);
    std::string_view part = text.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start);
    if (part.find_first_not_of(" \t") == std::string_view::npos) {
      if (text.find_first_not_of(" \t") == std::string_view::npos)
        throw std::invalid_argument("the range is empty");
      throw std::invalid_argument("'||' needs a range on both sides");
    }
    range.sets_.push_back(ParseSet(part));
    if (at == std::string_view::npos) break;
    start = at + 2;
  }
  return range;
}

bool SemverRange::SetMatches(const Set& set, const Version& v) const {
  for (const auto& c : set)
    if (!c.Holds(v)) return false;
  if (v.prerelease.empty()) return true;
  for (const auto& c : set)
    if (c.names_prerelease && c.version.major == v.major && c.version.minor == v.minor && c.version.patch == v.patch)
      return true;
  return false;
}

bool SemverRange::Matches(const Version& v) const {
  return std::any_of(sets_.begin(), sets_.end(), [&](const Set& s) { return SetMatches(s, v); });
}

std::optional<std::string> HighestMatchingTag(const SemverRange& range, const std::vector<std::string>& tags) {
  std::optional<std::string> best_tag;
  std::optional<Version> best;
  for (const auto& tag : tags) {
    auto v = ParseVersion(tag);
    if (!v || !range.Matches(*v)) continue;
    if (!best || Compare(*v, *best) > 0) {
      best = v;
      best_tag = tag;
    }
  }
  return best_tag;
}

}  // namespace sluice::gitops
