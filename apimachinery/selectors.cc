// Label selectors with the grammar of k8s.io/apimachinery/pkg/labels and the two field
// selectors every resource supports.
#include "apimachinery/selectors.h"

#include <map>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <regex>
#include <stdexcept>

#include "core/utf8.h"

namespace sluice::apimachinery {
namespace {

using nlohmann::json;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsSpecial(char c) { return c == ',' || c == '=' || c == '!' || c == '(' || c == ')' || c == '<' || c == '>'; }

// Label keys are [prefix/]name (prefix a DNS subdomain); values are empty or a name.
void CheckName(const std::string& what, const std::string& text, const std::string& name) {
  static const std::regex kName("^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$");
  if (name.size() > 63 || !std::regex_match(name, kName))
    throw std::invalid_argument("invalid label " + what + " \"" + text +
                                "\": must be 63 characters or less, begin and end with an alphanumeric character, "
                                "and contain only alphanumerics, '-', '_' or '.'");
}

void CheckKey(const std::string& key) {
  if (key.empty()) throw std::invalid_argument("invalid label key \"\": must not be empty");
  auto slash = key.find('/');
  if (slash == std::string::npos) return CheckName("key", key, key);
  std::string prefix = key.substr(0, slash), name = key.substr(slash + 1);
  static const std::regex kSubdomain("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$");
  if (prefix.empty() || prefix.size() > 253 || !std::regex_match(prefix, kSubdomain))
    throw std::invalid_argument("invalid label key \"" + key + "\": prefix must be a lowercase DNS subdomain");
  CheckName("key", key, name);
}

void CheckValue(const std::string& value) {
  if (!value.empty()) CheckName("value", value, value);
}

class LabelParser {
 public:
  explicit LabelParser(const std::string& text) : text_(text) {}

  std::vector<LabelSelector::Requirement> Parse() {
    std::vector<LabelSelector::Requirement> out;
    SkipSpace();
    if (AtEnd()) return out;
    while (true) {
      out.push_back(ParseRequirement());
      SkipSpace();
      if (AtEnd()) return out;
      Expect(',');
    }
  }

 private:
  [[noreturn]] void Fail(const std::string& expected) const {
    // The whole character at pos_, not its first byte: the message goes out in a Status as JSON.
    size_t len = 1;
    while (pos_ + len < text_.size() && len < 4 && (static_cast<unsigned char>(text_[pos_ + len]) & 0xC0) == 0x80)
      ++len;
    std::string found = AtEnd() ? "end of input" : "'" + core::ValidUtf8(text_.substr(pos_, len)) + "'";
    throw std::invalid_argument("unable to parse label selector \"" + text_ + "\": at position " +
                                std::to_string(pos_) + ": expected " + expected + ", found " + found);
  }
  bool AtEnd() const { return pos_ >= text_.size(); }
  void SkipSpace() {
    while (!AtEnd() && IsSpace(text_[pos_])) ++pos_;
  }
  void Expect(char c) {
    SkipSpace();
    if (AtEnd() || text_[pos_] != c) Fail(std::string("'") + c + "'");
    ++pos_;
  }
  bool Peek(const char* s) const { return text_.compare(pos_, std::char_traits<char>::length(s), s) == 0; }
  std::string Word() {
    SkipSpace();
    size_t start = pos_;
    while (!AtEnd() && !IsSpace(text_[pos_]) && !IsSpecial(text_[pos_])) ++pos_;
    return text_.substr(start, pos_ - start);
  }

  std::string Key() {
    size_t at = pos_;
    std::string key = Word();
    if (key.empty()) {
      pos_ = at;
      SkipSpace();
      Fail("a label key");
    }
    CheckKey(key);
    return key;
  }

  LabelSelector::Requirement ParseRequirement() {
    SkipSpace();
    if (!AtEnd() && text_[pos_] == '!' && !Peek("!=")) {
      ++pos_;
      return {Key(), "!", {}};
    }
    std::string key = Key();
    SkipSpace();
    if (AtEnd() || text_[pos_] == ',') return {key, "exists", {}};
    if (Peek("==")) return Single(key, "=", 2);
    if (Peek("!=")) return Single(key, "!=", 2);
    if (Peek("=")) return Single(key, "=", 1);
    if (Peek(">") || Peek("<")) return Numeric(key);
    size_t at = pos_;
    std::string op = Word();
    if (op == "in" || op == "notin") return {key, op, Values()};
    pos_ = at;
    Fail("one of '=', '==', '!=', 'in', 'notin', '<', '>' or ','");
  }

  LabelSelector::Requirement Single(const std::string& key, const std::string& op, size_t width) {
    pos_ += width;
    std::string value = Word();
    CheckValue(value);
    return {key, op, {value}};
  }

