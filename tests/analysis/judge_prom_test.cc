// The canary-versus-primary judge against a real Prometheus: Istio-style request counters and
// latency histograms for a canary and its primary, generated from a seeded random stream,
// backfilled with promtool, queried through the Prometheus provider with the builtin query
// templates rendered once per variant, and judged by CompareCanary.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <memory>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "analysis/builtin_metrics.h"
#include "analysis/comparison.h"
#include "analysis/prometheus.h"
#include "analysis/query_template.h"
#include "tests/analysis/prom_harness.h"
#include "tests/support/skip.h"

namespace sluice::analysis {
namespace {

using Catch::Matchers::Contains;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr int kSteps = 181;            // 30 minutes, a scrape every 10 s
constexpr int kRequestsPerStep = 200;  // per variant
constexpr int kBucketWidthMs = 10;
constexpr int kBuckets = 60;           // le = 10, 20, ... 600 ms, then +Inf

// The traffic of one variant: requests per scrape interval with log-normal latencies around
// `median_ms` and each request failing with probability `error_rate`.
struct Traffic {
  std::string ns;
  std::string workload;
  double median_ms = 100;
  double error_rate = 0;
  uint32_t seed = 1;
};

// Per step: how many requests fell at or below each bucket bound, and how many failed.
struct Generated {
  std::vector<std::vector<double>> cumulative;  // [step][bucket]
  std::vector<double> errors;                   // [step]
};

// mt19937 is specified bit for bit; the transforms are written out so the data set is the
// same on every standard library.
Generated Generate(const Traffic& t) {
  std::mt19937 rng(t.seed);
  auto uniform = [&] { return (static_cast<double>(rng()) + 0.5) / 4294967296.0; };
  Generated g;
  g.cumulative.assign(kSteps, std::vector<double>(kBuckets, 0));
  g.errors.assign(kSteps, 0);
  for (int step = 1; step < kSteps; ++step) {
    for (int r = 0; r < kRequestsPerStep; ++r) {
      const double gauss = std::sqrt(-2 * std::log(uniform())) * std::cos(2 * std::numbers::pi * uniform());
      const double latency = t.median_ms * std::exp(0.25 * gauss);
      for (int b = 0; b < kBuckets; ++b) {
        if (latency <= (b + 1) * kBucketWidthMs) g.cumulative[step][b] += 1;
      }
      if (uniform() < t.error_rate) g.errors[step] += 1;
    }
  }
  return g;
}

void AddTraffic(testing::OpenMetricsBuilder& b, const Traffic& t) {
  const auto g = std::make_shared<Generated>(Generate(t));
  const std::string labels = "reporter=\"destination\",destination_workload_namespace=\"" + t.ns +
                             "\",destination_workload=\"" + t.workload + "\"";
  b.Counter("istio_requests_total", labels + ",response_code=\"200\"",
            [g](int i) { return kRequestsPerStep - g->errors[i]; });
  b.Counter("istio_requests_total", labels + ",response_code=\"503\"", [g](int i) { return g->errors[i]; });
  for (int bucket = 0; bucket < kBuckets; ++bucket) {
    b.Counter("istio_request_duration_milliseconds_bucket",
              labels + ",le=\"" + std::to_string((bucket + 1) * kBucketWidthMs) + "\"",
              [g, bucket](int i) { return g->cumulative[i][bucket]; });
  }
  b.Counter("istio_request_duration_milliseconds_bucket", labels + ",le=\"+Inf\"",
            [](int) { return static_cast<double>(kRequestsPerStep); });
}

// Namespaces are the scenarios:
//   slow:  canary latency 30% above the primary's, both far under 500 ms
//   same:  one distribution, different random draws
//   fewer: the canary fails 1% of requests, the primary 3%
//   solo:  only the canary has traffic
testing::PromServer& JudgePrometheus() {
  static std::unique_ptr<testing::PromServer> server = [] {
    testing::OpenMetricsBuilder b(testing::BackfillStart(), seconds(10), kSteps);
    AddTraffic(b, {"slow", "web", 130, 0.01, 11});
    AddTraffic(b, {"slow", "web-primary", 100, 0.01, 12});
    AddTraffic(b, {"same", "web", 100, 0.02, 21});
    AddTraffic(b, {"same", "web-primary", 100, 0.02, 22});
    AddTraffic(b, {"fewer", "web", 100, 0.01, 31});
    AddTraffic(b, {"fewer", "web-primary", 100, 0.03, 32});
    AddTraffic(b, {"solo", "web", 100, 0.01, 41});
    testing::PromOptions options;
    options.openmetrics = b.Text();
    return std::make_unique<testing::PromServer>(options);
  }();
  return *server;
}

TemplateContext Context(const std::string& ns) {
  TemplateContext c;
  c.ns = ns;
  c.name = "web";
  c.target = "web";
  c.service = "web";
  c.port = 8080;
  c.interval = "1m";
  c.workload = "web";
  return c;
}

const std::string kErrorRate =
    "sum(rate(istio_requests_total{reporter=\"destination\",destination_workload_namespace=\"{{ namespace }}\","
    "destination_workload=\"{{ workload }}\",response_code=~\"5..\"}[{{ interval }}])) / "
    "sum(rate(istio_requests_total{reporter=\"destination\",destination_workload_namespace=\"{{ namespace }}\","
    "destination_workload=\"{{ workload }}\"}[{{ interval }}])) * 100";

struct Judge {
  boost::asio::io_context io;
  std::shared_ptr<MetricProvider> provider;

