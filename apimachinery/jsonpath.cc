// The Kubernetes JSONPath subset that printer columns use (k8s.io/client-go/util/jsonpath):
// fields (.a, ['a']), indices and slices ([0], [-1], [1:3]), wildcards ([*], .*), recursive
// descent (..name) and filters ([?(@.type=="Ready")], [?(@.x)]). Missing keys yield no result,
// as the API server sets AllowMissingKeys for printer columns.
#include <cctype>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <variant>
#include <vector>

#include "apimachinery/table.h"

namespace sluice::apimachinery {
namespace {

using nlohmann::json;

struct FieldStep {
  std::string name;
  bool recursive = false;
};
struct WildcardStep {};
struct SliceStep {
  std::optional<long> start, end;
  long step = 1;
  bool single = false;  // [n] rather than [a:b]
};
struct FilterStep {
  std::vector<std::string> left;  // path below @
  std::string op;                 // "" for an existence test
  json right;
};
using Step = std::variant<FieldStep, WildcardStep, SliceStep, FilterStep>;

class PathParser {
 public:
  explicit PathParser(std::string_view text) : s_(text) {}

  std::vector<Step> Parse() {
    Trim();
    if (!s_.empty() && s_.front() == '{') {
      if (s_.back() != '}') Fail("unclosed '{'");
      s_ = s_.substr(1, s_.size() - 2);
      Trim();
    }
    if (!s_.empty() && s_[0] == '$') ++pos_;
    std::vector<Step> steps;
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c == '.') {
        ++pos_;
        bool recursive = false;
        if (pos_ < s_.size() && s_[pos_] == '.') {
          recursive = true;
          ++pos_;
        }
        if (pos_ < s_.size() && s_[pos_] == '*') {
          ++pos_;
          steps.emplace_back(WildcardStep{});
          continue;
        }
        std::string name = Name();
        if (name.empty()) {
          if (pos_ >= s_.size() && !recursive && steps.empty()) break;  // "." alone: the object
          Fail("expected a field name");
        }
        steps.emplace_back(FieldStep{name, recursive});
      } else if (c == '[') {
        steps.push_back(Bracket());
      } else {
        Fail(std::string("unexpected '") + c + "'");
      }
    }
    return steps;
  }

