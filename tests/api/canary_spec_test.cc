// Canary spec validation names the field and what is expected; the status round-trips.
#include <catch2/catch.hpp>

#include "api/canary_spec.h"

using namespace sluice::api;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::vector<ProviderInfo> kProviders = {{"gatewayapi", true}, {"kubernetes", false}};

json ValidCanary() {
  return json::parse(R"({
    "apiVersion": "sluice.dev/v1beta1", "kind": "Canary",
    "metadata": {"name": "podinfo", "namespace": "test"},
    "spec": {
      "provider": "gatewayapi",
      "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
      "service": {"port": 9898},
      "analysis": {"interval": "1m30s", "threshold": 3, "maxWeight": 50, "stepWeight": 10}
    }})");
}

SpecError ErrorOf(const json& canary) {
  auto result = ParseCanarySpec(canary, kProviders);
  REQUIRE(std::holds_alternative<SpecError>(result));
  return std::get<SpecError>(result);
}

}  // namespace

TEST_CASE("a valid Canary parses with its defaults", "[spec]") {
  auto result = ParseCanarySpec(ValidCanary(), kProviders);
  REQUIRE(std::holds_alternative<CanarySpec>(result));
  const auto& spec = std::get<CanarySpec>(result);
  CHECK(spec.target_name == "podinfo");
  CHECK(spec.service_name == "podinfo");
  CHECK(spec.service_port == 9898);
  CHECK(spec.analysis.interval == 90s);
  CHECK(spec.analysis.threshold == 3);
  CHECK(spec.progress_deadline == 600s);
  CHECK(spec.strategy() == Strategy::kCanary);
  CHECK(spec.EffectiveMaxWeight() == 50);
}

TEST_CASE("bad Canary specs name the field and what is expected", "[spec]") {
  json c = ValidCanary();
  SECTION("missing target") {
    c["spec"].erase("targetRef");
    auto e = ErrorOf(c);
    CHECK(e.field == "spec.targetRef");
    CHECK_THAT(e.message, Catch::Contains("required"));
  }
  SECTION("weights over 100") {
    c["spec"]["analysis"]["maxWeight"] = 150;
    auto e = ErrorOf(c);
    CHECK(e.field == "spec.analysis.maxWeight");
    CHECK_THAT(e.message, Catch::Contains("between 1 and 100") && Catch::Contains("150"));
  }
  SECTION("stepWeights not increasing") {
    c["spec"]["analysis"].erase("stepWeight");
    c["spec"]["analysis"]["stepWeights"] = {10, 50, 20};
    auto e = ErrorOf(c);
    CHECK(e.field == "spec.analysis.stepWeights[2]");
    CHECK_THAT(e.message, Catch::Contains("greater than the previous entry (50)"));
  }
  SECTION("an interval that does not parse") {
    c["spec"]["analysis"]["interval"] = "soon";
    auto e = ErrorOf(c);
    CHECK(e.field == "spec.analysis.interval");
    CHECK_THAT(e.message, Catch::Contains("\"soon\""));
  }
  SECTION("an unknown provider, with the known ones listed") {
    c["spec"]["provider"] = "linkerd";
    auto e = ErrorOf(c);
    CHECK(e.field == "spec.provider");
    CHECK_THAT(e.message, Catch::Contains("linkerd") && Catch::Contains("gatewayapi, kubernetes"));
  }
  SECTION("a target that is not a Deployment") {
    c["spec"]["targetRef"]["kind"] = "StatefulSet";
    auto e = ErrorOf(c);
    CHECK(e.field == "spec.targetRef.kind");
    CHECK_THAT(e.message, Catch::Contains("StatefulSet"));
  }
  SECTION("stepWeight and stepWeights together") {
    c["spec"]["analysis"]["stepWeights"] = {10, 20};
    CHECK(ErrorOf(c).field == "spec.analysis.stepWeights");
  }
  SECTION("a type mismatch") {
    c["spec"]["analysis"]["threshold"] = "three";
    auto e = ErrorOf(c);
    CHECK(e.field == "spec.analysis.threshold");
    CHECK_THAT(e.message, Catch::Contains("integer"));
  }
  SECTION("A/B matches without iterations") {
    c["spec"]["analysis"]["match"] = json::array({{{"headers", {{"x-canary", {{"exact", "1"}}}}}}});
    CHECK(ErrorOf(c).field == "spec.analysis.iterations");
  }
  SECTION("no spec at all") { CHECK(ErrorOf(json{{"kind", "Canary"}}).field == "spec"); }
}

