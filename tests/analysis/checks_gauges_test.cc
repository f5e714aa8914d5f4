// The last value and verdict of every analysis metric on the controller's /metrics.
#include <catch2/catch.hpp>

#include "controller/canary/canary_metrics.h"

using namespace sluice;
using Catch::Matchers::Contains;

namespace {

api::MetricResult Result(const std::string& name, std::optional<double> value, const std::string& verdict) {
  api::MetricResult r;
  r.name = name;
  r.value = value;
  r.verdict = verdict;
  return r;
}

}  // namespace

TEST_CASE("metric values and verdicts are exported from status and dropped when gone", "[analysis][gauges]") {
  canary::ControllerMetrics metrics;
  api::CanaryStatus s;
  s.phase = api::Phase::kProgressing;
  s.metrics = {Result("request-success-rate", 97.5, "Fail"), Result("request-duration", std::nullopt, "NoData")};
  metrics.ObserveCanary("shop", "web", s, api::Strategy::kCanary);
  std::string text = metrics.Serialize();
  CHECK_THAT(text, Contains("sluice_canary_metric_value{metric=\"request-success-rate\",name=\"web\",namespace=\"shop\"} 97.5"));
  // prometheus-cpp spells it "Nan"; Prometheus parses any case.
  CHECK_THAT(text, Contains("sluice_canary_metric_value{metric=\"request-duration\",name=\"web\",namespace=\"shop\"} NaN",
                            Catch::CaseSensitive::No));
  CHECK_THAT(text, Contains("sluice_canary_metric_verdict{metric=\"request-success-rate\",name=\"web\",namespace=\"shop\",verdict=\"Fail\"} 1"));
  CHECK_THAT(text, Contains("sluice_canary_metric_verdict{metric=\"request-success-rate\",name=\"web\",namespace=\"shop\",verdict=\"Pass\"} 0"));
  CHECK_THAT(text, Contains("sluice_canary_metric_verdict{metric=\"request-duration\",name=\"web\",namespace=\"shop\",verdict=\"NoData\"} 1"));

  s.metrics = {Result("request-success-rate", 99.9, "Pass")};
  metrics.ObserveCanary("shop", "web", s, api::Strategy::kCanary);
  text = metrics.Serialize();
  CHECK_THAT(text, Contains("sluice_canary_metric_value{metric=\"request-success-rate\",name=\"web\",namespace=\"shop\"} 99.9"));
  CHECK_THAT(text, Contains("sluice_canary_metric_verdict{metric=\"request-success-rate\",name=\"web\",namespace=\"shop\",verdict=\"Pass\"} 1"));
  CHECK(text.find("metric=\"request-duration\"") == std::string::npos);
}

TEST_CASE("each metric's threshold bounds are exported beside its value, and leave with it", "[analysis][gauges]") {
  canary::ControllerMetrics metrics;
  api::CanaryStatus s;
  s.phase = api::Phase::kProgressing;
  auto rate = Result("request-success-rate", 97.5, "Fail");
  rate.min = 99;
  auto duration = Result("request-duration", 120, "Pass");
  duration.max = 500;
  s.metrics = {rate, duration};
  metrics.ObserveCanary("shop", "web", s, api::Strategy::kCanary);
  std::string text = metrics.Serialize();
  CHECK_THAT(text, Contains("sluice_canary_metric_threshold{bound=\"min\",metric=\"request-success-rate\",name=\"web\",namespace=\"shop\"} 99"));
  CHECK_THAT(text, Contains("sluice_canary_metric_threshold{bound=\"max\",metric=\"request-duration\",name=\"web\",namespace=\"shop\"} 500"));
  CHECK(text.find("bound=\"max\",metric=\"request-success-rate\"") == std::string::npos);

  duration.max.reset();  // the bound was removed from the spec
  s.metrics = {duration};
  metrics.ObserveCanary("shop", "web", s, api::Strategy::kCanary);
  text = metrics.Serialize();
  CHECK(text.find("sluice_canary_metric_threshold{") == std::string::npos);
}
