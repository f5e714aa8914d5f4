// Webhook gates and checks against a local receiver: payload shape, gate decisions, retries,
// deadlines and bad specs.
#include <catch2/catch.hpp>

#include <chrono>

#include "analysis/webhooks.h"
#include "api/canary_spec.h"
#include "core/url.h"
#include "net/http_client.h"
#include "tests/analysis/webhook_receiver.h"

using namespace sluice;
using namespace sluice::testing::hooks;
using Catch::Matchers::Contains;
using nlohmann::json;

namespace {

json Canary(const json& webhooks) {
  return {{"apiVersion", "sluice.dev/v1beta1"},
          {"kind", "Canary"},
          {"metadata", {{"name", "podinfo"}, {"namespace", "shop"}}},
          {"spec", {{"analysis", {{"interval", "1s"}, {"webhooks", webhooks}}}}}};
}

json Hook(const std::string& name, const std::string& type, const std::string& url) {
  return {{"name", name}, {"type", type}, {"url", url}, {"timeout", "2s"}, {"retries", 0}};
}

api::CanaryStatus Progressing() {
  api::CanaryStatus s;
  s.phase = api::Phase::kProgressing;
  s.last_applied_spec = "5f7d9c";
  s.canary_weight = 20;
  return s;
}

analysis::WebhookDefaults FastRetries() {
  analysis::WebhookDefaults d;
  d.backoff_base = std::chrono::milliseconds(20);
  d.backoff_max = std::chrono::milliseconds(50);
  return d;
}

// The webhooks as the controller hands them over: parsed and validated with the spec.
api::CanarySpec SpecOf(const json& canary) {
  auto parsed = api::ParseWebhooks(canary["spec"]["analysis"]["webhooks"]);
  if (auto* e = std::get_if<api::SpecError>(&parsed)) FAIL("invalid test webhooks: " << e->ToString());
  api::CanarySpec spec;
  spec.analysis.webhooks = std::get<std::vector<api::WebhookSpec>>(parsed);
  return spec;
}

analysis::AnalysisOutcome Evaluate(const json& canary, const analysis::AnalysisPlan& plan,
                                 analysis::WebhookDefaults defaults = FastRetries()) {
  boost::asio::io_context io;
  analysis::WebhookGates gates(defaults);
  analysis::AnalysisOutcome outcome;
  api::CanaryStatus status = Progressing();
  analysis::ObjectLookup lookup;
  api::CanarySpec spec = SpecOf(canary);
  RunCoroutine(io, gates.Evaluate(canary, spec, plan, status, lookup, outcome));
  return outcome;
}

analysis::AnalysisPlan Checks() {
  analysis::AnalysisPlan p;
  p.checks = true;
  return p;
}

}  // namespace

TEST_CASE("a rollout webhook receives the documented JSON payload", "[analysis][webhooks]") {
  WebhookReceiver rx;
  json hook = Hook("load", "rollout", rx.Url("/hook"));
  hook["metadata"] = {{"type", "load"}, {"url", "http://podinfo-canary.shop:9898/"}};
  auto outcome = Evaluate(Canary(json::array({hook})), Checks());
  CHECK_FALSE(outcome.check_failure);
  auto got = rx.Got("/hook");
  REQUIRE(got.size() == 1);
  CHECK(got[0].method == "POST");
  CHECK_THAT(got[0].content_type, Contains("application/json"));
  const json& p = got[0].body;
  CHECK(p["name"] == "podinfo");
  CHECK(p["namespace"] == "shop");
  CHECK(p["phase"] == "Progressing");
  CHECK(p["checksum"] == "5f7d9c");
  CHECK(p["type"] == "rollout");
  CHECK(p["webhook"] == "load");
  CHECK(p["canaryWeight"] == 20);
  CHECK(p["metadata"]["type"] == "load");
  CHECK(p["metadata"]["url"] == "http://podinfo-canary.shop:9898/");
  CHECK_FALSE(p.contains("eventMessage"));
}

