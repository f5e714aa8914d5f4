#include "core/yaml_json.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>

#include "core/utf8.h"

namespace sluice::core {
namespace {

using nlohmann::json;

constexpr std::string_view kStrTag = "tag:yaml.org,2002:str";
constexpr std::string_view kIntTag = "tag:yaml.org,2002:int";
constexpr std::string_view kFloatTag = "tag:yaml.org,2002:float";
constexpr std::string_view kBoolTag = "tag:yaml.org,2002:bool";
constexpr std::string_view kNullTag = "tag:yaml.org,2002:null";

std::string Where(const YAML::Mark& mark) {
  if (mark.is_null()) return "yaml";
  return "yaml: line " + std::to_string(mark.line + 1) + ", column " + std::to_string(mark.column + 1);
}

std::optional<bool> ResolveBool(const std::string& s) {
  // go-yaml v2 keeps the YAML 1.1 spellings, so "on" and "y" are booleans in a manifest.
  static const char* const kTrue[] = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"};
  static const char* const kFalse[] = {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"};
  for (const char* t : kTrue)
    if (s == t) return true;
  for (const char* f : kFalse)
    if (s == f) return false;
  return std::nullopt;
}

bool IsNullSpelling(const std::string& s) { return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL"; }

// Digits of `base` with Go's strconv.ParseInt(s, 0, 64) prefixes; nullopt when not an integer.
std::optional<json> ParseInteger(std::string s) {
  std::string plain;
  for (char c : s)
    if (c != '_') plain += c;
  if (plain.empty()) return std::nullopt;
  bool negative = false;
  size_t i = 0;
  if (plain[0] == '+' || plain[0] == '-') {
    negative = plain[0] == '-';
    i = 1;
  }
  int base = 10;
  if (plain.size() > i + 1 && plain[i] == '0') {
    char p = plain[i + 1];
    if (p == 'x' || p == 'X') base = 16, i += 2;
    else if (p == 'o' || p == 'O') base = 8, i += 2;
    else if (p == 'b' || p == 'B') base = 2, i += 2;
    else base = 8, i += 1;
  }
  if (i >= plain.size()) return std::nullopt;
  unsigned long long magnitude = 0;
  for (; i < plain.size(); ++i) {
    char c = plain[i];
    int digit;
    if (c >= '0' && c <= '9') digit = c - '0';
    else if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
    else return std::nullopt;
    if (digit >= base) return std::nullopt;
    if (magnitude > (std::numeric_limits<unsigned long long>::max() - static_cast<unsigned>(digit)) / base)
      return std::nullopt;
    magnitude = magnitude * base + static_cast<unsigned>(digit);
  }
  if (negative) {
    constexpr unsigned long long kMinMagnitude = static_cast<unsigned long long>(std::numeric_limits<int64_t>::max()) + 1;
    if (magnitude > kMinMagnitude) return std::nullopt;
    if (magnitude == kMinMagnitude) return json(std::numeric_limits<int64_t>::min());
    return json(-static_cast<int64_t>(magnitude));
  }
  if (magnitude <= static_cast<unsigned long long>(std::numeric_limits<int64_t>::max()))
    return json(static_cast<int64_t>(magnitude));
  return json(static_cast<uint64_t>(magnitude));
}

// A float that is a whole number becomes an integer: the API server re-encodes 1.0 as 1 and
// decodes it back as an int64, so a schema of type integer accepts it either way.
json NumberFromDouble(double d) {
  if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9.2e18) return json(static_cast<int64_t>(d));
  return json(d);
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?, checked by hand: std::regex matches
// recursively, a frame or more per character, and a 60 KB plain scalar of digits overflowed
// the stack.
bool IsYamlFloat(std::string_view s) {
  size_t i = 0;
  auto digits = [&] {
    size_t first = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i > first;
  };
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  } else {
    if (!digits()) return false;
    if (i < s.size() && s[i] == '.') {
      ++i;
      digits();
    }
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    if (!digits()) return false;
  }
  return i == s.size();
}

std::optional<json> ParseFloat(const std::string& s) {
  std::string plain;
  for (char c : s)
    if (c != '_') plain += c;
  if (plain == ".nan" || plain == ".NaN" || plain == ".NAN" || plain.find(".inf") != std::string::npos ||
      plain.find(".Inf") != std::string::npos || plain.find(".INF") != std::string::npos) {
    // JSON has no NaN or infinity; Kubernetes' YAML-to-JSON step refuses them as well.
    return std::nullopt;
  }
  if (!IsYamlFloat(plain)) return std::nullopt;
  try {
    return NumberFromDouble(std::stod(plain));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

json ResolvePlainScalar(const std::string& s) {
  if (IsNullSpelling(s)) return nullptr;
  if (auto b = ResolveBool(s)) return *b;
  char first = s[0];
  if ((first >= '0' && first <= '9') || first == '-' || first == '+' || first == '.') {
    if (auto i = ParseInteger(s)) return *i;
    if (auto f = ParseFloat(s)) return *f;
  }
  return s;
}

json ResolveTaggedScalar(const std::string& tag, const std::string& s, const YAML::Mark& mark) {
  if (tag == "!" || tag == kStrTag) return s;
  if (tag == kNullTag) return nullptr;
  if (tag == kBoolTag) {
    if (auto b = ResolveBool(s)) return *b;
    throw std::invalid_argument(Where(mark) + ": cannot decode !!str `" + s + "` as a !!bool");
  }
  if (tag == kIntTag) {
    if (auto i = ParseInteger(s)) return *i;
    throw std::invalid_argument(Where(mark) + ": cannot decode !!str `" + s + "` as a !!int");
  }
  if (tag == kFloatTag) {
    if (auto i = ParseInteger(s)) return *i;
    if (auto f = ParseFloat(s)) return *f;
    throw std::invalid_argument(Where(mark) + ": cannot decode !!str `" + s + "` as a !!float");
  }
  // Plain scalars carry "?"; any other local tag is kept as its text, as go-yaml does.
  if (tag == "?" || tag.empty()) return ResolvePlainScalar(s);
  return s;
}

void MergeInto(json& target, const json& source) {
  if (!source.is_object()) return;
  for (auto it = source.begin(); it != source.end(); ++it)
    if (!target.contains(it.key())) target[it.key()] = it.value();
}

size_t CountValues(const json& v, size_t limit) {
  size_t n = 1;
  if (v.is_object() || v.is_array())
    for (const auto& child : v) {
      n += CountValues(child, limit);
      if (n > limit) break;
    }
  return n;
}

// A few aliases can stand for an exponentially large document ("billion laughs"); go-yaml
// refuses excessive aliasing and so do we.
constexpr size_t kMaxValues = 1000000;
constexpr size_t kMaxDepth = 512;

// Builds JSON straight from parser events. Driving the parser ourselves (rather than
// YAML::LoadAll) lets us stop on input such as ",a", where yaml-cpp 0.7 never consumes the
// stray ',' and would hand out empty documents forever.
class JsonBuilder : public YAML::EventHandler {
 public:
  std::optional<json> document;
  YAML::Mark start;

  void OnDocumentStart(const YAML::Mark& mark) override {
    document.reset();
    stack_.clear();
    anchors_.clear();
    values_ = 0;
    start = mark;
  }
  void OnDocumentEnd() override {
    if (!document) document = json(nullptr);
  }
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { Add(nullptr, "null", true, anchor, mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) throw std::invalid_argument(Where(mark) + ": unknown anchor referenced");
    values_ += CountValues(it->second, kMaxValues);
    Add(it->second, it->second.is_string() ? it->second.get<std::string>() : it->second.dump(),
        !it->second.is_object() && !it->second.is_array(), 0, mark);
  }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    // JSON text is UTF-8 and go-yaml refuses any other bytes: a manifest holding them is an
    // error here, with its line, rather than an exception when the object is sent.
    if (size_t at = InvalidUtf8At(value); at != std::string_view::npos) {
      char byte[8];
      std::snprintf(byte, sizeof byte, "0x%02X", static_cast<unsigned char>(value[at]));
      throw std::invalid_argument(Where(mark) + ": invalid UTF-8 (byte " + byte + " at offset " + std::to_string(at) +
                                  " of the scalar): YAML text must be UTF-8");
    }
    Frame* map = stack_.empty() || !stack_.back().value.is_object() ? nullptr : &stack_.back();
    // A plain "<<" in key position is a merge key, not a field called "<<".
    if (map && !map->key && tag == "?" && value == "<<") {
      map->key = "<<";
      map->merging = true;
      return;
    }
    Add(ResolveTaggedScalar(tag, value, mark), value, true, anchor, mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Push(json::array(), anchor, mark);
  }
  void OnSequenceEnd() override { Pop(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Push(json::object(), anchor, mark);
  }
  void OnMapEnd() override {
    MergeInto(stack_.back().value, stack_.back().merged);
    Pop();
  }

 private:
  struct Frame {
    json value;
    YAML::anchor_t anchor;
    YAML::Mark mark;
    std::optional<std::string> key;  // a map's key waiting for its value
    bool merging = false;
    json merged = json::object();
  };

  void Push(json value, YAML::anchor_t anchor, const YAML::Mark& mark) {
    if (stack_.size() >= kMaxDepth) throw std::invalid_argument(Where(mark) + ": document nested too deeply");
    stack_.push_back({std::move(value), anchor, mark});
  }

  void Pop() {
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    Add(std::move(f.value), "", false, f.anchor, f.mark);
  }

  void Add(json value, const std::string& text, bool scalar, YAML::anchor_t anchor, const YAML::Mark& mark) {
    if (++values_ > kMaxValues)
      throw std::invalid_argument(Where(mark) + ": document contains excessive aliasing (more than " +
                                  std::to_string(kMaxValues) + " values)");
    if (anchor) anchors_[anchor] = value;
    if (stack_.empty()) {
      document = std::move(value);
      return;
    }
    Frame& parent = stack_.back();
    if (parent.value.is_array()) {
      parent.value.push_back(std::move(value));
      return;
    }
    if (!parent.key) {
      if (!scalar)
        throw std::invalid_argument(Where(mark) + ": a mapping key must be a scalar, not a " +
                                    (value.is_object() ? std::string("mapping") : std::string("sequence")));
      parent.key = text;
      return;
    }
    if (parent.merging) {
      if (value.is_array()) {
        for (const auto& m : value) MergeInto(parent.merged, m);
      } else if (value.is_object()) {
        MergeInto(parent.merged, value);
      } else {
        throw std::invalid_argument(Where(mark) + ": map merge requires a map or a sequence of maps");
      }
      parent.merging = false;
    } else {
      parent.value[*parent.key] = std::move(value);
    }
    parent.key.reset();
  }

  std::vector<Frame> stack_;
  std::map<YAML::anchor_t, json> anchors_;
  size_t values_ = 0;
};

// Calls `each` for every document; refuses a stream that stops making progress.
template <typename Each>
void ForEachDocument(std::string_view text, Each each) {
  std::istringstream in{std::string(text)};
  try {
    YAML::Parser parser(in);
    JsonBuilder builder;
    std::optional<size_t> last_start;
    while (parser.HandleNextDocument(builder)) {
      if (last_start && *last_start == static_cast<size_t>(builder.start.pos))
        throw std::invalid_argument(Where(builder.start) + ": did not find expected node content");
      last_start = static_cast<size_t>(builder.start.pos);
      if (!each(std::move(*builder.document))) return;
    }
  } catch (const YAML::Exception& e) {
    // yaml-cpp quotes the offending byte ("unknown escape character: \xb0"); the message
    // becomes a condition, so it is made UTF-8.
    throw std::invalid_argument(Where(e.mark) + ": " + ValidUtf8(e.msg));
  }
}

}  // namespace

nlohmann::json ParseYaml(std::string_view text) {
  json first;
  bool have = false;
  // Later documents are read too, so that trailing garbage is an error rather than ignored.
  ForEachDocument(text, [&](json doc) {
    if (!have) first = std::move(doc);
    have = true;
    return true;
  });
  return first;
}

std::vector<nlohmann::json> ParseYamlDocuments(std::string_view text) {
  std::vector<nlohmann::json> out;
  ForEachDocument(text, [&](json doc) {
    if (!doc.is_null()) out.push_back(std::move(doc));
    return true;
  });
  return out;
}

}  // namespace sluice::core
