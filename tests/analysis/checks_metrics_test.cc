// spec.analysis.metrics evaluated by the Prometheus checker against backfilled series:
// thresholds, no data, errors, templates and Secrets from the lookup, and every builtin
// query of every provider with its exact expected value.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <boost/asio/detached.hpp>

#include <cmath>

#include "analysis/builtin_metrics.h"
#include "analysis/metric_checks.h"
#include "analysis/query_template.h"
#include "api/canary_spec.h"
#include "core/base64.h"
#include "tests/analysis/prom_harness.h"
#include "tests/support/skip.h"

using namespace sluice;
using namespace sluice::analysis;
using namespace sluice::testing;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using nlohmann::json;
using std::chrono::minutes;

namespace {

#define REQUIRE_PROMETHEUS()                                                     \
  if (!HavePrometheus()) SLUICE_SKIP("prometheus and promtool are not installed"); \
  REQUIRE(SharedPrometheus().ready())

core::TimePoint At(minutes m) { return BackfillStart() + m; }

// A valid Canary (the spec is parsed as the controller parses it) with these metrics.
json CanaryWith(const json& metrics, const std::string& provider = "gatewayapi") {
  json analysis = {{"interval", "1m"}, {"metrics", metrics}};
  // The kubernetes provider only switches (blue/green): it runs a number of iterations.
  if (provider == "kubernetes") analysis["iterations"] = 5;
  else analysis["stepWeight"] = 10;
  return {{"apiVersion", "sluice.dev/v1beta1"},
          {"kind", "Canary"},
          {"metadata", {{"name", "web"}, {"namespace", "shop"}}},
          {"spec",
           {{"provider", provider},
            {"targetRef", {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"name", "web"}}},
            {"service", {{"port", 8080}}},
            {"analysis", analysis}}}};
}

// The spec as the controller parses it (every provider with builtin queries is allowed).
api::CanarySpec SpecOf(const json& canary) {
  auto parsed = api::ParseCanarySpec(canary, {{"gatewayapi", true}, {"istio", true}, {"nginx", true}, {"kubernetes", false}});
  if (auto* e = std::get_if<api::SpecError>(&parsed)) FAIL("the test Canary is invalid: " << e->ToString());
  return std::get<api::CanarySpec>(parsed);
}

// Objects the checker may look up, as the controller's caches would hold them.
struct Objects {
  std::map<std::string, json> by_key;  // "Kind/ns/name"
  void Add(const json& object) {
    by_key[object["kind"].get<std::string>() + "/" + object["metadata"]["namespace"].get<std::string>() + "/" +
           object["metadata"]["name"].get<std::string>()] = object;
  }
  analysis::ObjectLookup Lookup() const {
    return [this](const std::string& kind, const std::string& ns, const std::string& name) -> kube::ObjectPtr {
      auto it = by_key.find(kind + "/" + ns + "/" + name);
      return it == by_key.end() ? nullptr : std::make_shared<const json>(it->second);
    };
  }
};

json Template(const std::string& name, const std::string& query, const json& provider) {
  return {{"apiVersion", "sluice.dev/v1beta1"},
          {"kind", "MetricTemplate"},
          {"metadata", {{"name", name}, {"namespace", "shop"}}},
          {"spec", {{"provider", provider}, {"query", query}}}};
}

struct Checker {
  boost::asio::io_context io;
  std::shared_ptr<QueryMetricChecker> checker;
  explicit Checker(const std::string& address) {
    MetricCheckerOptions o;
    o.default_address = address;
    o.query_timeout = std::chrono::milliseconds(5000);
    checker = QueryMetricChecker::Create(io.get_executor(), o);
  }
  analysis::AnalysisOutcome Run(const json& canary, core::TimePoint at, const Objects& objects = {}) {
    analysis::AnalysisOutcome outcome;
    api::CanarySpec spec = SpecOf(canary);
    Await(io, checker->CheckAt(canary, spec, objects.Lookup(), at, outcome));
    return outcome;
  }
};

}  // namespace

