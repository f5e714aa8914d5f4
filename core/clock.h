// Time comes from an injected clock so that reconcilers, leader election and the emulator's
// simulators are tested without sleeping.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::core {

using TimePoint = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::system_clock::now(); }
  static const SystemClock& Instance() {
    static SystemClock clock;
    return clock;
  }
};

// A clock tests move by hand.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start = TimePoint{} + std::chrono::hours(24 * 365 * 56)) : now_(start) {}
  TimePoint Now() const override {
    std::lock_guard lock(mu_);
    return now_;
  }
  void Advance(std::chrono::nanoseconds d) {
    std::lock_guard lock(mu_);
    now_ += d;
  }

 private:
  mutable std::mutex mu_;
  TimePoint now_;
};

// RFC 3339 in UTC with whole seconds ("2026-11-26T04:01:49Z"), as metav1.Time.
std::string FormatTime(TimePoint t);
// RFC 3339 with six fractional digits ("2026-11-26T04:01:49.123456Z"), as metav1.MicroTime.
std::string FormatMicroTime(TimePoint t);
// Parses both forms and numeric offsets; nullopt when the text is not a timestamp.
std::optional<TimePoint> ParseTime(std::string_view text);
// A kubectl-style age: "45s", "5m", "3h", "2d".
std::string HumanAge(std::chrono::seconds age);

}  // namespace sluice::core
