#include "core/clock.h"

#include <cstdio>
#include <ctime>

namespace sluice::core {
namespace {

std::tm ToUtc(TimePoint t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return tm;
}

}  // namespace

std::string FormatTime(TimePoint t) {
  std::tm tm = ToUtc(t);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string FormatMicroTime(TimePoint t) {
  auto secs = std::chrono::time_point_cast<std::chrono::seconds>(t);
  if (secs > t) secs -= std::chrono::seconds(1);
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(t - secs).count();
  std::tm tm = ToUtc(secs);
  char buf[48];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  // micros is in [0, 1e6): six digits always suffice.
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%06dZ", static_cast<int>(micros % 1000000));
  return std::string(buf) + frac;
}

std::optional<TimePoint> ParseTime(std::string_view text) {
  int y, mo, d, h, mi, s;
  std::string str(text);
  int consumed = 0;
  if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &consumed) != 6) return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  std::time_t seconds = timegm(&tm);
  // A TimePoint counts nanoseconds in 64 bits (about the years 1678 to 2262); converting a
  // time outside that overflows. Such a time is not one Sluice wrote: it is not a time.
  // The margin leaves room for the fraction and a UTC offset of up to 99:99.
  constexpr std::time_t kLimit =
      std::chrono::duration_cast<std::chrono::seconds>(TimePoint::duration::max()).count() - 7 * 86400;
  if (seconds > kLimit || seconds < -kLimit) return std::nullopt;
  TimePoint t = std::chrono::system_clock::from_time_t(seconds);
  size_t i = static_cast<size_t>(consumed);
  if (i < str.size() && str[i] == '.') {
    ++i;
    long long frac = 0;
    int digits = 0;
    while (i < str.size() && isdigit(static_cast<unsigned char>(str[i]))) {
      if (digits < 9) {
        frac = frac * 10 + (str[i] - '0');
        ++digits;
      }
      ++i;
    }
    while (digits < 9) {
      frac *= 10;
      ++digits;
    }
    t += std::chrono::duration_cast<TimePoint::duration>(std::chrono::nanoseconds(frac));
  }
  if (i >= str.size()) return std::nullopt;
  if (str[i] == 'Z' || str[i] == 'z') return i + 1 == str.size() ? std::optional(t) : std::nullopt;
  int oh, om;
  if ((str[i] == '+' || str[i] == '-') && std::sscanf(str.c_str() + i + 1, "%2d:%2d", &oh, &om) == 2) {
    auto off = std::chrono::hours(oh) + std::chrono::minutes(om);
    return str[i] == '+' ? t - off : t + off;
  }
  return std::nullopt;
}

std::string HumanAge(std::chrono::seconds age) {
  long long s = age.count();
  if (s < 0) s = 0;
  if (s < 120) return std::to_string(s) + "s";
  if (s < 3600 * 2) return std::to_string(s / 60) + "m";
  if (s < 86400 * 2) return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "d";
}

}  // namespace sluice::core
