#include <catch2/catch.hpp>

#include "core/duration.h"

using namespace std::chrono_literals;
using sluice::core::FormatDuration;
using sluice::core::ParseDuration;

TEST_CASE("durations parse like Go's", "[duration]") {
  CHECK(ParseDuration("1s") == 1s);
  CHECK(ParseDuration("10s") == 10s);
  CHECK(ParseDuration("1m30s") == 90s);
  CHECK(ParseDuration("500ms") == 500ms);
  CHECK(ParseDuration("1.5s") == 1500ms);
  CHECK(ParseDuration("1.5h") == 90min);
  CHECK(ParseDuration("0") == 0ms);
  CHECK(ParseDuration("+2m") == 2min);
  CHECK(ParseDuration("1500us") == 2ms);
  CHECK(ParseDuration("1500\xC2\xB5s") == 2ms);
  CHECK(ParseDuration("2000000ns") == 2ms);
  CHECK(ParseDuration("1h2m3s4ms") == 3723004ms);
  CHECK(ParseDuration(".5s") == 500ms);
  CHECK_FALSE(ParseDuration(""));
  CHECK_FALSE(ParseDuration("10"));
  CHECK_FALSE(ParseDuration("s"));
  CHECK_FALSE(ParseDuration("10x"));
  CHECK_FALSE(ParseDuration("10 s"));
  CHECK_FALSE(ParseDuration("1d"));
  CHECK_FALSE(ParseDuration("1.2.3s"));
  CHECK_FALSE(ParseDuration(".s"));
  CHECK(FormatDuration(90s) == "90s");
  CHECK(FormatDuration(2min) == "2m");
  CHECK(FormatDuration(1h) == "1h");
  CHECK(FormatDuration(1500ms) == "1500ms");
}

TEST_CASE("durations are bounded: negative, non-finite and huge values are refused", "[duration]") {
  CHECK_FALSE(ParseDuration("-1s"));
  CHECK_FALSE(ParseDuration("inf" "s"));
  CHECK_FALSE(ParseDuration("nans"));
  CHECK_FALSE(ParseDuration("1e400s"));
  CHECK_FALSE(ParseDuration("999999999999h"));
  CHECK_FALSE(ParseDuration(std::string(400, '9') + "s"));
  CHECK(ParseDuration("8760h") == std::chrono::hours(8760));
}