TEST_CASE("confirm gates are open on 2xx and closed otherwise", "[analysis][webhooks]") {
  WebhookReceiver rx;
  json hooks = json::array({Hook("approve-promotion", "confirm-promotion", rx.Url("/promote")),
                            Hook("approve-rollout", "confirm-rollout", rx.Url("/rollout")),
                            Hook("approve-weight", "confirm-traffic-increase", rx.Url("/weight"))});
  analysis::AnalysisPlan plan;
  plan.confirm_promotion = true;
  plan.confirm_rollout = true;
  plan.confirm_traffic_increase = true;

  rx.Script("/promote", {403});
  rx.Script("/rollout", {500});
  rx.Script("/weight", {202});
  auto closed = Evaluate(Canary(hooks), plan);
  CHECK_FALSE(closed.confirm_promotion_open);
  CHECK_FALSE(closed.confirm_rollout_open);
  CHECK(closed.confirm_traffic_increase_open);
  CHECK_FALSE(closed.check_failure);  // a closed gate is not a failed check

  rx.Script("/promote", {200});
  rx.Script("/rollout", {200});
  auto open = Evaluate(Canary(hooks), plan);
  CHECK(open.confirm_promotion_open);
  CHECK(open.confirm_rollout_open);
}

TEST_CASE("only the webhooks the plan asks for are called", "[analysis][webhooks]") {
  WebhookReceiver rx;
  json hooks = json::array({Hook("gate", "confirm-promotion", rx.Url("/promote")),
                            Hook("check", "rollout", rx.Url("/check")),
                            Hook("after", "post-rollout", rx.Url("/after"))});
  Evaluate(Canary(hooks), Checks());
  CHECK(rx.Got("/check").size() == 1);
  CHECK(rx.Got("/promote").empty());
  CHECK(rx.Got("/after").empty());
}

TEST_CASE("a failing pre-rollout or rollout webhook is a failed check naming it and its answer",
          "[analysis][webhooks]") {
  WebhookReceiver rx;
  rx.Script("/pre", {400});
  rx.Script("/check", {500});
  json hooks = json::array({Hook("smoke-test", "pre-rollout", rx.Url("/pre")),
                            Hook("acceptance", "rollout", rx.Url("/check"))});
  analysis::AnalysisPlan plan = Checks();
  plan.pre_rollout = true;
  auto outcome = Evaluate(Canary(hooks), plan);
  REQUIRE(outcome.pre_rollout_failure);
  CHECK_THAT(*outcome.pre_rollout_failure, Contains("smoke-test") && Contains("answered 400") &&
                                               Contains("status 400 from the receiver"));
  CHECK(rx.Got("/check").empty());  // the step already failed

  auto step = Evaluate(Canary(hooks), Checks());
  REQUIRE(step.check_failure);
  CHECK_THAT(*step.check_failure, Contains("rollout webhook acceptance") && Contains("answered 500"));
}

TEST_CASE("a rollback webhook answering 2xx asks for a rollback and skips the checks", "[analysis][webhooks]") {
  WebhookReceiver rx;
  json hooks = json::array({Hook("rollback", "rollback", rx.Url("/rollback")), Hook("check", "rollout", rx.Url("/check"))});
  analysis::AnalysisPlan plan = Checks();
  plan.rollback_gate = true;

  rx.Script("/rollback", {403});
  auto keep = Evaluate(Canary(hooks), plan);
  CHECK_FALSE(keep.rollback_requested);
  CHECK(rx.Got("/check").size() == 1);

  rx.Script("/rollback", {200});
  auto back = Evaluate(Canary(hooks), plan);
  CHECK(back.rollback_requested);
  CHECK(rx.Got("/check").size() == 1);
}

TEST_CASE("5xx answers are retried with backoff until one succeeds", "[analysis][webhooks]") {
  WebhookReceiver rx;
  rx.Script("/flaky", {503, 503, 200});
  json hook = Hook("flaky", "rollout", rx.Url("/flaky"));
  hook["retries"] = 3;
  auto outcome = Evaluate(Canary(json::array({hook})), Checks());
  CHECK_FALSE(outcome.check_failure);
  CHECK(rx.Got("/flaky").size() == 3);

  rx.Script("/down", {503});
  json down = Hook("down", "rollout", rx.Url("/down"));
  down["retries"] = 1;
  auto failed = Evaluate(Canary(json::array({down})), Checks());
  REQUIRE(failed.check_failure);
  CHECK_THAT(*failed.check_failure, Contains("answered 503"));
  CHECK(rx.Got("/down").size() == 2);

  rx.Script("/denied", {403});
  json denied = Hook("denied", "rollout", rx.Url("/denied"));
  denied["retries"] = 3;
  Evaluate(Canary(json::array({denied})), Checks());
  CHECK(rx.Got("/denied").size() == 1);  // a 4xx is an answer, not a hiccup
}

