// Base64 as kubeconfig's *-data fields and Secrets use it (standard alphabet, padded).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sluice::core {

// Decodes standard base64; whitespace and line breaks are skipped. nullopt on bad input.
std::optional<std::string> Base64Decode(std::string_view text);
std::string Base64Encode(std::string_view data);

}  // namespace sluice::core