TEST_CASE("thresholds give Pass and Fail with the value against the bound", "[analysis][checks]") {
  REQUIRE_PROMETHEUS();
  Checker c(SharedPrometheus().address());
  std::string q = "sluice_test_value{case=\"steady\"}";
  json metrics = json::array({
      {{"name", "within"}, {"query", q}, {"thresholdRange", {{"min", 99}, {"max", 100}}}},
      {{"name", "min-only"}, {"query", q}, {"thresholdRange", {{"min", 99}}}},
      {{"name", "too-low"}, {"query", q}, {"thresholdRange", {{"min", 99.9}}}},
      {{"name", "too-high"}, {"query", q}, {"thresholdRange", {{"max", 50}}}},
      {{"name", "no-threshold"}, {"query", q}},
  });
  auto outcome = c.Run(CanaryWith(metrics), At(minutes(10)));
  REQUIRE(outcome.metrics.size() == 5);
  CHECK(outcome.metrics[0].verdict == "Pass");
  CHECK(outcome.metrics[0].message == "99.5 is within [99, 100]");
  CHECK(outcome.metrics[0].value == 99.5);
  CHECK(outcome.metrics[0].time == At(minutes(10)));
  CHECK(outcome.metrics[1].verdict == "Pass");
  CHECK(outcome.metrics[2].verdict == "Fail");
  CHECK(outcome.metrics[2].message == "99.5 is below the minimum 99.9");
  CHECK(outcome.metrics[3].verdict == "Fail");
  CHECK(outcome.metrics[3].message == "99.5 is above the maximum 50");
  CHECK(outcome.metrics[4].verdict == "Pass");
  // The first metric that does not pass fails the check, named with its value and bound.
  REQUIRE(outcome.check_failure);
  CHECK(*outcome.check_failure == "metric too-low: 99.5 is below the minimum 99.9");
}

TEST_CASE("no data and NaN never pass and errors name the metric and the cause", "[analysis][checks]") {
  REQUIRE_PROMETHEUS();
  Checker c(SharedPrometheus().address());
  json metrics = json::array({
      {{"name", "missing"}, {"query", "sluice_test_value{case=\"missing\"}"}, {"thresholdRange", {{"min", 1}}}},
      {{"name", "nan"}, {"query", "sluice_test_value{case=\"nan\"}"}, {"thresholdRange", {{"max", 1}}}},
      {{"name", "matrix"}, {"query", "sluice_test_value{case=\"steady\"}[1m]"}, {"thresholdRange", {{"min", 1}}}},
      {{"name", "bad-promql"}, {"query", "sum(rate(x[{{ interval }}]"}, {"thresholdRange", {{"min", 1}}}},
  });
  auto outcome = c.Run(CanaryWith(metrics), At(minutes(10)));
  REQUIRE(outcome.metrics.size() == 4);
  CHECK(outcome.metrics[0].verdict == "NoData");
  CHECK_FALSE(outcome.metrics[0].value);
  CHECK_THAT(outcome.metrics[0].message, Contains("no data"));
  CHECK(outcome.metrics[1].verdict == "NoData");
  CHECK(outcome.metrics[2].verdict == "Error");
  CHECK_THAT(outcome.metrics[2].message, Contains("range vector (matrix)"));
  CHECK(outcome.metrics[3].verdict == "Error");
  CHECK_THAT(outcome.metrics[3].message, Contains("query \"sum(rate(x[1m]\": bad_data"));
  REQUIRE(outcome.check_failure);
  CHECK_THAT(*outcome.check_failure, StartsWith("metric missing: no data"));
}