  LabelSelector::Requirement Numeric(const std::string& key) {
    std::string op = text_[pos_] == '>' ? "gt" : "lt";
    ++pos_;
    size_t at = pos_;
    std::string value = Word();
    // An int64, as the API server's strconv.ParseInt: Matches compares against it as one.
    // from_chars goes first: it refuses anything long, which the recursive std::regex would
    // overflow the stack on (a selector of 60 000 digits).
    static const std::regex kInteger("^-?[0-9]+$");
    long long parsed = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), parsed);
    if (ec != std::errc() || end != value.data() + value.size() || !std::regex_match(value, kInteger)) {
      pos_ = at;
      SkipSpace();
      Fail("an integer");
    }
    return {key, op, {value}};
  }

  std::vector<std::string> Values() {
    Expect('(');
    std::vector<std::string> values;
    while (true) {
      std::string v = Word();
      CheckValue(v);
      values.push_back(v);
      SkipSpace();
      if (!AtEnd() && text_[pos_] == ')') {
        ++pos_;
        break;
      }
      if (AtEnd() || text_[pos_] != ',') Fail("',' or ')'");
      ++pos_;
    }
    if (values.size() == 1 && values[0].empty())
      throw std::invalid_argument("unable to parse label selector \"" + text_ + "\": at position " +
                                  std::to_string(pos_) + ": for 'in', 'notin' operators, values set can't be empty");
    return values;
  }

  const std::string& text_;
  size_t pos_ = 0;
};

std::string LabelOf(const json& labels, const std::string& key, bool& present) {
  present = false;
  if (!labels.is_object()) return "";
  auto it = labels.find(key);
  if (it == labels.end() || !it->is_string()) return "";
  present = true;
  return it->get<std::string>();
}

bool Contains(const std::vector<std::string>& values, const std::string& v) {
  return std::find(values.begin(), values.end(), v) != values.end();
}

std::vector<std::string> ExpressionValues(const json& expr, size_t i) {
  std::vector<std::string> out;
  auto it = expr.find("values");
  if (it == expr.end() || it->is_null()) return out;
  if (!it->is_array())
    throw std::invalid_argument("matchExpressions[" + std::to_string(i) + "].values: must be a list of strings");
  for (const auto& v : *it) {
    if (!v.is_string())
      throw std::invalid_argument("matchExpressions[" + std::to_string(i) + "].values: must be a list of strings");
    out.push_back(v.get<std::string>());
  }
  return out;
}

// Field selector values may escape ',', '=' and '\' with a backslash.
std::vector<std::string> SplitTerms(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      cur += text[i];
      cur += text[++i];
    } else if (text[i] == ',') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += text[i];
    }
  }
  out.push_back(cur);
  return out;
}

std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) ++i;
    out += s[i];
  }
  return out;
}

std::string Trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && IsSpace(s[b])) ++b;
  while (e > b && IsSpace(s[e - 1])) --e;
  return s.substr(b, e - b);
}

// The operator of a term: the first unescaped "!=", "==" or "=".
bool SplitTerm(const std::string& term, std::string& field, std::string& op, std::string& value) {
  for (size_t i = 0; i < term.size(); ++i) {
    if (term[i] == '\\') {
      ++i;
      continue;
    }
    for (const char* candidate : {"!=", "==", "="}) {
      if (term.compare(i, std::char_traits<char>::length(candidate), candidate) == 0) {
        field = Trim(term.substr(0, i));
        op = candidate;
        value = Unescape(Trim(term.substr(i + op.size())));
        return true;
      }
    }
  }
  return false;
}

}  // namespace

LabelSelector LabelSelector::Parse(const std::string& text) {
  LabelSelector s;
  s.requirements_ = LabelParser(text).Parse();
  return s;
}