TEST_CASE("the status round-trips through JSON, so a restart resumes at the same step", "[spec]") {
  CanaryStatus s;
  s.phase = Phase::kWaitingPromotion;
  s.canary_weight = 30;
  s.failed_checks = 1;
  s.iterations = 2;
  s.step_index = 3;
  s.last_applied_spec = "abc";
  s.last_promoted_spec = "def";
  s.last_step = TimePoint{} + 1000h + 1234567us;
  s.canary_wait_started = TimePoint{} + 999h;
  s.tracked_configs = {{"configmap/app", "h1"}};
  s.SetCondition({"Ready", "Unknown", "WaitingPromotion", "gate closed", {}}, TimePoint{} + 1000h);
  s.requests["abort"] = {"why", "aborted", TimePoint{} + 1001h};
  MetricResult rate;
  rate.name = "request-success-rate";
  rate.value = 97.5;
  rate.verdict = "Fail";
  rate.message = "97.5 is below the minimum 99";
  rate.min = 99;
  MetricResult nodata;
  nodata.name = "request-duration";
  nodata.verdict = "NoData";
  s.metrics = {rate, nodata};
  CanaryStatus back = StatusFromJson(StatusToJson(s));
  REQUIRE(back.metrics.size() == 2);
  CHECK(back.metrics[0].value == 97.5);
  CHECK(back.metrics[0].min == 99);
  CHECK_FALSE(back.metrics[0].max);
  CHECK(back.metrics[0].message == rate.message);
  CHECK_FALSE(back.metrics[1].value);
  CHECK(back.metrics[1].verdict == "NoData");
  CHECK(back.phase == s.phase);
  CHECK(back.canary_weight == 30);
  CHECK(back.failed_checks == 1);
  CHECK(back.iterations == 2);
  CHECK(back.step_index == 3);
  CHECK(back.last_applied_spec == "abc");
  CHECK(back.last_promoted_spec == "def");
  CHECK(back.last_step == s.last_step);
  CHECK(back.canary_wait_started == s.canary_wait_started);
  CHECK(back.tracked_configs == s.tracked_configs);
  REQUIRE(back.FindCondition("Ready"));
  CHECK(back.FindCondition("Ready")->reason == "WaitingPromotion");
  CHECK(back.requests.at("abort").outcome == "aborted");

  CHECK(StatusFromJson(json::parse(R"({"phase": "Dancing", "canaryWeight": "x"})")).phase == Phase::kInitializing);
  CHECK(StatusFromJson(json("garbage")).phase == Phase::kInitializing);
}

TEST_CASE("a malformed status field falls back instead of throwing (found by fuzz_canary_spec)", "[spec][fuzz]") {
  // A condition's status of 1 threw nlohmann's type_error out of StatusFromJson, and a time in
  // the year 1012 overflowed the clock (UB): the Canary could never be reconciled again.
  CanaryStatus s = StatusFromJson(json::parse(R"({"phase": "Progressing", "lastStepTime": "1012-05-01T10:01:00Z",
    "conditions": [{"type": "Ready", "status": 1, "reason": ["x"], "message": {}, "lastTransitionTime": 5}],
    "pendingAlerts": [{"severity": 2, "reason": null, "message": "m"}],
    "requests": {"abort": {"value": false, "outcome": 1.5, "time": []}},
    "metrics": [{"name": "rate", "verdict": 3, "message": "ok", "time": "9999-01-01T00:00:00Z", "value": 1}]})"));
  CHECK(s.phase == Phase::kProgressing);
  CHECK(s.last_step == TimePoint{});
  REQUIRE(s.conditions.size() == 1);
  CHECK(s.conditions[0].status == "Unknown");
  CHECK(s.conditions[0].reason.empty());
  REQUIRE(s.pending_alerts.size() == 1);
  CHECK(s.pending_alerts[0].severity == "info");
  CHECK(s.pending_alerts[0].message == "m");
  CHECK(s.requests.at("abort").value.empty());
  REQUIRE(s.metrics.size() == 1);
  CHECK(s.metrics[0].message == "ok");
  CHECK(s.metrics[0].time == TimePoint{});
  CHECK(StatusFromJson(StatusToJson(s)).conditions[0].status == "Unknown");
}