TEST_CASE("a receiver that never answers fails the check at the webhook's timeout", "[analysis][webhooks]") {
  SilentListener silent;
  json hook = Hook("hung", "rollout", silent.Url("/hook"));
  hook["timeout"] = "300ms";
  hook["retries"] = 3;
  auto start = std::chrono::steady_clock::now();
  auto outcome = Evaluate(Canary(json::array({hook})), Checks());
  auto took = std::chrono::steady_clock::now() - start;
  REQUIRE(outcome.check_failure);
  CHECK_THAT(*outcome.check_failure, Contains("rollout webhook hung") && Contains("failed"));
  CHECK(took >= std::chrono::milliseconds(250));
  CHECK(took < std::chrono::milliseconds(1500));  // the deadline is not retried
}

TEST_CASE("an unreachable receiver is retried and then fails the check", "[analysis][webhooks]") {
  std::string url;
  {
    WebhookReceiver gone;
    url = gone.Url("/hook");
  }
  json hook = Hook("gone", "rollout", url);
  hook["retries"] = 2;
  auto outcome = Evaluate(Canary(json::array({hook})), Checks());
  REQUIRE(outcome.check_failure);
  CHECK_THAT(*outcome.check_failure, Contains("rollout webhook gone") && Contains("failed:"));
}

TEST_CASE("a malformed webhook entry is refused with the spec, naming the field", "[analysis][webhooks]") {
  json hook = Hook("bad", "rollout", "http://127.0.0.1:1/x");
  hook["timeout"] = "ten seconds";
  auto bad_timeout = api::ParseWebhooks(json::array({hook}));
  REQUIRE(std::holds_alternative<api::SpecError>(bad_timeout));
  CHECK(std::get<api::SpecError>(bad_timeout).field == "spec.analysis.webhooks[0].timeout");

  json ftp = Hook("ftp", "confirm-promotion", "ftp://example.com/");
  auto bad_url = api::ParseWebhooks(json::array({ftp}));
  REQUIRE(std::holds_alternative<api::SpecError>(bad_url));
  CHECK(std::get<api::SpecError>(bad_url).field == "spec.analysis.webhooks[0].url");
  CHECK_THAT(std::get<api::SpecError>(bad_url).message, Contains("not an http:// or https:// URL"));

  analysis::AnalysisPlan plan;
  plan.confirm_promotion = true;
  auto none = Evaluate(Canary(json::array()), plan);
  CHECK(none.confirm_promotion_open);
}

TEST_CASE("post-rollout and event webhooks are fired with their payloads", "[analysis][webhooks]") {
  WebhookReceiver rx;
  json hooks = json::array({Hook("notify", "post-rollout", rx.Url("/after")), Hook("events", "event", rx.Url("/events")),
                            Hook("check", "rollout", rx.Url("/check"))});
  boost::asio::io_context io;
  analysis::WebhookGates gates(FastRetries());
  api::CanaryStatus status = Progressing();
  status.phase = api::Phase::kSucceeded;
  status.SetCondition({"Ready", "True", "Succeeded", "revision 5f7d9c promoted", {}}, core::TimePoint{});
  analysis::ObjectLookup lookup;
  json canary = Canary(hooks);
  const std::string post = "post-rollout";
  const std::string event = "event";
  api::CanarySpec spec = SpecOf(canary);
  RunCoroutine(io, gates.Fire(canary, spec, post, status, lookup));
  RunCoroutine(io, gates.Fire(canary, spec, event, status, lookup));
  auto after = rx.Got("/after");
  REQUIRE(after.size() == 1);
  CHECK(after[0].body["phase"] == "Succeeded");
  auto events = rx.Got("/events");
  REQUIRE(events.size() == 1);
  CHECK(events[0].body["eventType"] == "Succeeded");
  CHECK(events[0].body["eventMessage"] == "revision 5f7d9c promoted");
  CHECK(events[0].body["timestamp"].is_string());
  CHECK(rx.Got("/check").empty());
}

TEST_CASE("URLs split into origin and target", "[analysis][webhooks]") {
  CHECK(core::SplitUrl("http://a:8080/gate/check?x=1") == std::pair<std::string, std::string>("http://a:8080", "/gate/check?x=1"));
  CHECK(core::SplitUrl("https://hooks.slack.com") == std::pair<std::string, std::string>("https://hooks.slack.com", "/"));
  CHECK_THROWS_WITH(core::SplitUrl("ftp://x/"), Contains("not an http:// or https:// URL"));
  CHECK_THROWS_WITH(core::SplitUrl("http:///x"), Contains("has no host"));
}
