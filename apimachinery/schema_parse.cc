// Turning an openAPIV3Schema into the tree the validator walks, and printing values the way
// the API server's Go code does, so messages match what users see from a real cluster.
#include <charconv>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

#include "apimachinery/schema_internal.h"

namespace sluice::apimachinery::schema_internal {
namespace {

using nlohmann::json;

[[noreturn]] void Bad(const std::string& where, const std::string& what) {
  throw std::invalid_argument("invalid openAPIV3Schema at " + where + ": " + what);
}

// Schemas of many CRD versions repeat the same patterns (DNS names, paths); compiling each
// once keeps loading a few hundred CRDs fast.
std::shared_ptr<const std::regex> CompilePattern(const std::string& pattern) {
  static std::mutex mu;
  static std::unordered_map<std::string, std::shared_ptr<const std::regex>> cache;
  std::lock_guard lock(mu);
  auto it = cache.find(pattern);
  if (it != cache.end()) return it->second;
  std::shared_ptr<const std::regex> compiled;
  try {
    compiled = std::make_shared<const std::regex>(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error&) {
    // RE2 syntax that ECMAScript lacks ((?i), \z, \pL): the pattern is skipped rather than
    // refusing the CRD, because the API server accepts it.
    compiled = nullptr;
  }
  cache.emplace(pattern, compiled);
  return compiled;
}

std::optional<double> Number(const json& s, const char* key, const std::string& where) {
  auto it = s.find(key);
  if (it == s.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) Bad(where + "." + key, "must be a number");
  return it->get<double>();
}

std::optional<int64_t> Count(const json& s, const char* key, const std::string& where) {
  auto it = s.find(key);
  if (it == s.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer() || it->get<int64_t>() < 0) Bad(where + "." + key, "must be a non-negative integer");
  return it->get<int64_t>();
}

bool Flag(const json& s, const char* key, const std::string& where) {
  auto it = s.find(key);
  if (it == s.end() || it->is_null()) return false;
  if (!it->is_boolean()) Bad(where + "." + key, "must be a boolean");
  return it->get<bool>();
}

std::string Text(const json& s, const char* key, const std::string& where) {
  auto it = s.find(key);
  if (it == s.end() || it->is_null()) return "";
  if (!it->is_string()) Bad(where + "." + key, "must be a string");
  return it->get<std::string>();
}

std::vector<std::string> Strings(const json& s, const char* key, const std::string& where) {
  std::vector<std::string> out;
  auto it = s.find(key);
  if (it == s.end() || it->is_null()) return out;
  if (!it->is_array()) Bad(where + "." + key, "must be a list of strings");
  for (const auto& v : *it) {
    if (!v.is_string()) Bad(where + "." + key, "must be a list of strings");
    out.push_back(v.get<std::string>());
  }
  return out;
}

std::vector<NodePtr> Branches(const json& s, const char* key, const std::string& where) {
  std::vector<NodePtr> out;
  auto it = s.find(key);
  if (it == s.end() || it->is_null()) return out;
  if (!it->is_array()) Bad(where + "." + key, "must be a list of schemas");
  for (size_t i = 0; i < it->size(); ++i)
    out.push_back(ParseNode((*it)[i], where + "." + key + "[" + std::to_string(i) + "]"));
  return out;
}

void ParseTypes(const json& s, const std::string& where, Node& n) {
  std::string type = Text(s, "type", where);
  static const char* const kKnown[] = {"object", "array", "string", "integer", "number", "boolean"};
  if (!type.empty()) {
    bool known = false;
    for (const char* k : kKnown) known = known || type == k;
    if (!known) Bad(where + ".type", "unsupported type \"" + type + "\"");
    n.types.push_back(type);
  }
  n.int_or_string = Flag(s, "x-kubernetes-int-or-string", where);
  // The API server checks int-or-string fields as "type: [integer, string]", whatever the
  // schema's own type says.
  if (n.int_or_string) n.types = {"integer", "string"};
}

void ParseValueLimits(const json& s, const std::string& where, Node& n) {
  n.format = Text(s, "format", where);
  n.maximum = Number(s, "maximum", where);
  n.minimum = Number(s, "minimum", where);
  n.multiple_of = Number(s, "multipleOf", where);
  if (n.multiple_of && *n.multiple_of <= 0) Bad(where + ".multipleOf", "must be positive");
  n.exclusive_maximum = Flag(s, "exclusiveMaximum", where);
  n.exclusive_minimum = Flag(s, "exclusiveMinimum", where);
  n.max_length = Count(s, "maxLength", where);
  n.min_length = Count(s, "minLength", where);
  n.max_items = Count(s, "maxItems", where);
  n.min_items = Count(s, "minItems", where);
  n.max_properties = Count(s, "maxProperties", where);
  n.min_properties = Count(s, "minProperties", where);
  n.unique_items = Flag(s, "uniqueItems", where);
  n.pattern = Text(s, "pattern", where);
  if (!n.pattern.empty()) n.regex = CompilePattern(n.pattern);
  if (auto it = s.find("enum"); it != s.end() && !it->is_null()) {
    if (!it->is_array()) Bad(where + ".enum", "must be a list");
    n.enum_values = *it;
  }
  if (auto it = s.find("default"); it != s.end()) n.default_value = *it;
}

void ParseChildren(const json& s, const std::string& where, Node& n) {
  if (auto it = s.find("properties"); it != s.end() && !it->is_null()) {
    if (!it->is_object()) Bad(where + ".properties", "must be a map of schemas");
    for (auto p = it->begin(); p != it->end(); ++p)
      n.properties[p.key()] = ParseNode(p.value(), where + ".properties[" + p.key() + "]");
  }
  if (auto it = s.find("additionalProperties"); it != s.end() && !it->is_null()) {
    n.has_additional = true;
    if (it->is_boolean()) {
      n.additional_allows = it->get<bool>();
    } else if (it->is_object()) {
      n.additional = ParseNode(*it, where + ".additionalProperties");
    } else {
      Bad(where + ".additionalProperties", "must be a schema or a boolean");
    }
  }
  if (auto it = s.find("items"); it != s.end() && !it->is_null()) {
    // Structural schemas allow one schema for all items; tuple forms are refused by the API
    // server when the CRD is created.
    if (!it->is_object()) Bad(where + ".items", "must be a single schema");
    n.items = ParseNode(*it, where + ".items");
  }
  n.all_of = Branches(s, "allOf", where);
  n.any_of = Branches(s, "anyOf", where);
  n.one_of = Branches(s, "oneOf", where);
  if (auto it = s.find("not"); it != s.end() && !it->is_null()) n.not_schema = ParseNode(*it, where + ".not");
}

void ParseExtensions(const json& s, const std::string& where, Node& n) {
  n.nullable = Flag(s, "nullable", where);
  n.preserve_unknown = Flag(s, "x-kubernetes-preserve-unknown-fields", where);
  n.embedded_resource = Flag(s, "x-kubernetes-embedded-resource", where);
  n.required = Strings(s, "required", where);
  n.list_type = Text(s, "x-kubernetes-list-type", where);
  if (!n.list_type.empty() && n.list_type != "atomic" && n.list_type != "set" && n.list_type != "map")
    Bad(where + ".x-kubernetes-list-type", "must be atomic, set or map, not \"" + n.list_type + "\"");
  n.list_map_keys = Strings(s, "x-kubernetes-list-map-keys", where);
  if (n.list_type == "map" && n.list_map_keys.empty())
    Bad(where + ".x-kubernetes-list-map-keys", "must name at least one key when x-kubernetes-list-type is map");
}

void AppendGoFloatDigits(std::string& out, double v) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  auto e = sci.find('e');
  std::string mantissa = sci.substr(0, e);
  int exponent = std::stoi(sci.substr(e + 1));
  std::string digits;
  for (char c : mantissa)
    if (c >= '0' && c <= '9') digits += c;
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  // strconv.FormatFloat(v, 'g', -1, 64): exponent form when exp < -4 || exp >= 6.
  if (exponent < -4 || exponent >= 6) {
    out += digits[0];
    if (digits.size() > 1) out += "." + digits.substr(1);
    char exp[16];
    std::snprintf(exp, sizeof exp, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    out += exp;
    return;
  }
  int point = exponent + 1;  // digits before the decimal point
  if (point <= 0) {
    out += "0." + std::string(static_cast<size_t>(-point), '0') + digits;
  } else if (static_cast<size_t>(point) >= digits.size()) {
    out += digits + std::string(static_cast<size_t>(point) - digits.size(), '0');
  } else {
    out += digits.substr(0, static_cast<size_t>(point)) + "." + digits.substr(static_cast<size_t>(point));
  }
}

std::string GoSharpV(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "interface {}(nil)";
    case json::value_t::object: {
      std::string out = "map[string]interface {}{";
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it) {  // nlohmann objects iterate sorted, as Go prints maps
        if (!first) out += ", ";
        first = false;
        out += GoQuote(it.key()) + ":" + GoSharpV(it.value());
      }
      return out + "}";
    }
    case json::value_t::array: {
      std::string out = "[]interface {}{";
      for (size_t i = 0; i < v.size(); ++i) {
        if (i) out += ", ";
        out += GoSharpV(v[i]);
      }
      return out + "}";
    }
    default:
      return GoValue(v);
  }
}

}  // namespace

