// Validation follows the API server's CRD path: the kube-openapi validator (type, composite,
// string, format, number, array, enum, object checks in that order) turned into field errors
// by apiextensions' kubeOpenAPIResultToFieldErrors, then the x-kubernetes-list-type checks.
//
// x-kubernetes-validations (CEL) rules are NOT evaluated: the emulator has no CEL
// interpreter, so objects a real cluster would refuse through a CEL rule are accepted here.
// See docs/sandbox-schema.md.
#include <cmath>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "apimachinery/schema_internal.h"

namespace sluice::apimachinery::schema_internal {
namespace {

using nlohmann::json;

using Causes = std::vector<core::StatusCause>;

// std::regex matches recursively (one stack frame per character for typical patterns); very
// long strings are not pattern-checked rather than risking the stack. Every pattern in the
// Gateway API and Istio CRDs sits on a field with a far smaller maxLength.
constexpr size_t kMaxPatternInput = 4096;

std::string FieldOf(const std::string& path) { return path.empty() ? "<nil>" : path; }

core::StatusCause Invalid(const std::string& path, const json& value, const std::string& detail) {
  return {"FieldValueInvalid", "Invalid value: " + GoValue(value) + ": " + detail, FieldOf(path)};
}
core::StatusCause TypeInvalid(const std::string& path, const json& value, const std::string& detail) {
  return {"FieldValueTypeInvalid", "Invalid value: " + GoValue(value) + ": " + detail, FieldOf(path)};
}
core::StatusCause Required(const std::string& path, const std::string& detail = "") {
  return {"FieldValueRequired", detail.empty() ? "Required value" : "Required value: " + detail, FieldOf(path)};
}
core::StatusCause Composite(const std::string& message) {
  // kube-openapi reports composite failures without a field; the API server then prints the
  // nil field path as "<nil>".
  return {"FieldValueInvalid", "Invalid value: \"\": " + message, "<nil>"};
}

std::string In(const std::string& path) { return path + " in body"; }

std::string SchemaType(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::string: return "string";
    case json::value_t::boolean: return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "integer";
    case json::value_t::number_float: return "number";
    case json::value_t::object: return "object";
    case json::value_t::array: return "array";
    default: return "null";
  }
}

bool Contains(const std::vector<std::string>& list, const std::string& s) {
  for (const auto& x : list)
    if (x == s) return true;
  return false;
}

std::string Joined(const std::vector<std::string>& list) {
  std::string out;
  for (const auto& s : list) out += (out.empty() ? "" : ",") + s;
  return out;
}

size_t RuneCount(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

bool JsonEqual(const json& a, const json& b) {
  if (a.is_number() && b.is_number()) return a.get<double>() == b.get<double>();
  return a == b;
}

// ---- the validator ----

class Validator {
 public:
  void Check(const Node& n, const json& v, const std::string& path, Causes& out, bool resource_root = false) const;

 private:
  bool CheckType(const Node& n, const json& v, const std::string& path, Causes& out) const;
  void CheckComposite(const Node& n, const json& v, const std::string& path, Causes& out) const;
  void CheckString(const Node& n, const std::string& s, const std::string& path, Causes& out) const;
  void CheckNumber(const Node& n, const json& v, const std::string& path, Causes& out) const;
  void CheckArray(const Node& n, const json& v, const std::string& path, Causes& out) const;
  void CheckEnum(const Node& n, const json& v, const std::string& path, Causes& out) const;
  void CheckObject(const Node& n, const json& v, const std::string& path, Causes& out, bool resource_root) const;
};

void Validator::Check(const Node& n, const json& v, const std::string& path, Causes& out, bool resource_root) const {
  if (v.is_null()) {
    CheckType(n, v, path, out);
    CheckEnum(n, v, path, out);
    return;
  }
  CheckType(n, v, path, out);
  CheckComposite(n, v, path, out);
  if (v.is_string()) CheckString(n, v.get_ref<const std::string&>(), path, out);
  if (v.is_number()) CheckNumber(n, v, path, out);
  if (v.is_array()) CheckArray(n, v, path, out);
  CheckEnum(n, v, path, out);
  if (v.is_object()) CheckObject(n, v, path, out, resource_root);
}

bool Validator::CheckType(const Node& n, const json& v, const std::string& path, Causes& out) const {
  if (v.is_null()) {
    if (!n.types.empty() && !n.nullable) {
      out.push_back(TypeInvalid(path, "null", In(path) + " must be of type " + Joined(n.types) + ": \"null\""));
      return false;
    }
    return true;
  }
  if (n.types.empty()) return true;
  // kube-openapi lets any string or list through a non-numeric field that has a format (the
  // format check then looks at strings only); a real server accepts [1] for a date-time.
  bool numeric = Contains(n.types, "integer") || Contains(n.types, "number");
  if (!numeric && !n.format.empty() && (v.is_string() || v.is_array())) return true;
  std::string type = SchemaType(v);
  bool float_int = type == "number" && std::floor(v.get<double>()) == v.get<double>() && Contains(n.types, "integer");
  bool int_float = type == "integer" && Contains(n.types, "number");
  if (Contains(n.types, type) || float_int || int_float) return true;
  if (!n.format.empty() && !v.is_string() && !v.is_array()) {
    std::string data_format = type == "integer" ? "int64" : type == "number" ? "double" : "";
    out.push_back(TypeInvalid(path, data_format, In(path) + " must be of type " + n.format + ": " + GoQuote(data_format)));
    return false;
  }
  out.push_back(TypeInvalid(path, type, In(path) + " must be of type " + Joined(n.types) + ": " + GoQuote(type)));
  return false;
}

void Validator::CheckComposite(const Node& n, const json& v, const std::string& path, Causes& out) const {
  if (!n.any_of.empty()) {
    const Causes* best = nullptr;
    std::vector<Causes> results(n.any_of.size());
    bool ok = false;
    for (size_t i = 0; i < n.any_of.size() && !ok; ++i) {
      Check(*n.any_of[i], v, path, results[i]);
      if (results[i].empty()) ok = true;
      else if (!best || results[i].size() < best->size()) best = &results[i];
    }
    if (!ok) {
      out.push_back(Composite(GoQuote(path) + " must validate at least one schema (anyOf)"));
      out.insert(out.end(), best->begin(), best->end());
    }
  }
  if (!n.one_of.empty()) {
    int valid = 0;
    std::optional<Causes> best;
    for (const auto& branch : n.one_of) {
      Causes r;
      Check(*branch, v, path, r);
      if (r.empty()) {
        ++valid;
        best.reset();
      } else if (valid == 0 && (!best || r.size() < best->size())) {
        best = std::move(r);
      }
    }
    if (valid != 1) {
      std::string why = valid == 0 ? "Found none valid" : "Found " + std::to_string(valid) + " valid alternatives";
      out.push_back(Composite(GoQuote(path) + " must validate one and only one schema (oneOf). " + why));
      if (best) out.insert(out.end(), best->begin(), best->end());
    }
  }
  if (!n.all_of.empty()) {
    size_t valid = 0;
    for (const auto& branch : n.all_of) {
      Causes r;
      Check(*branch, v, path, r);
      if (r.empty()) ++valid;
      out.insert(out.end(), r.begin(), r.end());
    }
    if (valid != n.all_of.size())
      out.push_back(Composite(GoQuote(path) + " must validate all the schemas (allOf)" +
                              (valid == 0 ? std::string(". None validated") : std::string())));
  }
  if (n.not_schema) {
    Causes r;
    Check(*n.not_schema, v, path, r);
    if (r.empty()) out.push_back(Composite(GoQuote(path) + " must not validate the schema (not)"));
  }
}

void Validator::CheckString(const Node& n, const std::string& s, const std::string& path, Causes& out) const {
  size_t runes = RuneCount(s);
  if (n.max_length && runes > static_cast<size_t>(*n.max_length))
    out.push_back({"FieldValueTooLong", "Too long: may not be more than " + std::to_string(*n.max_length) + " bytes",
                   FieldOf(path)});
  if (n.min_length && runes < static_cast<size_t>(*n.min_length))
    out.push_back(Invalid(path, s,
                          In(path) + " should be at least " + std::to_string(*n.min_length) + " chars long"));
  if (n.regex && s.size() <= kMaxPatternInput && !std::regex_search(s, *n.regex))
    out.push_back(Invalid(path, s, In(path) + " should match '" + n.pattern + "'"));
  bool string_typed = n.types.empty() || Contains(n.types, "string");
  if (!n.format.empty() && string_typed && !IsFormatValid(n.format, s))
    out.push_back(TypeInvalid(path, s, In(path) + " must be of type " + n.format + ": " + GoQuote(s)));
}

void Validator::CheckNumber(const Node& n, const json& v, const std::string& path, Causes& out) const {
  double d = v.get<double>();
  if (n.multiple_of) {
    double q = d / *n.multiple_of;
    if (std::fabs(q - std::round(q)) > 1e-9)
      out.push_back(Invalid(path, v, In(path) + " should be a multiple of " + GoFloat(*n.multiple_of)));
  }
  if (n.maximum && (n.exclusive_maximum ? d >= *n.maximum : d > *n.maximum))
    out.push_back(Invalid(path, v,
                          In(path) + (n.exclusive_maximum ? " should be less than " : " should be less than or equal to ") +
                              GoFloat(*n.maximum)));
  if (n.minimum && (n.exclusive_minimum ? d <= *n.minimum : d < *n.minimum))
    out.push_back(Invalid(path, v,
                          In(path) +
                              (n.exclusive_minimum ? " should be greater than " : " should be greater than or equal to ") +
                              GoFloat(*n.minimum)));
}

void Validator::CheckArray(const Node& n, const json& v, const std::string& path, Causes& out) const {
  auto size = static_cast<int64_t>(v.size());
  if (n.min_items && size < *n.min_items)
    out.push_back(Invalid(path, size, In(path) + " should have at least " + std::to_string(*n.min_items) + " items"));
  if (n.max_items && size > *n.max_items)
    out.push_back({"FieldValueTooMany",
                   "Too many: " + std::to_string(size) + ": must have at most " + std::to_string(*n.max_items) + " items",
                   FieldOf(path)});
  if (n.unique_items) {
    bool dup = false;
    for (size_t i = 0; i < v.size() && !dup; ++i)
      for (size_t j = i + 1; j < v.size() && !dup; ++j) dup = JsonEqual(v[i], v[j]);
    if (dup) out.push_back(Invalid(path, "", In(path) + " shouldn't contain duplicates"));
  }
  if (n.items)
    for (size_t i = 0; i < v.size(); ++i) Check(*n.items, v[i], Index(path, i), out);
}

void Validator::CheckEnum(const Node& n, const json& v, const std::string& path, Causes& out) const {
  if (!n.enum_values || n.enum_values->empty()) return;
  for (const auto& allowed : *n.enum_values)
    if (JsonEqual(allowed, v)) return;
  std::string supported;
  for (const auto& allowed : *n.enum_values) {
    if (!supported.empty()) supported += ", ";
    supported += GoQuote(allowed.is_string() ? allowed.get<std::string>() : allowed.dump());
  }
  out.push_back({"FieldValueNotSupported", "Unsupported value: " + GoValue(v) + ": supported values: " + supported,
                 FieldOf(path)});
}

void Validator::CheckObject(const Node& n, const json& v, const std::string& path, Causes& out,
                            bool resource_root) const {
  auto count = static_cast<int64_t>(v.size());
  if (n.min_properties && count < *n.min_properties) {
    out.push_back(Invalid(path, count,
                          In(path) + " should have at least " + std::to_string(*n.min_properties) + " properties"));
    return;
  }
  if (n.max_properties && count > *n.max_properties) {
    out.push_back({"FieldValueTooMany",
                   "Too many: " + std::to_string(count) + ": must have at most " + std::to_string(*n.max_properties) +
                       " items",
                   FieldOf(path)});
    return;
  }
  auto is_root_meta = [&](const std::string& k) {
    return resource_root && (k == "apiVersion" || k == "kind" || k == "metadata");
  };
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (n.properties.count(it.key()) || is_root_meta(it.key())) continue;
    if (n.has_additional && !n.additional_allows) {
      out.push_back(Invalid(path, it.key(), path + "." + it.key() + " in body is a forbidden property"));
    } else if (n.additional) {
      Check(*n.additional, it.value(), Child(path, it.key()), out);
    }
  }
  for (const auto& [name, prop] : n.properties) {
    if (is_root_meta(name)) continue;
    if (auto it = v.find(name); it != v.end()) Check(*prop, *it, Child(path, name), out);
  }
  for (const auto& name : n.required)
    if (!v.contains(name) && !is_root_meta(name)) out.push_back(Required(Child(path, name)));
  if (n.embedded_resource) {
    for (const char* key : {"apiVersion", "kind"}) {
      auto it = v.find(key);
      if (it == v.end() || !it->is_string() || it->get_ref<const std::string&>().empty())
        out.push_back(Required(Child(path, key), "must not be empty"));
    }
  }
}

// ---- list-type uniqueness (validateListSetsAndMaps) ----

// Indices where an element is seen for the second time; a third copy is not reported again,
// as in the API server.
std::vector<size_t> SecondOccurrences(const std::vector<json>& items) {
  std::vector<size_t> out;
  std::map<std::string, int> seen;
  for (size_t i = 0; i < items.size(); ++i)
    if (++seen[items[i].dump()] == 2) out.push_back(i);
  return out;
}

// The key of a list-map item: a single key's value (or "unspecified" when absent or when the
// item is null, all unspecified keys being equal), or the object of the keys present.
json ListMapKey(const Node& list, const json& item) {
  static const json kUnspecified = json::object({{"\x01unspecified", true}});
  if (list.list_map_keys.size() == 1) {
    if (!item.is_object()) return kUnspecified;
    auto it = item.find(list.list_map_keys[0]);
    return it == item.end() ? kUnspecified : json::array({*it});
  }
  json key = json::object();
  if (item.is_object())
    for (const auto& k : list.list_map_keys)
      if (auto it = item.find(k); it != item.end()) key[k] = *it;
  return key;
}

json ShownListMapKey(const Node& list, const json& key) {
  if (list.list_map_keys.size() != 1) return key;
  if (!key.is_array()) return json::object();
  return json::object({{list.list_map_keys[0], key[0]}});
}

void CheckListTypes(const Node& n, const json& v, const std::string& path, Causes& out, bool resource_root) {
  if (v.is_array()) {
    if (n.list_type == "set") {
      std::vector<json> items(v.begin(), v.end());
      for (size_t i : SecondOccurrences(items))
        out.push_back({"FieldValueDuplicate", "Duplicate value: " + GoValue(v[i]), FieldOf(Index(path, i))});
    } else if (n.list_type == "map") {
      for (size_t i = 0; i < v.size(); ++i) {
        if (!v[i].is_null() && !v[i].is_object()) {
          out.push_back(Invalid(Index(path, i), v[i], "must be an object for an array of list-type map"));
          return;
        }
      }
      std::vector<json> keys;
      for (const auto& item : v) keys.push_back(ListMapKey(n, item));
      for (size_t i : SecondOccurrences(keys))
        out.push_back({"FieldValueDuplicate", "Duplicate value: " + GoValue(ShownListMapKey(n, keys[i])),
                       FieldOf(Index(path, i))});
    }
    if (n.items)
      for (size_t i = 0; i < v.size(); ++i) CheckListTypes(*n.items, v[i], Index(path, i), out, false);
    return;
  }
  if (!v.is_object()) return;
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (resource_root && (it.key() == "apiVersion" || it.key() == "kind" || it.key() == "metadata")) continue;
    auto prop = n.properties.find(it.key());
    if (prop != n.properties.end()) CheckListTypes(*prop->second, it.value(), Child(path, it.key()), out, false);
    // Map entries are named path[key] here (field.Path.Key), unlike the dotted schema paths.
    else if (n.additional) CheckListTypes(*n.additional, it.value(), path + "[" + it.key() + "]", out, false);
  }
}


}  // namespace

std::vector<core::StatusCause> ValidateResource(const Node& root, const json& object) {
  Causes out;
  Validator().Check(root, object, "", out, /*resource_root=*/true);
  CheckListTypes(root, object, "", out, /*resource_root=*/true);
  return out;
}

}  // namespace sluice::apimachinery::schema_internal
