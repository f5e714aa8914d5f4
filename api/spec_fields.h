// Field readers shared by the parsers of api/: each throws InvalidSpec naming the field and
// what is expected when a present value has the wrong type, and returns the fallback when
// the field is absent.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <string>

namespace sluice::api::fields {

// A positive Go duration ("30s", "5m", "1h").
std::chrono::milliseconds PositiveDuration(const nlohmann::json& spec, const std::string& path, const char* field,
                                           std::chrono::milliseconds fallback);
std::string String(const nlohmann::json& spec, const std::string& path, const char* field,
                   const std::string& fallback = "");
bool Bool(const nlohmann::json& spec, const std::string& path, const char* field, bool fallback = false);
// spec[field] as an object ({} when absent).
const nlohmann::json& Object(const nlohmann::json& spec, const std::string& path, const char* field);
// spec[field] as an array ([] when absent).
const nlohmann::json& Array(const nlohmann::json& spec, const std::string& path, const char* field);

}  // namespace sluice::api::fields
