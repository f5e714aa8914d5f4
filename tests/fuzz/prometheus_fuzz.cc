// Answers of a Prometheus server (analysis/prometheus.h): the body of /api/v1/query and
// /api/v1/query_range, decoded apart from the network. A server on the other side of a
// MetricTemplate's address can send anything.
#include <cmath>
#include <string>

#include "analysis/metric_provider.h"
#include "analysis/prometheus.h"
#include "tests/fuzz/fuzz_support.h"

using namespace sluice;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(fuzz::Text(data, size));
  // A good answer, a refused query, an overloaded server, a proxy's refusal.
  for (int status : {200, 400, 503, 403}) {
    try {
      auto value = analysis::DecodeInstantResponse("sum(rate(x[1m]))", status, body);
      if (value) SLUICE_FUZZ_CHECK(!std::isnan(*value));
    } catch (const analysis::MetricError& e) {
      SLUICE_FUZZ_CHECK(fuzz::Reportable(e.what()));  // it becomes the metric's status message
    }
    try {
      (void)analysis::DecodeRangeResponse("sum(rate(x[1m]))", status, body);
    } catch (const analysis::MetricError& e) {
      SLUICE_FUZZ_CHECK(fuzz::Reportable(e.what()));
    }
  }
  return 0;
}
