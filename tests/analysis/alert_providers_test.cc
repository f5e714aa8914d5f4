// Alerts against a local receiver: each provider type's payload shape, severity routing,
// addresses from Secrets, and failures that are counted but never thrown.
#include <catch2/catch.hpp>

#include <map>

#include "analysis/alerts.h"
#include "core/base64.h"
#include "tests/analysis/webhook_receiver.h"

using namespace sluice;
using namespace sluice::testing::hooks;
using Catch::Matchers::Contains;
using nlohmann::json;

namespace {

struct Objects {
  std::map<std::string, kube::ObjectPtr> by_key;
  void Add(const json& obj) {
    by_key[obj["kind"].get<std::string>() + "/" + obj["metadata"]["namespace"].get<std::string>() + "/" +
           obj["metadata"]["name"].get<std::string>()] = std::make_shared<const json>(obj);
  }
  analysis::ObjectLookup Lookup() const {
    return [this](const std::string& kind, const std::string& ns, const std::string& name) -> kube::ObjectPtr {
      auto it = by_key.find(kind + "/" + ns + "/" + name);
      return it == by_key.end() ? nullptr : it->second;
    };
  }
};

json Provider(const std::string& name, const std::string& type, const json& extra) {
  json spec = {{"type", type}};
  spec.update(extra);
  return {{"apiVersion", "sluice.dev/v1beta1"},
          {"kind", "AlertProvider"},
          {"metadata", {{"name", name}, {"namespace", "shop"}}},
          {"spec", spec}};
}

json Canary(const json& alerts) {
  return {{"metadata", {{"name", "podinfo"}, {"namespace", "shop"}}},
          {"spec", {{"analysis", {{"alerts", alerts}}}}},
          {"status", {{"lastAppliedSpec", "5f7d9c"}}}};
}

json Entry(const std::string& provider, const std::string& severity) {
  return {{"name", provider + "-" + severity}, {"severity", severity}, {"providerRef", {{"name", provider}}}};
}

analysis::AlertOptions Fast() {
  analysis::AlertOptions o;
  o.timeout = std::chrono::milliseconds(2000);
  o.retry = {1, std::chrono::milliseconds(20), std::chrono::milliseconds(20)};
  return o;
}

// One event loop for the whole test: the sender keeps connections on it between alerts.
boost::asio::io_context& Loop() {
  static boost::asio::io_context io;
  return io;
}

void Send(analysis::AlertDispatcher& sender, const json& canary, const analysis::Alert& alert, const Objects& objects) {
  boost::asio::io_context& io = Loop();
  analysis::ObjectLookup lookup = objects.Lookup();
  RunCoroutine(io, sender.Send(canary, alert, lookup));
}

}  // namespace

TEST_CASE("each provider type gets its own payload shape", "[analysis][alerts]") {
  WebhookReceiver rx;
  Objects objects;
  objects.Add(Provider("slack", "slack", {{"address", rx.Url("/slack")}, {"channel", "#deploys"}, {"username", "rollouts"}}));
  objects.Add(Provider("teams", "msteams", {{"address", rx.Url("/teams")}}));
  objects.Add(Provider("discord", "discord", {{"address", rx.Url("/discord")}}));
  objects.Add(Provider("hook", "generic", {{"address", rx.Url("/generic")}}));
  json canary = Canary(json::array(
      {Entry("slack", "info"), Entry("teams", "info"), Entry("discord", "info"), Entry("hook", "info")}));
  analysis::AlertDispatcher sender(Fast());
  analysis::Alert alert{"error", "RolledBack", "failed checks reached the threshold of 2"};
  Send(sender, canary, alert, objects);
  CHECK(sender.stats().sent == 4);
  CHECK(sender.stats().failed == 0);

  auto slack = rx.Got("/slack");
  REQUIRE(slack.size() == 1);
  const json& s = slack[0].body;
  CHECK(s["channel"] == "#deploys");
  CHECK(s["username"] == "rollouts");
  CHECK(s["text"] == "podinfo.shop: RolledBack");
  REQUIRE(s["attachments"].size() == 1);
  CHECK(s["attachments"][0]["color"] == "danger");
  CHECK(s["attachments"][0]["text"] == "failed checks reached the threshold of 2");
  CHECK(s["attachments"][0]["fields"].is_array());

  auto teams = rx.Got("/teams");
  REQUIRE(teams.size() == 1);
  const json& t = teams[0].body;
  CHECK(t["@type"] == "MessageCard");
  CHECK(t["@context"] == "https://schema.org/extensions");
  CHECK(t["summary"] == "podinfo.shop: RolledBack");
  CHECK(t["sections"][0]["activityTitle"] == "failed checks reached the threshold of 2");
  CHECK(t["sections"][0]["facts"][0]["name"] == "Canary");

  auto discord = rx.Got("/discord");
  REQUIRE(discord.size() == 1);
  const json& d = discord[0].body;
  CHECK(d["content"] == "podinfo.shop: RolledBack");
  REQUIRE(d["embeds"].size() == 1);
  CHECK(d["embeds"][0]["color"].is_number_integer());
  CHECK(d["embeds"][0]["description"] == "failed checks reached the threshold of 2");

  auto generic = rx.Got("/generic");
  REQUIRE(generic.size() == 1);
  const json& g = generic[0].body;
  CHECK(g["name"] == "podinfo");
  CHECK(g["namespace"] == "shop");
  CHECK(g["severity"] == "error");
  CHECK(g["reason"] == "RolledBack");
  CHECK(g["message"] == "failed checks reached the threshold of 2");
  CHECK(g["revision"] == "5f7d9c");
  CHECK(g["timestamp"].is_string());
}