  Judge() {
    PrometheusOptions options;
    options.address = JudgePrometheus().address();
    options.timeout = milliseconds(5000);
    provider = MakePrometheusProvider(io.get_executor(), options);
  }

  // The last 25 minutes of the data, one sample a minute (the rate interval, so no two
  // samples share a request).
  api::MetricResult Compare(const std::string& name, const std::string& canary_query,
                               const std::string& primary_query, const nlohmann::json& compare) {
    const JudgeOptions options = ParseCompareSpec(compare, "test compare");
    const core::TimePoint end = testing::BackfillStart() + minutes(30);
    const milliseconds window = minutes(25);
    const milliseconds step = minutes(1);
    return testing::Await(io, CompareCanary(*provider, name, canary_query, primary_query, end, window, step, options));
  }

  api::MetricResult Builtin(const std::string& metric, const std::string& ns, const nlohmann::json& compare) {
    const std::string text = *BuiltinQuery(metric, "istio");
    const TemplateContext context = Context(ns);
    return Compare(metric, RenderQuery(metric, text, context), RenderQuery(metric, text, context.ForPrimary()),
                   compare);
  }

  api::MetricResult ErrorRate(const std::string& ns, const nlohmann::json& compare) {
    const TemplateContext context = Context(ns);
    return Compare("error-rate", RenderQuery("error-rate", kErrorRate, context),
                   RenderQuery("error-rate", kErrorRate, context.ForPrimary()), compare);
  }
};

#define REQUIRE_JUDGE_PROMETHEUS()                                                     \
  if (!testing::HavePrometheus()) SLUICE_SKIP("prometheus and promtool are not installed"); \
  REQUIRE(JudgePrometheus().ready())

TEST_CASE("judge on Prometheus: canary p99 30% above the primary is High though under 500 ms", "[judge][prometheus]") {
  REQUIRE_JUDGE_PROMETHEUS();
  Judge judge;
  const api::MetricResult r =
      judge.Builtin("request-duration", "slow", {{"confidence", 0.99}, {"allowedIncrease", 10}});
  INFO(r.message);
  CHECK(r.verdict == "High");
  REQUIRE(r.value.has_value());
  // A fixed threshold of 500 ms would have passed this canary.
  CHECK(*r.value < 500);
  CHECK(*r.value > 150);
  CHECK_THAT(r.message, Contains("canary is higher") && Contains("26 canary and 26 primary samples"));

  // The same comparison with room for a 50% rise passes: the judge measures, the allowance decides.
  const api::MetricResult lenient =
      judge.Builtin("request-duration", "slow", {{"confidence", 0.99}, {"allowedIncrease", 50}});
  INFO(lenient.message);
  CHECK(lenient.verdict == "Pass");
  CHECK_THAT(lenient.message, Contains("significant but within the allowed +50%"));
}

TEST_CASE("judge on Prometheus: the same distribution with noise passes", "[judge][prometheus]") {
  REQUIRE_JUDGE_PROMETHEUS();
  Judge judge;
  const std::vector<std::string> metrics{"request-duration", "request-success-rate"};
  for (const std::string& metric : metrics) {
    const api::MetricResult r = judge.Builtin(metric, "same", nlohmann::json::object());
    INFO(metric << ": " << r.message);
    CHECK(r.verdict == "Pass");
    CHECK(r.value.has_value());
  }
}

TEST_CASE("judge on Prometheus: a lower canary error rate is Low or Pass per allowedDecrease", "[judge][prometheus]") {
  REQUIRE_JUDGE_PROMETHEUS();
  Judge judge;
  // Judging only increases (the usual setting for an error rate): fewer errors pass.
  const api::MetricResult increases_only = judge.ErrorRate("fewer", {{"allowedIncrease", 0}});
  INFO(increases_only.message);
  CHECK(increases_only.verdict == "Pass");
  REQUIRE(increases_only.value.has_value());
  CHECK(*increases_only.value < 2);
  // A user who asks to hear about any drop beyond 10% gets Low.
  const api::MetricResult both = judge.ErrorRate("fewer", {{"allowedIncrease", 0}, {"allowedDecrease", 10}});
  INFO(both.message);
  CHECK(both.verdict == "Low");
  CHECK_THAT(both.message, Contains("canary is lower") && Contains("allowed -10%"));
}

TEST_CASE("judge on Prometheus: no primary traffic is NoData", "[judge][prometheus]") {
  REQUIRE_JUDGE_PROMETHEUS();
  Judge judge;
  const api::MetricResult r = judge.Builtin("request-duration", "solo", {{"allowedIncrease", 10}});
  INFO(r.message);
  CHECK(r.verdict == "NoData");
  CHECK_FALSE(r.value.has_value());
  CHECK_THAT(r.message, Contains("26 canary and 0 primary samples"));
}

TEST_CASE("judge on Prometheus: a query Prometheus rejects is Error naming the metric", "[judge][prometheus]") {
  REQUIRE_JUDGE_PROMETHEUS();
  Judge judge;
  const api::MetricResult r =
      judge.Compare("broken", "sum(rate(istio_requests_total[1m]))", "sum(rate(", nlohmann::json::object());
  INFO(r.message);
  CHECK(r.verdict == "Error");
  CHECK_FALSE(r.value.has_value());
  CHECK_THAT(r.message, Contains("\"broken\"") && Contains("primary query failed"));
}

// Two identical distributions judged at 20 successive minutes. Sampled once per rate window
// the judge raises about as many false alarms as its 95% confidence promises (here none);
// sampled every 6 s over one 1-minute rate window, as the samples of one minute's requests,
// it cries wolf most of the time. Measured here: 9/20 (p99) and 14/20 (success rate).
TEST_CASE("judge on Prometheus: overlapping rate windows make false alarms", "[judge][prometheus]") {
  REQUIRE_JUDGE_PROMETHEUS();
  Judge judge;
  const std::vector<std::string> metrics{"request-duration", "request-success-rate"};
  const CompareSampling independent = SamplingForInterval(minutes(1));
  const CompareSampling overlapping{minutes(1), seconds(6)};
  auto false_alarms = [&](const std::string& metric, const CompareSampling& sampling) {
    const std::string text = *BuiltinQuery(metric, "istio");
    const TemplateContext context = Context("same");
    const std::string canary_query = RenderQuery(metric, text, context);
    const std::string primary_query = RenderQuery(metric, text, context.ForPrimary());
    const JudgeOptions options;
    int alarms = 0;
    for (int minute = 11; minute <= 30; ++minute) {
      const core::TimePoint end = testing::BackfillStart() + minutes(minute);
      const milliseconds window = sampling.window;
      const milliseconds step = sampling.step;
      const api::MetricResult r = testing::Await(
          judge.io, CompareCanary(*judge.provider, metric, canary_query, primary_query, end, window, step, options));
      if (r.verdict != "Pass") ++alarms;
    }
    return alarms;
  };
  for (const std::string& metric : metrics) {
    INFO(metric);
    CHECK(false_alarms(metric, independent) <= 2);
    CHECK(false_alarms(metric, overlapping) >= 5);
  }
}

}  // namespace
}  // namespace sluice::analysis