TEST_CASE("an unreachable Prometheus fails the check with a clear reason", "[analysis][checks]") {
  Checker c("http://127.0.0.1:" + std::to_string(FreeLoopbackPort()));
  json metrics = json::array({{{"name", "request-success-rate"}, {"thresholdRange", {{"min", 99}}}}});
  auto outcome = c.Run(CanaryWith(metrics), At(minutes(10)));
  REQUIRE(outcome.metrics.size() == 1);
  CHECK(outcome.metrics[0].verdict == "Error");
  REQUIRE(outcome.check_failure);
  CHECK_THAT(*outcome.check_failure, StartsWith("metric request-success-rate: Prometheus at http://127.0.0.1:"));
  CHECK_THAT(*outcome.check_failure, Contains("cannot connect"));
}

TEST_CASE("spec.metricsServer points a Canary at its own Prometheus over the controller's", "[analysis][checks]") {
  REQUIRE_PROMETHEUS();
  // The controller's default is unreachable; the Canary names the real one.
  Checker c("http://127.0.0.1:" + std::to_string(FreeLoopbackPort()));
  json metrics = json::array({{{"name", "request-success-rate"}, {"thresholdRange", {{"min", 90}}}}});
  json canary = CanaryWith(metrics);
  auto unreachable = c.Run(canary, At(minutes(20)));
  CHECK(unreachable.metrics[0].verdict == "Error");
  canary["spec"]["metricsServer"] = SharedPrometheus().address();
  auto outcome = c.Run(canary, At(minutes(20)));
  REQUIRE(outcome.metrics.size() == 1);
  CHECK(outcome.metrics[0].verdict == "Pass");
  // A bad address is refused with the spec, before any query.
  canary["spec"]["metricsServer"] = 42;
  auto bad = api::ParseCanarySpec(canary, {{"gatewayapi", true}});
  REQUIRE(std::holds_alternative<api::SpecError>(bad));
  CHECK(std::get<api::SpecError>(bad).ToString() == "spec.metricsServer: must be a string, got 42");
}

