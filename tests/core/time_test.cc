#include <catch2/catch.hpp>

#include "core/clock.h"

using namespace std::chrono_literals;
using sluice::core::FormatMicroTime;
using sluice::core::FormatTime;
using sluice::core::ParseTime;
using sluice::core::TimePoint;

TEST_CASE("times parse as RFC 3339, with a fraction or an offset", "[time]") {
  TimePoint t = *ParseTime("2024-05-01T10:00:00Z");
  CHECK(FormatTime(t) == "2024-05-01T10:00:00Z");
  CHECK(*ParseTime("2024-05-01T10:00:00.123456Z") == t + 123456us);
  CHECK(*ParseTime("2024-05-01T12:00:00+02:00") == t);
  CHECK(FormatMicroTime(*ParseTime("2024-05-01T10:00:00.5Z")) == "2024-05-01T10:00:00.500000Z");
  CHECK_FALSE(ParseTime("2024-13-01T10:00:00Z"));
  CHECK_FALSE(ParseTime("2024-05-01T10:00:00"));
  CHECK_FALSE(ParseTime("yesterday"));
}

TEST_CASE("a time a TimePoint cannot hold is not a time (found by fuzz_canary_spec)", "[time][fuzz]") {
  // A Canary's status.lastStepTime of year 1012 overflowed the nanosecond count (UB) while
  // the status was read back.
  CHECK_FALSE(ParseTime("1012-05-01T10:01:00Z"));
  CHECK_FALSE(ParseTime("9999-12-31T23:59:59.999999999Z"));
  CHECK_FALSE(ParseTime("-999-01-01T00:00:00Z"));
  CHECK_FALSE(ParseTime("2262-04-11T23:47:16-99:99"));
  CHECK(FormatTime(*ParseTime("1700-01-01T00:00:00Z")) == "1700-01-01T00:00:00Z");
  CHECK(FormatTime(*ParseTime("2261-12-31T23:59:59Z")) == "2261-12-31T23:59:59Z");
}
