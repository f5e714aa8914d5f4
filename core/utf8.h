// UTF-8 for text that ends up in JSON: conditions, Events and Status bodies. JSON text is
// UTF-8, and nlohmann::json refuses to serialize a string that is not, so input quoted in an
// error message must be made valid first, or the error never reaches the user.
#pragma once

#include <string>
#include <string_view>

namespace sluice::core {

// The offset of the first byte that is not part of well-formed UTF-8 (no overlong forms, no
// surrogates, nothing above U+10FFFF); npos when all of `text` is.
size_t InvalidUtf8At(std::string_view text);

// `text` with each byte that is not part of well-formed UTF-8 replaced by U+FFFD.
std::string ValidUtf8(std::string_view text);

}  // namespace sluice::core
