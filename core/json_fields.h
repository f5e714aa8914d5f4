// Reading fields of untyped JSON objects (Kubernetes objects as the API sends them) without
// exceptions: a missing key, or a value of another type, reads as absent. The one accessor
// of the project, so "absent" means the same thing in every folder.
#pragma once

#include <nlohmann/json.hpp>

#include <initializer_list>
#include <string>
#include <string_view>

namespace sluice::core {

// obj[key], or nullptr when `obj` is not an object or has no such key.
const nlohmann::json* Find(const nlohmann::json& obj, std::string_view key);
// The value at a path of keys ({"metadata", "name"}), or nullptr where any step is missing.
const nlohmann::json* FindAt(const nlohmann::json& obj, std::initializer_list<std::string_view> path);

// The string at obj[key]; "" when absent or not a string.
std::string Str(const nlohmann::json& obj, std::string_view key);
// The string at a path of keys; `fallback` when absent or not a string.
std::string StrAt(const nlohmann::json& obj, std::initializer_list<std::string_view> path,
                  const std::string& fallback = "");
// obj[key] when it is an object, else a shared empty object (so chains of reads never throw).
const nlohmann::json& Object(const nlohmann::json& obj, std::string_view key);

}  // namespace sluice::core
