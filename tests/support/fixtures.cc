#include "tests/support/fixtures.h"

#include <cstdlib>
#include <filesystem>

namespace sluice::testing {

std::optional<std::string> CrdFixtureDir() {
  if (const char* env = std::getenv("SLUICE_CRD_DIR"); env && *env) {
    if (std::filesystem::is_directory(env)) return std::string(env);
    return std::nullopt;
  }
  std::filesystem::path beside = std::filesystem::path(SLUICE_SOURCE_DIR) / ".." / "shared" / "fixtures" / "crds";
  if (std::filesystem::is_directory(beside)) return std::filesystem::canonical(beside).string();
  return std::nullopt;
}

std::optional<std::string> CrdFixture(const std::string& file_name) {
  auto dir = CrdFixtureDir();
  if (!dir) return std::nullopt;
  auto path = std::filesystem::path(*dir) / file_name;
  if (!std::filesystem::exists(path)) return std::nullopt;
  return path.string();
}

}  // namespace sluice::testing
