#include <catch2/catch.hpp>

#include <string>

#include "core/utf8.h"

using sluice::core::InvalidUtf8At;
using sluice::core::ValidUtf8;

TEST_CASE("utf8: well-formed text passes, anything else is found and replaced", "[utf8]") {
  CHECK(InvalidUtf8At("plain ascii") == std::string::npos);
  CHECK(InvalidUtf8At("h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80") == std::string::npos);
  CHECK(InvalidUtf8At("ab\xff") == 2);
  CHECK(InvalidUtf8At("\xc3") == 0);              // cut short
  CHECK(InvalidUtf8At("\xc0\xaf") == 0);          // overlong '/'
  CHECK(InvalidUtf8At("\xed\xa0\x80") == 0);      // a surrogate
  CHECK(InvalidUtf8At("\xf4\x90\x80\x80") == 0);  // above U+10FFFF
  CHECK(ValidUtf8("a\xffz") == "a\xef\xbf\xbdz");
  CHECK(ValidUtf8("\xc3") == "\xef\xbf\xbd");
  CHECK(ValidUtf8("h\xc3\xa9") == "h\xc3\xa9");
}
