// Private to schema*.cc: the parsed schema tree and the Go-style value printing that the API
// server's messages use.
#pragma once

#include "core/api_error.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace sluice::apimachinery::schema_internal {

struct Node;
using NodePtr = std::shared_ptr<const Node>;

struct Node {
  std::vector<std::string> types;  // empty: any type
  bool nullable = false;
  bool int_or_string = false;
  bool preserve_unknown = false;
  bool embedded_resource = false;
  std::string format;  // as written ("date-time"); only formats the API server checks are enforced

  std::optional<double> maximum, minimum, multiple_of;
  bool exclusive_maximum = false, exclusive_minimum = false;
  std::optional<int64_t> max_length, min_length, max_items, min_items, max_properties, min_properties;
  std::string pattern;
  std::shared_ptr<const std::regex> regex;  // null when std::regex cannot compile the pattern
  bool unique_items = false;
  std::optional<nlohmann::json> enum_values;
  std::vector<std::string> required;

  std::map<std::string, NodePtr> properties;
  bool has_additional = false;     // additionalProperties present (schema or bool)
  bool additional_allows = true;   // additionalProperties: false -> false
  NodePtr additional;              // additionalProperties as a schema
  NodePtr items;
  std::vector<NodePtr> all_of, any_of, one_of;
  NodePtr not_schema;

  std::optional<nlohmann::json> default_value;
  std::string list_type;  // atomic | set | map ("" when unset)
  std::vector<std::string> list_map_keys;

  bool IsArray() const { return items != nullptr || (types.size() == 1 && types[0] == "array"); }
};

// Parses an openAPIV3Schema; throws std::invalid_argument naming `where` on a bad schema.
NodePtr ParseNode(const nlohmann::json& schema, const std::string& where);

// The three steps of a write, on the resource root (apiVersion, kind and metadata are the
// server's business there).
std::vector<core::StatusCause> ValidateResource(const Node& root, const nlohmann::json& object);
void DefaultResource(const Node& root, nlohmann::json& object);
std::vector<std::string> PruneResource(const Node& root, nlohmann::json& object);

// Whether `s` passes a string `format` the API server checks (date-time, ipv4, ...); formats
// it does not check pass.
bool IsFormatValid(const std::string& format, const std::string& s);

// Field paths as the API server prints them: "spec.rules[0].name".
inline std::string Child(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}
inline std::string Index(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

// Go's strconv.Quote.
std::string GoQuote(const std::string& s);
// Go's %v of a float64 ("1e+06", "0.5", "3").
std::string GoFloat(double v);
// How field.Error prints a bad value: %v for numbers and booleans, %q for strings, %#v for
// maps and slices (map[string]interface {}{"a":1}), "null" for null.
std::string GoValue(const nlohmann::json& v);

}  // namespace sluice::apimachinery::schema_internal
