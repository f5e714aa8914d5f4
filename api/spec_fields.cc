#include "api/spec_fields.h"

#include "api/spec_error.h"
#include "core/duration.h"

namespace sluice::api::fields {
namespace {

using json = nlohmann::json;

const json* Present(const json& spec, const char* field) {
  if (!spec.is_object() || !spec.contains(field) || spec[field].is_null()) return nullptr;
  return &spec[field];
}

[[noreturn]] void Fail(const std::string& path, const char* field, const std::string& what) {
  throw InvalidSpec((path.empty() ? "" : path + ".") + field + ": " + what);
}

}  // namespace

std::chrono::milliseconds PositiveDuration(const json& spec, const std::string& path, const char* field,
                                           std::chrono::milliseconds fallback) {
  const json* v = Present(spec, field);
  if (!v) return fallback;
  if (!v->is_string()) Fail(path, field, "expected a duration such as 30s, 5m or 1h, got " + v->dump());
  auto d = core::ParseDuration(v->get<std::string>());
  if (!d || d->count() <= 0)
    Fail(path, field, "Invalid value: \"" + v->get<std::string>() + "\": expected a positive duration such as 30s, 5m or 1h");
  return *d;
}

std::string String(const json& spec, const std::string& path, const char* field, const std::string& fallback) {
  const json* v = Present(spec, field);
  if (!v) return fallback;
  if (!v->is_string()) Fail(path, field, "expected a string, got " + v->dump());
  return v->get<std::string>();
}

bool Bool(const json& spec, const std::string& path, const char* field, bool fallback) {
  const json* v = Present(spec, field);
  if (!v) return fallback;
  if (!v->is_boolean()) Fail(path, field, "expected true or false, got " + v->dump());
  return v->get<bool>();
}

const json& Object(const json& spec, const std::string& path, const char* field) {
  static const json empty = json::object();
  const json* v = Present(spec, field);
  if (!v) return empty;
  if (!v->is_object()) Fail(path, field, "expected an object, got " + v->dump());
  return *v;
}

const json& Array(const json& spec, const std::string& path, const char* field) {
  static const json empty = json::array();
  const json* v = Present(spec, field);
  if (!v) return empty;
  if (!v->is_array()) Fail(path, field, "expected a list, got " + v->dump());
  return *v;
}

}  // namespace sluice::api::fields