NodePtr ParseNode(const json& schema, const std::string& where) {
  if (!schema.is_object()) Bad(where, "must be an object");
  auto n = std::make_shared<Node>();
  ParseTypes(schema, where, *n);
  ParseValueLimits(schema, where, *n);
  ParseChildren(schema, where, *n);
  ParseExtensions(schema, where, *n);
  return n;
}

std::string GoQuote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\a': out += "\\a"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\v': out += "\\v"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char esc[8];
          std::snprintf(esc, sizeof esc, "\\x%02x", c);
          out += esc;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string GoFloat(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == 0) return std::signbit(v) ? "-0" : "0";
  std::string out;
  if (v < 0) {
    out = "-";
    v = -v;
  }
  AppendGoFloatDigits(out, v);
  return out;
}

std::string GoValue(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::string:
      return GoQuote(v.get<std::string>());
    case json::value_t::boolean:
      return v.get<bool>() ? "true" : "false";
    case json::value_t::number_integer:
      return std::to_string(v.get<int64_t>());
    case json::value_t::number_unsigned:
      return std::to_string(v.get<uint64_t>());
    case json::value_t::number_float:
      return GoFloat(v.get<double>());
    default:
      return GoSharpV(v);
  }
}

}  // namespace sluice::apimachinery::schema_internal