LabelSelector LabelSelector::FromObject(const nlohmann::json& selector) {
  LabelSelector s;
  if (selector.is_null()) {
    // A nil metav1.LabelSelector selects nothing (labels.Nothing()); "in ()" can never match.
    s.requirements_.push_back({"", "in", {}});
    return s;
  }
  if (!selector.is_object()) throw std::invalid_argument("label selector: must be an object with matchLabels and matchExpressions");
  for (auto it = selector.begin(); it != selector.end(); ++it)
    if (it.key() != "matchLabels" && it.key() != "matchExpressions")
      throw std::invalid_argument("label selector: unknown field \"" + it.key() +
                                  "\" (expected matchLabels and matchExpressions)");
  if (auto ml = selector.find("matchLabels"); ml != selector.end() && !ml->is_null()) {
    if (!ml->is_object()) throw std::invalid_argument("matchLabels: must be a map of strings");
    for (auto it = ml->begin(); it != ml->end(); ++it) {
      if (!it->is_string()) throw std::invalid_argument("matchLabels." + it.key() + ": must be a string");
      CheckKey(it.key());
      CheckValue(it->get<std::string>());
      s.requirements_.push_back({it.key(), "=", {it->get<std::string>()}});
    }
  }
  if (auto me = selector.find("matchExpressions"); me != selector.end() && !me->is_null()) {
    if (!me->is_array()) throw std::invalid_argument("matchExpressions: must be a list");
    for (size_t i = 0; i < me->size(); ++i) {
      const json& expr = (*me)[i];
      std::string where = "matchExpressions[" + std::to_string(i) + "]";
      if (!expr.is_object() || !expr.contains("key") || !expr["key"].is_string())
        throw std::invalid_argument(where + ".key: Required value");
      std::string key = expr["key"].get<std::string>();
      CheckKey(key);
      std::string op = expr.value("operator", "");
      std::vector<std::string> values = ExpressionValues(expr, i);
      if (op == "In" || op == "NotIn") {
        if (values.empty())
          throw std::invalid_argument(where + ".values: Required value: must be specified when `operator` is 'In' or 'NotIn'");
        for (const auto& v : values) CheckValue(v);
        s.requirements_.push_back({key, op == "In" ? "in" : "notin", values});
      } else if (op == "Exists" || op == "DoesNotExist") {
        if (!values.empty())
          throw std::invalid_argument(where + ".values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
        s.requirements_.push_back({key, op == "Exists" ? "exists" : "!", {}});
      } else {
        throw std::invalid_argument(where + ".operator: Unsupported value: \"" + op +
                                    "\": supported values: \"In\", \"NotIn\", \"Exists\", \"DoesNotExist\"");
      }
    }
  }
  return s;
}

bool LabelSelector::Matches(const nlohmann::json& labels) const {
  for (const auto& r : requirements_) {
    bool present = false;
    std::string value = LabelOf(labels, r.key, present);
    bool ok = false;
    if (r.op == "=") ok = present && value == r.values[0];
    else if (r.op == "!=") ok = !present || value != r.values[0];
    else if (r.op == "in") ok = present && Contains(r.values, value);
    else if (r.op == "notin") ok = !present || !Contains(r.values, value);
    else if (r.op == "exists") ok = present;
    else if (r.op == "!") ok = !present;
    else if (r.op == "gt" || r.op == "lt") {
      static const std::regex kInteger("^-?[0-9]{1,18}$");
      if (present && std::regex_match(value, kInteger)) {
        long long have = std::stoll(value), want = std::stoll(r.values[0]);
        ok = r.op == "gt" ? have > want : have < want;
      }
    }
    if (!ok) return false;
  }
  return true;
}

namespace {

// Fields the API server lets a list select on, beyond metadata.name and metadata.namespace:
// those of core/v1 Events (what `kubectl describe` and event tools ask for), by JSON path.
const std::map<std::string, std::string>& SelectableFields() {
  static const std::map<std::string, std::string> fields = {
      {"metadata.name", "metadata.name"},
      {"metadata.namespace", "metadata.namespace"},
      {"involvedObject.kind", "involvedObject.kind"},
      {"involvedObject.namespace", "involvedObject.namespace"},
      {"involvedObject.name", "involvedObject.name"},
      {"involvedObject.uid", "involvedObject.uid"},
      {"involvedObject.apiVersion", "involvedObject.apiVersion"},
      {"involvedObject.resourceVersion", "involvedObject.resourceVersion"},
      {"involvedObject.fieldPath", "involvedObject.fieldPath"},
      {"reason", "reason"},
      {"type", "type"},
      {"source", "source.component"},
      {"reportingComponent", "reportingComponent"},
  };
  return fields;
}

std::string StringAt(const nlohmann::json& object, const std::string& path) {
  const nlohmann::json* node = &object;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!node->is_object()) return "";
    auto it = node->find(key);
    if (it == node->end()) return "";
    node = &*it;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return node->is_string() ? node->get<std::string>() : "";
}

}  // namespace

FieldSelector FieldSelector::Parse(const std::string& text) {
  FieldSelector s;
  if (Trim(text).empty()) return s;
  for (const auto& raw : SplitTerms(text)) {
    std::string field, op, value;
    if (!SplitTerm(raw, field, op, value))
      throw std::invalid_argument("invalid selector: '" + text + "'; can't understand '" + raw + "'");
    if (!SelectableFields().count(field))
      throw std::invalid_argument("\"" + field +
                                  "\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\" "
                                  "and the Event fields involvedObject.*, reason, type, source");
    s.terms_.push_back({field, op != "!=", value});
  }
  return s;
}

bool FieldSelector::Matches(const nlohmann::json& object) const {
  for (const auto& t : terms_)
    if ((StringAt(object, SelectableFields().at(t.field)) == t.value) != t.equal) return false;
  return true;
}

std::string FieldSelector::PinnedName() const {
  for (const auto& t : terms_)
    if (t.field == "metadata.name" && t.equal) return t.value;
  return "";
}

}  // namespace sluice::apimachinery