TEST_CASE("metrics and webhooks are parsed once into typed entries", "[spec]") {
  json c = ValidCanary();
  c["spec"]["analysis"]["metrics"] = json::parse(R"j([
    {"name": "request-success-rate", "interval": "1m", "thresholdRange": {"min": 99}},
    {"name": "latency", "templateRef": {"name": "p99", "namespace": "ops"}, "templateVariables": {"q": "0.99"},
     "thresholdRange": {"max": 500}},
    {"name": "errors", "query": "sum(rate(x[1m]))", "compare": {"confidence": 0.95}}])j");
  c["spec"]["analysis"]["webhooks"] = json::parse(R"([
    {"name": "gate", "type": "confirm-promotion", "url": "http://gate.test/approve"},
    {"name": "load", "url": "https://load.test/", "timeout": "15s", "retries": 4, "metadata": {"cmd": "hey"}}])");
  c["spec"]["metricsServer"] = "http://prometheus.monitoring:9090";
  auto result = ParseCanarySpec(c, kProviders);
  REQUIRE(std::holds_alternative<CanarySpec>(result));
  const auto& a = std::get<CanarySpec>(result).analysis;
  REQUIRE(a.metrics.size() == 3);
  CHECK(a.metrics[0].interval == 60s);
  CHECK(a.metrics[0].min == 99);
  CHECK_FALSE(a.metrics[0].max);
  CHECK(a.metrics[1].template_name == "p99");
  CHECK(a.metrics[1].template_namespace == "ops");
  CHECK(a.metrics[1].template_variables.at("q") == "0.99");
  CHECK(a.metrics[2].query == "sum(rate(x[1m]))");
  CHECK(a.metrics[2].compare["confidence"] == 0.95);
  REQUIRE(a.webhooks.size() == 2);
  CHECK(a.webhooks[0].type == "confirm-promotion");
  CHECK_FALSE(a.webhooks[0].timeout);  // the controller's default applies
  CHECK(a.webhooks[1].type == "rollout");
  CHECK(a.webhooks[1].timeout == 15s);
  CHECK(a.webhooks[1].retries == 4);
  CHECK(a.webhooks[1].metadata["cmd"] == "hey");
  CHECK(std::get<CanarySpec>(result).metrics_server == "http://prometheus.monitoring:9090");
}