TEST_CASE("an alert goes to the entries whose severity admits it", "[analysis][alerts]") {
  WebhookReceiver rx;
  Objects objects;
  objects.Add(Provider("all", "generic", {{"address", rx.Url("/info")}}));
  objects.Add(Provider("warnings", "generic", {{"address", rx.Url("/warn")}}));
  objects.Add(Provider("errors", "generic", {{"address", rx.Url("/error")}}));
  json canary = Canary(json::array({Entry("all", "info"), Entry("warnings", "warn"), Entry("errors", "error")}));
  analysis::AlertDispatcher sender(Fast());

  Send(sender, canary, {"info", "", "revision 5f7d9c promoted"}, objects);
  CHECK(rx.Got("/info").size() == 1);
  CHECK(rx.Got("/warn").empty());
  CHECK(rx.Got("/error").empty());

  Send(sender, canary, {"warn", "", "slow"}, objects);
  CHECK(rx.Got("/info").size() == 2);
  CHECK(rx.Got("/warn").size() == 1);
  CHECK(rx.Got("/error").empty());

  Send(sender, canary, {"error", "", "rolled back"}, objects);
  CHECK(rx.Got("/info").size() == 3);
  CHECK(rx.Got("/warn").size() == 2);
  CHECK(rx.Got("/error").size() == 1);
  CHECK(rx.Got("/error")[0].body["reason"] == "RolloutFailed");  // derived when the alert has none

  CHECK(analysis::SeverityAdmits("", "info"));
  CHECK_FALSE(analysis::SeverityAdmits("error", "warn"));
  CHECK_FALSE(analysis::SeverityAdmits("loud", "error"));
}

TEST_CASE("the address may come from the key `address` of a Secret", "[analysis][alerts]") {
  WebhookReceiver rx;
  Objects objects;
  objects.Add(Provider("chat", "slack", {{"secretRef", {{"name", "chat-url"}}}}));
  objects.Add({{"apiVersion", "v1"},
               {"kind", "Secret"},
               {"metadata", {{"name", "chat-url"}, {"namespace", "shop"}}},
               {"data", {{"address", core::Base64Encode(rx.Url("/from-secret") + "\n")}}}});
  analysis::AlertDispatcher sender(Fast());
  Send(sender, Canary(json::array({Entry("chat", "info")})), {"info", "Promoted", "done"}, objects);
  CHECK(rx.Got("/from-secret").size() == 1);
  CHECK(sender.stats().sent == 1);
}

TEST_CASE("undeliverable alerts are counted and logged and never thrown", "[analysis][alerts]") {
  WebhookReceiver rx;
  rx.Script("/broken", {500});
  Objects objects;
  objects.Add(Provider("broken", "generic", {{"address", rx.Url("/broken")}}));
  objects.Add(Provider("no-secret", "slack", {{"secretRef", {{"name", "missing"}}}}));
  objects.Add(Provider("weird", "pager", {{"address", rx.Url("/weird")}}));
  json canary = Canary(json::array({Entry("broken", "info"), Entry("missing-provider", "info"),
                                    Entry("no-secret", "info"), Entry("weird", "info"),
                                    json{{"name", "bad"}, {"severity", "loud"}, {"providerRef", {{"name", "broken"}}}}}));
  analysis::AlertDispatcher sender(Fast());
  REQUIRE_NOTHROW(Send(sender, canary, {"error", "Aborted", "aborted by request"}, objects));
  CHECK(sender.stats().sent == 0);
  CHECK(sender.stats().failed == 5);
  CHECK(rx.Got("/broken").size() == 2);  // one retry of the 500
  CHECK(rx.Got("/weird").empty());
}

TEST_CASE("an unknown provider type is refused by name", "[analysis][alerts]") {
  analysis::AlertContent c;
  CHECK_THROWS_WITH(analysis::AlertPayload("pager", c), Contains("spec.type \"pager\""));
}
