#include "sandbox/apimachinery/yaml_json.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>

namespace sluice::apimachinery {
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

std::optional<json> ParseFloat(const std::string& s) {
  static const std::regex kYamlFloat(R"(^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$)");
  std::string plain;
  for (char c : s)
    if (c != '_') plain += c;
  if (plain == ".nan" || plain == ".NaN" || plain == ".NAN" || plain.find(".inf") != std::string::npos ||
      plain.find(".Inf") != std::string::npos || plain.find(".INF") != std::string::npos) {
    // JSON has no NaN or infinity; Kubernetes' YAML-to-JSON step refuses them as well.
    return std::nullopt;
  }
  if (!std::regex_match(plain, kYamlFloat)) return std::nullopt;
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

json ResolveTaggedScalar(const YAML::Node& node) {
  const std::string& tag = node.Tag();
  const std::string& s = node.Scalar();
  if (tag == "!" || tag == kStrTag) return s;
  if (tag == kNullTag) return nullptr;
  if (tag == kBoolTag) {
    if (auto b = ResolveBool(s)) return *b;
    throw std::invalid_argument(Where(node.Mark()) + ": cannot decode !!str `" + s + "` as a !!bool");
  }
  if (tag == kIntTag) {
    if (auto i = ParseInteger(s)) return *i;
    throw std::invalid_argument(Where(node.Mark()) + ": cannot decode !!str `" + s + "` as a !!int");
  }
  if (tag == kFloatTag) {
    if (auto i = ParseInteger(s)) return *i;
    if (auto f = ParseFloat(s)) return *f;
    throw std::invalid_argument(Where(node.Mark()) + ": cannot decode !!str `" + s + "` as a !!float");
  }
  // Plain scalars carry "?"; any other local tag is kept as its text, as go-yaml does.
  if (tag == "?" || tag.empty()) return ResolvePlainScalar(s);
  return s;
}

json Convert(const YAML::Node& node, int depth);

std::string KeyText(const YAML::Node& key) {
  if (key.IsNull()) return "null";
  if (!key.IsScalar())
    throw std::invalid_argument(Where(key.Mark()) + ": a mapping key must be a scalar, not a " +
                                (key.IsMap() ? std::string("mapping") : std::string("sequence")));
  return key.Scalar();
}

void MergeInto(json& target, const json& source) {
  if (!source.is_object()) return;
  for (auto it = source.begin(); it != source.end(); ++it)
    if (!target.contains(it.key())) target[it.key()] = it.value();
}

json ConvertMap(const YAML::Node& node, int depth) {
  json out = json::object();
  json merged = json::object();
  for (auto it = node.begin(); it != node.end(); ++it) {
    std::string key = KeyText(it->first);
    if (key == "<<" && it->first.Tag() == "?") {
      json value = Convert(it->second, depth + 1);
      if (value.is_array()) {
        for (const auto& m : value) MergeInto(merged, m);
      } else if (value.is_object()) {
        MergeInto(merged, value);
      } else {
        throw std::invalid_argument(Where(it->first.Mark()) + ": map merge requires a map or a sequence of maps");
      }
      continue;
    }
    out[key] = Convert(it->second, depth + 1);
  }
  MergeInto(out, merged);
  return out;
}

json Convert(const YAML::Node& node, int depth) {
  // Aliases can make a document exponentially large; refuse pathological nesting instead of
  // exhausting the stack.
  if (depth > 512) throw std::invalid_argument(Where(node.Mark()) + ": document nested too deeply");
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return nullptr;
    case YAML::NodeType::Scalar:
      return ResolveTaggedScalar(node);
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : node) out.push_back(Convert(item, depth + 1));
      return out;
    }
    case YAML::NodeType::Map:
      return ConvertMap(node, depth);
  }
  return nullptr;
}

}  // namespace

nlohmann::json ParseYaml(std::string_view text) {
  try {
    return Convert(YAML::Load(std::string(text)), 0);
  } catch (const YAML::Exception& e) {
    throw std::invalid_argument(Where(e.mark) + ": " + e.msg);
  }
}

std::vector<nlohmann::json> ParseYamlDocuments(std::string_view text) {
  std::vector<nlohmann::json> out;
  try {
    for (const auto& doc : YAML::LoadAll(std::string(text))) {
      json value = Convert(doc, 0);
      if (!value.is_null()) out.push_back(std::move(value));
    }
  } catch (const YAML::Exception& e) {
    throw std::invalid_argument(Where(e.mark) + ": " + e.msg);
  }
  return out;
}

}  // namespace sluice::apimachinery