TEST_CASE("MetricTemplates from the lookup give query and address and Secret and refusals name the template",
          "[analysis][checks]") {
  REQUIRE_PROMETHEUS();
  Checker c("");  // no default address: every metric must bring its own
  Objects objects;
  json provider = {{"type", "prometheus"}, {"address", SharedPrometheus().address()}};
  objects.Add(Template("steady", "sluice_test_value{case=\"{{ variables.case }}\"}", provider));
  objects.Add(Template("broken", "sluice_test_value{case=\"{{ variables.missing }}\"}", provider));
  json with_secret = provider;
  with_secret["secretRef"] = {{"name", "prom-auth"}};
  objects.Add(Template("needs-secret", "vector(1)", with_secret));
  objects.Add(Template("no-secret-here", "vector(1)", {{"type", "prometheus"}, {"address", SharedPrometheus().address()},
                                                        {"secretRef", {{"name", "absent"}}}}));
  objects.Add({{"apiVersion", "v1"},
               {"kind", "Secret"},
               {"metadata", {{"name", "prom-auth"}, {"namespace", "shop"}}},
               {"data", {{"token", core::Base64Encode("abc")}}}});
  json metrics = json::array({
      {{"name", "from-template"},
       {"templateRef", {{"name", "steady"}}},
       {"templateVariables", {{"case", "steady"}}},
       {"thresholdRange", {{"min", 99}}}},
      {{"name", "with-secret"}, {"templateRef", {{"name", "needs-secret"}}}, {"thresholdRange", {{"min", 1}}}},
      {{"name", "not-rendering"}, {"templateRef", {{"name", "broken"}}}, {"thresholdRange", {{"min", 1}}}},
      {{"name", "absent-template"}, {"templateRef", {{"name", "nope"}}}, {"thresholdRange", {{"min", 1}}}},
      {{"name", "absent-secret"}, {"templateRef", {{"name", "no-secret-here"}}}, {"thresholdRange", {{"min", 1}}}},
      {{"name", "inline-without-address"}, {"query", "vector(1)"}},
      {{"name", "latency"}},  // not a builtin name and no query
  });
  auto outcome = c.Run(CanaryWith(metrics), At(minutes(10)), objects);
  REQUIRE(outcome.metrics.size() == 7);
  CHECK(outcome.metrics[0].verdict == "Pass");
  CHECK(outcome.metrics[0].value == 99.5);
  CHECK(outcome.metrics[1].verdict == "Pass");  // Prometheus without auth ignores the bearer token
  CHECK(outcome.metrics[2].verdict == "Error");
  CHECK_THAT(outcome.metrics[2].message,
             Contains("template \"MetricTemplate shop/broken\": line 1, column 25 (byte 24): unknown variable "
                      "\"variables.missing\""));
  CHECK_THAT(outcome.metrics[3].message,
             Contains("Canary shop/web spec.analysis.metrics[3]: MetricTemplate shop/nope not found"));
  CHECK_THAT(outcome.metrics[4].message, Contains("MetricTemplate shop/no-secret-here: spec.provider.secretRef: "
                                                  "Secret shop/absent not found"));
  CHECK_THAT(outcome.metrics[5].message, Contains("no Prometheus address"));
  CHECK_THAT(outcome.metrics[6].message, Contains("\"latency\" is not a builtin metric"));
  // What the spec alone shows wrong is refused with the spec, naming the field.
  auto both = api::ParseCanarySpec(
      CanaryWith(json::array({{{"name", "both"}, {"query", "vector(1)"}, {"templateRef", {{"name", "steady"}}}}})),
      {{"gatewayapi", true}});
  REQUIRE(std::holds_alternative<api::SpecError>(both));
  CHECK(std::get<api::SpecError>(both).ToString() ==
        "spec.analysis.metrics[0].query: cannot be set together with templateRef: choose one");
  auto bad_range = api::ParseCanarySpec(
      CanaryWith(json::array({{{"name", "bad-range"}, {"query", "vector(1)"}, {"thresholdRange", {{"min", 5}, {"max", 1}}}}})),
      {{"gatewayapi", true}});
  REQUIRE(std::holds_alternative<api::SpecError>(bad_range));
  CHECK(std::get<api::SpecError>(bad_range).ToString() ==
        "spec.analysis.metrics[0].thresholdRange.min: must not be greater than max (1), got 5");
  for (size_t i = 2; i < outcome.metrics.size(); ++i) CHECK(outcome.metrics[i].verdict == "Error");
  REQUIRE(outcome.check_failure);
  CHECK_THAT(*outcome.check_failure, StartsWith("metric not-rendering: template"));
  // One provider per address and credentials: the plain one and the one with the token.
  CHECK(c.checker->cached_providers() == 2);
}

TEST_CASE("builtin metrics of every provider give the exact canary and primary values", "[analysis][builtin]") {
  REQUIRE_PROMETHEUS();
  Checker c(SharedPrometheus().address());
  auto provider = MakePrometheusProvider(c.io.get_executor(), [] {
    PrometheusOptions o;
    o.address = SharedPrometheus().address();
    return o;
  }());
  for (const std::string& routing : BuiltinProviders()) {
    INFO("provider " << routing);
    json metrics = json::array({
        {{"name", "request-success-rate"}, {"thresholdRange", {{"min", 99}}}},
        {{"name", "request-duration"}, {"thresholdRange", {{"max", 500}}}},
    });
    json canary = CanaryWith(metrics, routing);
    auto outcome = c.Run(canary, At(minutes(20)));
    REQUIRE(outcome.metrics.size() == 2);
    REQUIRE(outcome.metrics[0].value);
    CHECK(*outcome.metrics[0].value == Approx(95));
    CHECK(outcome.metrics[0].verdict == "Fail");
    REQUIRE(outcome.metrics[1].value);
    CHECK(*outcome.metrics[1].value == Approx(99.5));
    CHECK(outcome.metrics[1].verdict == "Pass");

    // The same templates render the primary side for the judge.
    api::CanarySpec spec = SpecOf(canary);
    TemplateContext primary = ContextForMetric(canary, spec, spec.analysis.metrics[0]).ForPrimary();
    for (const auto& [metric, expected] : std::vector<std::pair<std::string, double>>{
             {"request-success-rate", 100}, {"request-duration", 49.5}}) {
      std::string q = RenderQuery(metric, *BuiltinQuery(metric, routing), primary);
      auto value = Await(c.io, provider->QueryScalar(q, At(minutes(20))));
      REQUIRE(value);
      CHECK(*value == Approx(expected));
    }
  }
  // Before any traffic the rate is 0/0: no data, never a pass.
  auto early = c.Run(CanaryWith(json::array({{{"name", "request-success-rate"}, {"thresholdRange", {{"min", 99}}}}})),
                     BackfillStart() - minutes(30));
  CHECK(early.metrics.at(0).verdict == "NoData");
}

