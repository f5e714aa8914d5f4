#include "core/duration.h"

#include <cctype>
#include <cmath>
#include <cstdlib>

namespace sluice::core {
namespace {

constexpr double kMaxMillis = 1e12;

// Milliseconds per unit, or a negative number for a unit Go does not know.
double UnitMillis(std::string_view unit) {
  if (unit == "ns") return 1e-6;
  if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") return 1e-3;  // us, µs (micro sign, mu)
  if (unit == "ms") return 1;
  if (unit == "s") return 1e3;
  if (unit == "m") return 6e4;
  if (unit == "h") return 3.6e6;
  return -1;
}

bool IsUnitByte(char c) { return std::isalpha(static_cast<unsigned char>(c)) || (static_cast<unsigned char>(c) & 0x80); }

}  // namespace

std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text == "0") return std::chrono::milliseconds(0);
  if (text.empty()) return std::nullopt;
  double total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
    std::string number(text.substr(start, i - start));
    if (number.empty() || number == ".") return std::nullopt;
    char* end = nullptr;
    double value = std::strtod(number.c_str(), &end);
    if (end != number.c_str() + number.size()) return std::nullopt;  // "1.2.3"
    size_t unit_start = i;
    while (i < text.size() && IsUnitByte(text[i])) ++i;
    double scale = UnitMillis(text.substr(unit_start, i - unit_start));
    if (scale < 0) return std::nullopt;
    total += value * scale;
    if (!std::isfinite(total) || total > kMaxMillis) return std::nullopt;
  }
  return std::chrono::milliseconds(std::llround(total));
}

std::string FormatDuration(std::chrono::milliseconds d) {
  long long ms = d.count();
  if (ms % 1000 != 0) return std::to_string(ms) + "ms";
  long long s = ms / 1000;
  if (s % 3600 == 0 && s > 0) return std::to_string(s / 3600) + "h";
  if (s % 60 == 0 && s > 0) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

}  // namespace sluice::core
