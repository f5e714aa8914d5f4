// CompareCanary against a scripted provider (the real Prometheus is in judge_prom_test.cc),
// and the parsing of a metric's `compare` object.
#include <catch2/catch.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <nlohmann/json.hpp>

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "analysis/comparison.h"

namespace sluice::analysis {
namespace {

using Catch::Matchers::Contains;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

struct RangeCall {
  std::string query;
  core::TimePoint start;
  core::TimePoint end;
  milliseconds step;
};

// Answers range queries from a table keyed by query text; a query listed in `errors` throws.
class ScriptedProvider final : public MetricProvider {
 public:
  std::map<std::string, std::vector<double>> series;
  std::map<std::string, MetricError> errors;
  std::vector<RangeCall> calls;

  boost::asio::awaitable<std::optional<double>> QueryScalar(std::string query, core::TimePoint) override {
    throw MetricError("unexpected instant query " + query, false);
    co_return std::nullopt;
  }
  boost::asio::awaitable<std::vector<Sample>> QueryRange(std::string query, core::TimePoint start,
                                                         core::TimePoint end, milliseconds step) override {
    calls.push_back({query, start, end, step});
    if (auto e = errors.find(query); e != errors.end()) throw e->second;
    std::vector<Sample> samples;
    core::TimePoint t = start;
    for (double v : series[query]) {
      samples.push_back({t, v});
      t += step;
    }
    co_return samples;
  }
};

api::MetricResult Run(ScriptedProvider& provider, const std::string& canary_query,
                         const std::string& primary_query, core::TimePoint end, milliseconds window,
                         milliseconds step, const JudgeOptions& options) {
  boost::asio::io_context io;
  const std::string name = "request-duration";
  auto future = boost::asio::co_spawn(
      io, CompareCanary(provider, name, canary_query, primary_query, end, window, step, options),
      boost::asio::use_future);
  io.run();
  return future.get();
}

std::vector<double> Spread(double base, int count) {
  std::vector<double> values;
  for (int i = 0; i < count; ++i) values.push_back(base * (0.9 + 0.2 * ((i * 7) % count) / count));
  return values;
}

const core::TimePoint kEnd = core::TimePoint{} + std::chrono::hours(24 * 365 * 56);

TEST_CASE("CompareCanary queries both sides over the window and judges", "[comparison]") {
  ScriptedProvider provider;
  provider.series["canary_q"] = Spread(130, 30);
  provider.series["primary_q"] = Spread(100, 30);
  JudgeOptions options;
  options.allowed_increase = 10;
  options.decrease_allowed_unbounded = true;
  const api::MetricResult r = Run(provider, "canary_q", "primary_q", kEnd, minutes(5), seconds(10), options);
  REQUIRE(provider.calls.size() == 2);
  CHECK(provider.calls[0].query == "canary_q");
  CHECK(provider.calls[1].query == "primary_q");
  for (const RangeCall& call : provider.calls) {
    CHECK(call.start == kEnd - minutes(5));
    CHECK(call.end == kEnd);
    CHECK(call.step == seconds(10));
  }
  CHECK(r.name == "request-duration");
  CHECK(r.time == kEnd);
  CHECK(r.verdict == "High");
  REQUIRE(r.value.has_value());
  CHECK(*r.value == Approx(130).margin(2));
  CHECK_THAT(r.message, Contains("canary median") && Contains("primary median"));
}

TEST_CASE("CompareCanary passes the same distribution", "[comparison]") {
  ScriptedProvider provider;
  provider.series["c"] = Spread(100, 30);
  provider.series["p"] = Spread(100, 30);
  const api::MetricResult r = Run(provider, "c", "p", kEnd, minutes(5), seconds(10), JudgeOptions{});
  CHECK(r.verdict == "Pass");
  REQUIRE(r.value.has_value());
}

TEST_CASE("CompareCanary without primary data is NoData with no value", "[comparison]") {
  ScriptedProvider provider;
  provider.series["c"] = Spread(100, 30);
  const api::MetricResult r = Run(provider, "c", "p", kEnd, minutes(5), seconds(10), JudgeOptions{});
  CHECK(r.verdict == "NoData");
  CHECK_FALSE(r.value.has_value());
  CHECK_THAT(r.message, Contains("30 canary and 0 primary samples"));
}

TEST_CASE("CompareCanary turns a provider error into verdict Error naming the side", "[comparison]") {
  ScriptedProvider provider;
  provider.series["c"] = Spread(100, 30);
  provider.errors.emplace("p", MetricError("query p: bad_data: parse error at char 3", false));
  api::MetricResult r = Run(provider, "c", "p", kEnd, minutes(5), seconds(10), JudgeOptions{});
  CHECK(r.verdict == "Error");
  CHECK_FALSE(r.value.has_value());
  CHECK_THAT(r.message, Contains("request-duration") && Contains("primary query failed") &&
                            Contains("parse error at char 3"));

  provider.errors.emplace("c", MetricError("connection refused", true));
  provider.calls.clear();
  r = Run(provider, "c", "p", kEnd, minutes(5), seconds(10), JudgeOptions{});
  CHECK(r.verdict == "Error");
  CHECK_THAT(r.message, Contains("canary query failed") && Contains("connection refused"));
  CHECK(provider.calls.size() == 1);  // no point asking for the primary once the canary failed
}

TEST_CASE("CompareCanary rejects a window or step that is not positive", "[comparison]") {
  ScriptedProvider provider;
  api::MetricResult r = Run(provider, "c", "p", kEnd, milliseconds(0), seconds(10), JudgeOptions{});
  CHECK(r.verdict == "Error");
  CHECK_THAT(r.message, Contains("window") && Contains("must be positive"));
  r = Run(provider, "c", "p", kEnd, minutes(5), milliseconds(-1), JudgeOptions{});
  CHECK(r.verdict == "Error");
  CHECK(provider.calls.empty());
}

TEST_CASE("ParseCompareSpec reads confidence and allowances", "[comparison]") {
  const std::string where = "Canary shop/web: spec.analysis.metrics[0].compare";
  SECTION("empty: both directions judged with no tolerance at 95%") {
    const JudgeOptions o = ParseCompareSpec(nlohmann::json::object(), where);
    CHECK(o.confidence == 0.95);
    CHECK(o.allowed_increase == 0);
    CHECK(o.allowed_decrease == 0);
    CHECK_FALSE(o.increase_allowed_unbounded);
    CHECK_FALSE(o.decrease_allowed_unbounded);
  }
  SECTION("only allowedIncrease: decreases are not judged") {
    const JudgeOptions o = ParseCompareSpec({{"confidence", 0.99}, {"allowedIncrease", 10}}, where);
    CHECK(o.confidence == 0.99);
    CHECK(o.allowed_increase == 10);
    CHECK_FALSE(o.increase_allowed_unbounded);
    CHECK(o.decrease_allowed_unbounded);
  }
  SECTION("only allowedDecrease: increases are not judged") {
    const JudgeOptions o = ParseCompareSpec({{"allowedDecrease", 2.5}}, where);
    CHECK(o.allowed_decrease == 2.5);
    CHECK(o.increase_allowed_unbounded);
    CHECK_FALSE(o.decrease_allowed_unbounded);
  }
  SECTION("both") {
    const JudgeOptions o = ParseCompareSpec({{"allowedIncrease", 5}, {"allowedDecrease", 0}}, where);
    CHECK_FALSE(o.increase_allowed_unbounded);
    CHECK_FALSE(o.decrease_allowed_unbounded);
  }
}

TEST_CASE("ParseCompareSpec names the field of bad input", "[comparison]") {
  const std::string where = "Canary shop/web: spec.analysis.metrics[0].compare";
  auto message = [&](const nlohmann::json& compare) {
    try {
      ParseCompareSpec(compare, where);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(message("yes"), Contains(where + ": expected an object"));
  CHECK_THAT(message({{"confidence", 1.5}}), Contains(where + ".confidence: expected a number from 0.5 to 0.9999"));
  CHECK_THAT(message({{"confidence", "high"}}), Contains(".confidence") && Contains("\"high\""));
  CHECK_THAT(message({{"allowedIncrease", -1}}), Contains(where + ".allowedIncrease: expected a number of percent >= 0"));
  CHECK_THAT(message({{"allowedDecrease", "10%"}}), Contains(".allowedDecrease"));
  CHECK_THAT(message({{"allowedincrease", 10}}), Contains(".allowedincrease: unknown field"));
}

TEST_CASE("SamplingForInterval takes one sample per rate window", "[comparison]") {
  const CompareSampling ten = SamplingForInterval(minutes(1));
  CHECK(ten.step == minutes(1));
  CHECK(ten.window == minutes(9));  // 10 samples: end - 9m, ..., end
  const CompareSampling five = SamplingForInterval(seconds(30), 5);
  CHECK(five.step == seconds(30));
  CHECK(five.window == minutes(2));
  CHECK_THROWS_WITH(SamplingForInterval(milliseconds(0)), Contains("interval (0ms) must be positive"));
  CHECK_THROWS_WITH(SamplingForInterval(minutes(1), 1), Contains("sample count (1) at least 2"));
}

}  // namespace
}  // namespace sluice::analysis