TEST_CASE("builtin queries exist for every provider and name no other series", "[analysis][builtin]") {
  for (const auto& provider : BuiltinProviders())
    for (const auto& metric : BuiltinMetricNames()) CHECK(BuiltinQuery(metric, provider));
  CHECK_FALSE(BuiltinQuery("request-success-rate", "linkerd"));
  CHECK_FALSE(BuiltinQuery("cpu", "istio"));
  CHECK_THAT(*BuiltinQuery("request-duration", "istio"),
             Contains("istio_request_duration_milliseconds_bucket{reporter=\"destination\""));
}

TEST_CASE("values are formatted with up to six significant digits", "[analysis][checks]") {
  CHECK(FormatValue(99.5) == "99.5");
  CHECK(FormatValue(95.00000000001) == "95");
  CHECK(FormatValue(0.000123) == "0.000123");
  CHECK(FormatValue(INFINITY) == "+Inf");
}

TEST_CASE("a metric with compare is judged against the primary over the same window", "[analysis][checks][judge]") {
  REQUIRE_PROMETHEUS();
  Checker c(SharedPrometheus().address());
  // Canary p99 99.5 ms against the primary's 49.5 ms; success 95% against 100%.
  // Metric names are unique within a Canary: the second use of each builtin is its query inline.
  json metrics = json::array({
      {{"name", "request-duration"}, {"compare", {{"confidence", 0.95}}}},
      {{"name", "request-success-rate"}, {"compare", {{"allowedDecrease", 10}}}},
      {{"name", "success-rate-2m"},
       {"query", *BuiltinQuery("request-success-rate", "istio")},
       {"interval", "2m"},
       {"compare", {{"allowedDecrease", 1}}}},
      {{"name", "duration-bad-confidence"},
       {"query", *BuiltinQuery("request-duration", "istio")},
       {"compare", {{"confidence", 2}}}},
  });
  auto outcome = c.Run(CanaryWith(metrics, "istio"), At(minutes(20)));
  REQUIRE(outcome.metrics.size() == 4);
  CHECK(outcome.metrics[0].verdict == "High");
  REQUIRE(outcome.metrics[0].value);
  CHECK(*outcome.metrics[0].value == Approx(99.5));
  CHECK(outcome.metrics[1].verdict == "Pass");  // 5% lower, 10% allowed
  CHECK(outcome.metrics[2].verdict == "Low");
  CHECK(outcome.metrics[3].verdict == "Error");
  CHECK_THAT(outcome.metrics[3].message, Contains("spec.analysis.metrics[3].compare"));
  REQUIRE(outcome.check_failure);
  CHECK_THAT(*outcome.check_failure, StartsWith("metric request-duration:"));
}

