// What the fuzz targets share: the input as text, splitting it into parts, and checks that
// abort (so libFuzzer keeps the input) when a parser breaks a promise its header makes.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>

namespace sluice::fuzz {

inline std::string_view Text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// The text before the first `sep` and the text after it (all of it and "" without one).
inline std::pair<std::string_view, std::string_view> SplitOnce(std::string_view text, char sep) {
  size_t at = text.find(sep);
  if (at == std::string_view::npos) return {text, {}};
  return {text.substr(0, at), text.substr(at + 1)};
}

// An error message ends up in a condition, an Event or a Status body, all JSON: it must be
// text JSON can hold (UTF-8), or writing it fails and the user never sees the error.
inline bool Reportable(std::string_view message) {
  try {
    (void)nlohmann::json(std::string(message)).dump();
    return true;
  } catch (const nlohmann::json::type_error& e) {
    std::fprintf(stderr, "not reportable (%s): %.*s\n", e.what(), static_cast<int>(message.size()), message.data());
    return false;
  }
}

}  // namespace sluice::fuzz

// A promise of the code under test that the input broke: report it and abort, so libFuzzer
// saves the input as a crash.
#define SLUICE_FUZZ_CHECK(cond)                                                                     \
  do {                                                                                              \
    if (!(cond)) {                                                                                  \
      std::fprintf(stderr, "fuzz check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);          \
      std::abort();                                                                                 \
    }                                                                                               \
  } while (0)
