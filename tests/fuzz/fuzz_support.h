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

// Text JSON can hold: UTF-8.
inline bool Utf8(std::string_view text) {
  try {
    (void)nlohmann::json(std::string(text)).dump();
    return true;
  } catch (const nlohmann::json::type_error&) {
    return false;
  }
}

// An error message ends up in a condition, an Event or a Status body, all JSON: it must be
// UTF-8, or writing it fails and the user never sees the error. Says which message was not.
inline bool Reportable(std::string_view message) {
  if (Utf8(message)) return true;
  std::fprintf(stderr, "not reportable (not UTF-8): %.*s\n", static_cast<int>(message.size()), message.data());
  return false;
}

// JSON as the emulator takes it in a body: it refuses more than 512 levels of nesting
// (sandbox/emulator/api_writes.cc), so deeper input never reaches these functions. Discarded
// when invalid or deeper.
inline nlohmann::json ParseJsonBody(std::string_view text) {
  bool too_deep = false;
  auto depth = [&](int d, nlohmann::json::parse_event_t, nlohmann::json&) {
    too_deep = too_deep || d > 512;
    return true;
  };
  nlohmann::json parsed = nlohmann::json::parse(text, depth, /*allow_exceptions=*/false);
  return too_deep ? nlohmann::json(nlohmann::json::value_t::discarded) : parsed;
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