TEST_CASE("a comparison without data yet does not fail a young rollout, and does once it is old", "[analysis][checks][judge]") {
  REQUIRE_PROMETHEUS();
  // An hour before the backfilled series: neither side has samples.
  core::FakeClock clock(BackfillStart() - std::chrono::hours(1));
  MetricCheckerOptions o;
  o.default_address = SharedPrometheus().address();
  o.query_timeout = std::chrono::milliseconds(5000);
  o.clock = &clock;
  boost::asio::io_context io;
  auto checker = QueryMetricChecker::Create(io.get_executor(), o);
  json canary = CanaryWith(json::array({{{"name", "request-duration"}, {"compare", {{"confidence", 0.95}}}}}), "istio");
  analysis::ObjectLookup lookup = [](const std::string&, const std::string&, const std::string&) {
    return kube::ObjectPtr();
  };

  api::CanaryStatus young;
  young.phase = api::Phase::kProgressing;
  young.last_transition = clock.Now() - std::chrono::minutes(2);  // the window is 9 intervals of 1m
  analysis::AnalysisOutcome warming;
  api::CanarySpec spec = SpecOf(canary);
  Await(io, checker->Check(canary, spec, young, lookup, warming));
  REQUIRE(warming.metrics.size() == 1);
  CHECK(warming.metrics[0].verdict == "NoData");
  CHECK_THAT(warming.metrics[0].message, Contains("warming up"));
  CHECK_FALSE(warming.check_failure);

  api::CanaryStatus old = young;
  old.last_transition = clock.Now() - std::chrono::minutes(30);
  analysis::AnalysisOutcome late;
  Await(io, checker->Check(canary, spec, old, lookup, late));
  CHECK(late.metrics[0].verdict == "NoData");
  REQUIRE(late.check_failure);
  CHECK_THAT(*late.check_failure, StartsWith("metric request-duration:"));

  // A plain threshold metric gets no such grace: no data never passes.
  json plain = CanaryWith(json::array({{{"name", "request-duration"}, {"thresholdRange", {{"max", 500}}}}}), "istio");
  analysis::AnalysisOutcome strict;
  api::CanarySpec plain_spec = SpecOf(plain);
  Await(io, checker->Check(plain, plain_spec, young, lookup, strict));
  REQUIRE(strict.check_failure);
}

// Figures for docs (run with: analysis_tests "[bench]"): the analysis time of one step and
// how fast one controller thread gets answers for 100 Canaries' steps.
TEST_CASE("figures: analysis time per step and queries per second", "[.][bench]") {
  REQUIRE_PROMETHEUS();
  Checker c(SharedPrometheus().address());
  json canary = CanaryWith(json::array({
                               {{"name", "request-success-rate"}, {"thresholdRange", {{"min", 90}}}},
                               {{"name", "request-duration"}, {"thresholdRange", {{"max", 500}}}},
                           }),
                           "istio");
  c.Run(canary, At(minutes(20)));  // connect once
  constexpr int kSteps = 200;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kSteps; ++i) CHECK(c.Run(canary, At(minutes(10)) + std::chrono::seconds(i)).metrics.size() == 2);
  double step_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / kSteps;

  // 100 Canaries' steps at once on the one executor (as the controller's workers would).
  constexpr int kCanaries = 100;
  std::vector<analysis::AnalysisOutcome> outcomes(kCanaries);
  analysis::ObjectLookup none;  // outlives the spawned checks, which hold a reference
  const api::CanarySpec spec = SpecOf(canary);  // likewise
  start = std::chrono::steady_clock::now();
  for (int i = 0; i < kCanaries; ++i)
    boost::asio::co_spawn(c.io, c.checker->CheckAt(canary, spec, none, At(minutes(15)), outcomes[i]),
                          boost::asio::detached);
  c.io.restart();
  c.io.run();
  double batch_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  for (const auto& o : outcomes) CHECK(o.metrics.size() == 2);
  WARN("one step (2 builtin metrics, sequential queries): " << step_ms << " ms; 100 Canaries' steps at once: "
                                                            << batch_ms << " ms = "
                                                            << (2 * kCanaries) / (batch_ms / 1000) << " queries/s");
}
