// Standard base64 (RFC 4648, with padding), as Kubernetes uses for Secret data and kubeconfig.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sluice::sandbox {

std::string Base64Encode(std::string_view in);
// nullopt when the text is not valid padded base64.
std::optional<std::string> Base64Decode(std::string_view in);

}  // namespace sluice::sandbox
