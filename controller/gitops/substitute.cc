#include "controller/gitops/substitute.h"

#include <algorithm>
#include <optional>
#include <stdexcept>

#include "core/utf8.h"

namespace sluice::gitops {

namespace {


int LineAt(std::string_view text, size_t pos) {
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(pos), '\n'));
}

// `what` quotes the text, which may hold any bytes (or a character cut at 20 bytes); the
// message becomes the Kustomization's condition, so it is made UTF-8.
[[noreturn]] void Fail(std::string_view text, size_t pos, const std::string& what) {
  throw std::invalid_argument("line " + std::to_string(LineAt(text, pos)) + ": " + core::ValidUtf8(what));
}

}  // namespace


std::string Substitute(std::string_view text, const Variables& variables) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c != '$' || i + 1 >= text.size()) {
      out += c;
      ++i;
      continue;
    }
    // "$${" escapes a reference; any other "$$" is left alone.
    if (text[i + 1] == '$' && i + 2 < text.size() && text[i + 2] == '{') {
      out += '$';
      i += 2;
      continue;
    }
    if (text[i + 1] != '{') {
      out += c;
      ++i;
      continue;
    }
    size_t close = text.find('}', i + 2);
    size_t newline = text.find('\n', i + 2);
    if (close == std::string_view::npos || (newline != std::string_view::npos && newline < close))
      Fail(text, i, "unterminated variable reference \"" + std::string(text.substr(i, std::min<size_t>(20, text.size() - i))) +
                        "\": expected ${NAME} or ${NAME:=default}");
    std::string_view body = text.substr(i + 2, close - i - 2);
    std::string_view name = body;
    std::optional<std::string_view> fallback;
    for (std::string_view op : {":=", ":-"}) {
      size_t at = body.find(op);
      if (at != std::string_view::npos) {
        name = body.substr(0, at);
        fallback = body.substr(at + 2);
        break;
      }
    }
    if (!ValidVariableName(name))
      Fail(text, i, "invalid variable name \"" + std::string(name) +
                        "\" in ${" + std::string(body) + "}: names start with a letter or '_' and hold letters, digits and '_'");
    auto it = variables.find(std::string(name));
    if (it != variables.end())
      out += it->second;
    else if (fallback)
      out += *fallback;
    else
      Fail(text, i, "variable ${" + std::string(name) +
                        "} is not set and has no default: define it in spec.postBuild.substitute or substituteFrom, "
                        "write ${" + std::string(name) + ":=default}, or escape it as $${" + std::string(name) + "}");
    i = close + 1;
  }
  return out;
}

}  // namespace sluice::gitops
