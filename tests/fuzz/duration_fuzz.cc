// Go durations (core/duration.h): every spec field and flag that takes a duration goes
// through ParseDuration, so users and Git repositories reach it with any text.
#include "core/duration.h"
#include "tests/fuzz/fuzz_support.h"

using namespace sluice;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto d = core::ParseDuration(fuzz::Text(data, size));
  if (!d) return 0;
  // The header promises a value that is neither negative nor longer than 10^12 ms, and
  // FormatDuration writes the same value back in Go's form.
  SLUICE_FUZZ_CHECK(d->count() >= 0 && d->count() <= 1000000000000LL);
  auto again = core::ParseDuration(core::FormatDuration(*d));
  SLUICE_FUZZ_CHECK(again && *again == *d);
  return 0;
}