TEST_CASE("a bad metric or webhook is an invalid spec naming the field", "[spec]") {
  auto with = [](const char* list, const char* items) {
    json c = ValidCanary();
    c["spec"]["analysis"][list] = json::parse(items);
    return ErrorOf(c);
  };
  SECTION("metrics[i].interval that is not a duration (it used to become 60s in silence)") {
    auto e = with("metrics", R"([{"name": "ok"}, {"name": "rate", "interval": "soon"}])");
    CHECK(e.field == "spec.analysis.metrics[1].interval");
    CHECK_THAT(e.message, Catch::Contains("duration of at least 1s"));
    CHECK_THAT(e.message, Catch::Contains("\"soon\""));
  }
  SECTION("metrics[i].interval below a second") {
    CHECK(with("metrics", R"([{"name": "rate", "interval": "500ms"}])").field == "spec.analysis.metrics[0].interval");
  }
  SECTION("two metrics with one name") {
    auto e = with("metrics", R"([{"name": "rate"}, {"name": "latency"}, {"name": "rate"}])");
    CHECK(e.field == "spec.analysis.metrics[2].name");
    CHECK_THAT(e.message, Catch::Contains("\"rate\" is used by an earlier entry"));
  }
  SECTION("a metric without a name") {
    CHECK(with("metrics", R"([{"query": "up"}])").field == "spec.analysis.metrics[0].name");
  }
  SECTION("a thresholdRange bound that is not a number") {
    auto e = with("metrics", R"([{"name": "rate", "thresholdRange": {"min": "99"}}])");
    CHECK(e.field == "spec.analysis.metrics[0].thresholdRange.min");
  }
  SECTION("templateVariables that are not strings") {
    auto e = with("metrics", R"([{"name": "rate", "templateRef": {"name": "t"}, "templateVariables": {"n": 1}}])");
    CHECK(e.field == "spec.analysis.metrics[0].templateVariables.n");
  }
  SECTION("webhooks[i].timeout that is not a duration") {
    auto e = with("webhooks", R"([{"name": "load", "url": "http://l/", "timeout": "ten seconds"}])");
    CHECK(e.field == "spec.analysis.webhooks[0].timeout");
    CHECK_THAT(e.message, Catch::Contains("\"ten seconds\""));
  }
  SECTION("webhooks[i].retries out of range") {
    auto e = with("webhooks", R"([{"name": "load", "url": "http://l/", "retries": 11}])");
    CHECK(e.field == "spec.analysis.webhooks[0].retries");
  }
  SECTION("an unknown webhook type") {
    auto e = with("webhooks", R"([{"name": "x", "type": "pre-promotion", "url": "http://l/"}])");
    CHECK(e.field == "spec.analysis.webhooks[0].type");
    CHECK_THAT(e.message, Catch::Contains("confirm-promotion"));
  }
  SECTION("two webhooks with one name") {
    CHECK(with("webhooks", R"([{"name": "x", "url": "http://a/"}, {"name": "x", "url": "http://b/"}])").field ==
          "spec.analysis.webhooks[1].name");
  }
  SECTION("metrics that are not a list") {
    CHECK(with("metrics", R"({"name": "rate"})").field == "spec.analysis.metrics");
  }
}

TEST_CASE("analysis.alerts are parsed once, with errors naming the entry", "[spec][alerts]") {
  json c = ValidCanary();
  c["spec"]["analysis"]["alerts"] = json::parse(R"([
    {"name": "chat", "severity": "warn", "providerRef": {"name": "slack", "namespace": "ops"}},
    {"name": "pager", "providerRef": {"name": "hook"}}])");
  auto result = ParseCanarySpec(c, kProviders);
  REQUIRE(std::holds_alternative<CanarySpec>(result));
  const auto& alerts = std::get<CanarySpec>(result).analysis.alerts;
  REQUIRE(alerts.size() == 2);
  CHECK(alerts[0].severity == "warn");
  CHECK(alerts[0].provider_namespace == "ops");
  CHECK(alerts[1].severity == "info");
  CHECK(alerts[1].provider_namespace.empty());

  c["spec"]["analysis"]["alerts"][1]["severity"] = "loud";
  CHECK(ErrorOf(c).field == "spec.analysis.alerts[1].severity");
  c["spec"]["analysis"]["alerts"][1]["severity"] = "error";
  c["spec"]["analysis"]["alerts"][1]["providerRef"] = json::object();
  CHECK(ErrorOf(c).field == "spec.analysis.alerts[1].providerRef.name");
  c["spec"]["analysis"]["alerts"][1] = c["spec"]["analysis"]["alerts"][0];
  SpecError dup = ErrorOf(c);
  CHECK(dup.field == "spec.analysis.alerts[1].name");
  CHECK_THAT(dup.message, Catch::Contains("\"chat\" is used by an earlier entry"));
}
