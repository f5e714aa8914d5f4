// Cache keys: "namespace/name" for namespaced objects, "name" for cluster-scoped ones, the
// same form client-go uses so keys in logs and work queues read the same everywhere.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <utility>

namespace sluice::core {

inline std::string ObjectKey(std::string_view ns, std::string_view name) {
  if (ns.empty()) return std::string(name);
  std::string key;
  key.reserve(ns.size() + 1 + name.size());
  key.append(ns).append("/").append(name);
  return key;
}

// Key of an object from its metadata; an object without a string metadata.name gives "".
inline std::string ObjectKey(const nlohmann::json& object) {
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return "";
  auto name = meta->find("name");
  if (name == meta->end() || !name->is_string()) return "";
  auto ns = meta->find("namespace");
  std::string_view ns_text;
  if (ns != meta->end() && ns->is_string()) ns_text = ns->get_ref<const std::string&>();
  return ObjectKey(ns_text, name->get_ref<const std::string&>());
}

// {"ns","name"} from "ns/name"; {"","name"} from "name".
inline std::pair<std::string, std::string> SplitObjectKey(std::string_view key) {
  auto slash = key.find('/');
  if (slash == std::string_view::npos) return {"", std::string(key)};
  return {std::string(key.substr(0, slash)), std::string(key.substr(slash + 1))};
}

// A string field of metadata, "" when missing or not a string.
inline const std::string& MetadataString(const nlohmann::json& object, const char* field) {
  static const std::string kEmpty;
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return kEmpty;
  auto it = meta->find(field);
  if (it == meta->end() || !it->is_string()) return kEmpty;
  return it->get_ref<const std::string&>();
}

}  // namespace sluice::core
