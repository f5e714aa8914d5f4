#include "core/json_fields.h"

namespace sluice::core {

using nlohmann::json;

const json* Find(const json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

const json* FindAt(const json& obj, std::initializer_list<std::string_view> path) {
  const json* v = &obj;
  for (std::string_view key : path) {
    v = Find(*v, key);
    if (!v) return nullptr;
  }
  return v;
}

std::string Str(const json& obj, std::string_view key) {
  const json* v = Find(obj, key);
  return v && v->is_string() ? v->get<std::string>() : "";
}

std::string StrAt(const json& obj, std::initializer_list<std::string_view> path, const std::string& fallback) {
  const json* v = FindAt(obj, path);
  return v && v->is_string() ? v->get<std::string>() : fallback;
}

const json& Object(const json& obj, std::string_view key) {
  static const json kEmpty = json::object();
  const json* v = Find(obj, key);
  return v && v->is_object() ? *v : kEmpty;
}

}  // namespace sluice::core
