// Loads the real third-party CRDs (Gateway API, Istio) that the schema tests enforce.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "core/yaml_json.h"

namespace sluice::testing {

// SLUICE_CRD_DIR, else the fixtures beside the checkout; nullopt when neither exists.
inline std::optional<std::filesystem::path> CrdDir() {
  if (const char* env = std::getenv("SLUICE_CRD_DIR"); env && *env) {
    if (std::filesystem::is_directory(env)) return std::filesystem::path(env);
    return std::nullopt;
  }
  std::filesystem::path beside = std::filesystem::path(SLUICE_SOURCE_DIR) / ".." / "shared" / "fixtures" / "crds";
  if (std::filesystem::is_directory(beside)) return beside;
  return std::nullopt;
}

inline constexpr const char* kNoCrdDirMessage =
    "skipped: no CRD fixtures; set SLUICE_CRD_DIR to the folder holding the Gateway API and Istio CRD YAML";

inline nlohmann::json LoadCrd(const std::filesystem::path& dir, const std::string& file) {
  std::ifstream in(dir / file);
  if (!in) throw std::runtime_error("cannot read " + (dir / file).string());
  std::stringstream text;
  text << in.rdbuf();
  return core::ParseYaml(text.str());
}

inline nlohmann::json CrdVersion(const nlohmann::json& crd, const std::string& version) {
  for (const auto& v : crd.at("spec").at("versions"))
    if (v.at("name") == version) return v;
  throw std::runtime_error("CRD " + crd["metadata"]["name"].get<std::string>() + " has no version " + version);
}

}  // namespace sluice::testing