 private:
  [[noreturn]] void Fail(const std::string& what) const {
    throw std::invalid_argument("jsonpath \"" + std::string(s_) + "\": at position " + std::to_string(pos_) + ": " +
                                what);
  }
  void Trim() {
    while (!s_.empty() && std::isspace(static_cast<unsigned char>(s_.front()))) s_.remove_prefix(1);
    while (!s_.empty() && std::isspace(static_cast<unsigned char>(s_.back()))) s_.remove_suffix(1);
  }
  std::string Name() {
    std::string out;
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c == '\\' && pos_ + 1 < s_.size()) {
        out += s_[pos_ + 1];
        pos_ += 2;
        continue;
      }
      if (c == '.' || c == '[' || c == ' ' || c == ')' || c == '=' || c == '!' || c == '<' || c == '>') break;
      out += c;
      ++pos_;
    }
    return out;
  }
  void SkipSpace() {
    while (pos_ < s_.size() && s_[pos_] == ' ') ++pos_;
  }
  std::string Quoted() {
    char q = s_[pos_++];
    std::string out;
    while (pos_ < s_.size() && s_[pos_] != q) {
      if (s_[pos_] == '\\' && pos_ + 1 < s_.size()) ++pos_;
      out += s_[pos_++];
    }
    if (pos_ >= s_.size()) Fail("unterminated string");
    ++pos_;
    return out;
  }
  std::optional<long> Integer() {
    SkipSpace();
    size_t start = pos_;
    if (pos_ < s_.size() && (s_[pos_] == '-' || s_[pos_] == '+')) ++pos_;
    while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    if (start == pos_) return std::nullopt;
    std::string text(s_.substr(start, pos_ - start));
    if (text == "-" || text == "+") Fail("expected a number");
    SkipSpace();
    return std::strtol(text.c_str(), nullptr, 10);
  }
  void Expect(char c) {
    SkipSpace();
    if (pos_ >= s_.size() || s_[pos_] != c) Fail(std::string("expected '") + c + "'");
    ++pos_;
  }

  Step Bracket() {
    ++pos_;  // '['
    SkipSpace();
    if (pos_ >= s_.size()) Fail("unclosed '['");
    char c = s_[pos_];
    if (c == '*') {
      ++pos_;
      Expect(']');
      return WildcardStep{};
    }
    if (c == '\'' || c == '"') {
      std::string name = Quoted();
      Expect(']');
      return FieldStep{name, false};
    }
    if (c == '?') {
      ++pos_;
      Expect('(');
      FilterStep f = Filter();
      Expect(')');
      Expect(']');
      return f;
    }
    SliceStep slice;
    slice.start = Integer();
    if (pos_ < s_.size() && s_[pos_] == ']') {
      if (!slice.start) Fail("expected an index");
      ++pos_;
      slice.single = true;
      return slice;
    }
    Expect(':');
    slice.end = Integer();
    if (pos_ < s_.size() && s_[pos_] == ':') {
      ++pos_;
      auto step = Integer();
      if (step) slice.step = *step;
      if (slice.step <= 0) Fail("slice step must be positive");
    }
    Expect(']');
    return slice;
  }

  FilterStep Filter() {
    SkipSpace();
    if (pos_ >= s_.size() || s_[pos_] != '@') Fail("a filter must start with '@'");
    ++pos_;
    FilterStep f;
    while (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      std::string name = Name();
      if (name.empty()) Fail("expected a field name after '@.'");
      f.left.push_back(name);
    }
    SkipSpace();
    for (const char* op : {"==", "!=", "<=", ">=", "<", ">"}) {
      std::string_view o(op);
      if (s_.substr(pos_, o.size()) == o) {
        f.op = op;
        pos_ += o.size();
        break;
      }
    }
    if (f.op.empty()) return f;
    SkipSpace();
    if (pos_ >= s_.size()) Fail("expected a value after " + f.op);
    char c = s_[pos_];
    if (c == '"' || c == '\'') {
      f.right = Quoted();
    } else {
      size_t start = pos_;
      while (pos_ < s_.size() && s_[pos_] != ')' && s_[pos_] != ' ') ++pos_;
      std::string lit(s_.substr(start, pos_ - start));
      if (lit == "true" || lit == "false") {
        f.right = lit == "true";
      } else {
        try {
          size_t used = 0;
          double d = std::stod(lit, &used);
          if (used != lit.size()) throw std::invalid_argument(lit);
          f.right = d;
        } catch (const std::exception&) {
          Fail("cannot understand the value '" + lit + "'");
        }
      }
    }
    SkipSpace();
    return f;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

const json* Walk(const json& v, const std::vector<std::string>& path) {
  const json* cur = &v;
  for (const auto& name : path) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(name);
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}

bool Compare(const json& left, const std::string& op, const json& right) {
  if (left.is_number() && right.is_number()) {
    double a = left.get<double>(), b = right.get<double>();
    if (op == "==") return a == b;
    if (op == "!=") return a != b;
    if (op == "<") return a < b;
    if (op == ">") return a > b;
    if (op == "<=") return a <= b;
    return a >= b;
  }
  if (left.is_string() && right.is_string()) {
    const auto &a = left.get_ref<const std::string&>(), &b = right.get_ref<const std::string&>();
    if (op == "==") return a == b;
    if (op == "!=") return a != b;
    if (op == "<") return a < b;
    if (op == ">") return a > b;
    if (op == "<=") return a <= b;
    return a >= b;
  }
  if (op == "==") return left == right;
  if (op == "!=") return left != right;
  return false;
}

void Recurse(const json& v, const std::string& name, std::vector<const json*>& out) {
  if (v.is_object()) {
    if (auto it = v.find(name); it != v.end()) out.push_back(&*it);
    for (const auto& child : v) Recurse(child, name, out);
  } else if (v.is_array()) {
    for (const auto& child : v) Recurse(child, name, out);
  }
}

std::vector<const json*> Apply(const Step& step, const std::vector<const json*>& in) {
  std::vector<const json*> out;
  for (const json* v : in) {
    if (auto f = std::get_if<FieldStep>(&step)) {
      if (f->recursive) {
        Recurse(*v, f->name, out);
      } else if (v->is_object()) {
        if (auto it = v->find(f->name); it != v->end()) out.push_back(&*it);
      }
    } else if (std::holds_alternative<WildcardStep>(step)) {
      if (v->is_object() || v->is_array())
        for (const auto& child : *v) out.push_back(&child);
    } else if (auto s = std::get_if<SliceStep>(&step)) {
      if (!v->is_array()) continue;
      long n = static_cast<long>(v->size());
      auto norm = [n](long i) { return i < 0 ? i + n : i; };
      if (s->single) {
        long i = norm(*s->start);
        if (i >= 0 && i < n) out.push_back(&(*v)[static_cast<size_t>(i)]);
        continue;
      }
      long a = s->start ? std::max(0L, norm(*s->start)) : 0;
      long b = s->end ? std::min(n, norm(*s->end)) : n;
      for (long i = a; i < b; i += s->step) {
        out.push_back(&(*v)[static_cast<size_t>(i)]);
        if (s->step >= b - i) break;  // the next index is past the end; i + step may not fit a long
      }
    } else if (auto flt = std::get_if<FilterStep>(&step)) {
      if (!v->is_array()) continue;
      for (const auto& item : *v) {
        const json* left = Walk(item, flt->left);
        if (!left) continue;
        if (flt->op.empty() ? !left->is_null() : Compare(*left, flt->op, flt->right)) out.push_back(&item);
      }
    }
  }
  return out;
}

}  // namespace

std::optional<nlohmann::json> EvalJsonPath(const nlohmann::json& object, std::string_view path) {
  std::vector<Step> steps = PathParser(path).Parse();
  std::vector<const json*> current{&object};
  for (const auto& step : steps) {
    current = Apply(step, current);
    if (current.empty()) return std::nullopt;
    // Recursive descent from nodes that are inside one another finds the same nodes again:
    // "..a..a..a..a..a..a..a..a" on 100 nested "a" multiplied them past any memory. Later
    // copies are dropped; the first ones keep their order, so the first result is the same.
    std::unordered_set<const json*> seen;
    std::erase_if(current, [&](const json* v) { return !seen.insert(v).second; });
  }
  return *current.front();
}

}  // namespace sluice::apimachinery
