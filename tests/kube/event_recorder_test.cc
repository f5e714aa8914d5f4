#include "kube/event_recorder.h"

#include "tests/kube/fake_client.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>


using namespace std::chrono_literals;
using sluice::core::ApiError;
using sluice::kube::EventRecorder;
using sluice::kube::EventRecorderOptions;
using sluice::kube::EventType;
using sluice::core::FakeClock;
using sluice::kube::json;
using sluice::kube::testing::EventsResource;
using sluice::kube::testing::FakeClient;
using sluice::kube::testing::RunUntil;

namespace {

json Canary(const std::string& name = "podinfo") {
  return json{{"apiVersion", "sluice.dev/v1beta1"},
              {"kind", "Canary"},
              {"metadata", {{"name", name}, {"namespace", "test"}, {"uid", "uid-" + name}, {"resourceVersion", "42"}}}};
}

struct Fixture {
  boost::asio::io_context io;
  std::shared_ptr<FakeClient> client = std::make_shared<FakeClient>(io.get_executor());
  FakeClock clock;
  std::shared_ptr<EventRecorder> recorder;

  explicit Fixture(EventRecorderOptions o = {}) {
    o.component = "sluice";
    o.instance = "sluice-7d9f-abcde";
    o.clock = &clock;
    recorder = EventRecorder::Create(client, o);
  }
  void Flush() {
    bool done = false;
    boost::asio::co_spawn(io, [&]() -> boost::asio::awaitable<void> {
      co_await recorder->Flush();
      done = true;
    }, boost::asio::detached);
    REQUIRE(RunUntil(io, [&] { return done; }));
  }
  std::vector<json> Events() { return client->Objects(EventsResource()); }
};

}  // namespace

TEST_CASE("event recorder: writes a complete core/v1 Event", "[events]") {
  Fixture f;
  f.recorder->Normal(Canary(), "Progressing", "Advance podinfo.test canary weight 10");
  f.Flush();
  auto events = f.Events();
  REQUIRE(events.size() == 1);
  const json& e = events[0];
  std::string name = e["metadata"]["name"];
  REQUIRE(name.rfind("podinfo.", 0) == 0);
  std::string suffix = name.substr(8);
  CHECK(!suffix.empty());
  CHECK(suffix.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(e["metadata"]["namespace"] == "test");
  CHECK(e["involvedObject"] == json{{"apiVersion", "sluice.dev/v1beta1"}, {"kind", "Canary"}, {"name", "podinfo"},
                                    {"namespace", "test"}, {"uid", "uid-podinfo"}, {"resourceVersion", "42"}});
  CHECK(e["reason"] == "Progressing");
  CHECK(e["message"] == "Advance podinfo.test canary weight 10");
  CHECK(e["type"] == "Normal");
  CHECK(e["source"]["component"] == "sluice");
  CHECK(e["reportingComponent"] == "sluice");
  CHECK(e["reportingInstance"] == "sluice-7d9f-abcde");
  CHECK(e["count"] == 1);
  CHECK(e["firstTimestamp"] == sluice::core::FormatTime(f.clock.Now()));
  CHECK(e["lastTimestamp"] == e["firstTimestamp"]);
}

TEST_CASE("event recorder: repeats within the window patch one Event up to count 3", "[events]") {
  Fixture f;
  f.recorder->Warning(Canary(), "SyncFailed", "Prometheus unreachable");
  f.clock.Advance(30s);
  f.recorder->Warning(Canary(), "SyncFailed", "Prometheus unreachable");
  f.clock.Advance(30s);
  f.recorder->Warning(Canary(), "SyncFailed", "Prometheus unreachable");
  f.Flush();
  auto events = f.Events();
  REQUIRE(events.size() == 1);
  CHECK(events[0]["count"] == 3);
  CHECK(events[0]["type"] == "Warning");
  CHECK(events[0]["lastTimestamp"] == sluice::core::FormatTime(f.clock.Now()));
  CHECK(events[0]["firstTimestamp"] == sluice::core::FormatTime(f.clock.Now() - 60s));
  CHECK(f.client->Calls("create") == 1);
  CHECK(f.client->Calls("patch") == 2);
  CHECK(f.recorder->stats().patched == 2);
}

TEST_CASE("event recorder: another message, type or object is another Event, so is a repeat after the window",
          "[events]") {
  Fixture f;
  f.recorder->Normal(Canary(), "Synced", "a");
  f.recorder->Normal(Canary(), "Synced", "b");
  f.recorder->Warning(Canary(), "Synced", "a");
  f.recorder->Normal(Canary("other"), "Synced", "a");
  f.Flush();
  CHECK(f.Events().size() == 4);
  f.clock.Advance(11min);
  f.recorder->Normal(Canary(), "Synced", "a");
  f.Flush();
  CHECK(f.Events().size() == 5);
}

TEST_CASE("event recorder: an aggregated Event deleted meanwhile is created again", "[events]") {
  Fixture f;
  f.recorder->Normal(Canary(), "Synced", "a");
  f.Flush();
  auto first = f.Events();
  REQUIRE(first.size() == 1);
  f.client->Remove(EventsResource(), "test", first[0]["metadata"]["name"]);
  f.recorder->Normal(Canary(), "Synced", "a");
  f.Flush();
  auto events = f.Events();
  REQUIRE(events.size() == 1);
  CHECK(events[0]["count"] == 1);
  CHECK(events[0]["metadata"]["name"] != first[0]["metadata"]["name"]);
}

TEST_CASE("event recorder: floods from one object are rate-limited, others still get through", "[events]") {
  EventRecorderOptions o;
  o.per_object_burst = 3;
  o.per_object_refill = 60s;
  Fixture f(o);
  for (int i = 0; i < 10; ++i) f.recorder->Normal(Canary(), "Step", "step " + std::to_string(i));
  f.recorder->Normal(Canary("other"), "Step", "fine");
  f.Flush();
  CHECK(f.Events().size() == 4);
  CHECK(f.recorder->stats().rate_limited == 7);
  f.clock.Advance(60s);  // one token back
  f.recorder->Normal(Canary(), "Step", "later");
  f.recorder->Normal(Canary(), "Step", "too soon");
  f.Flush();
  CHECK(f.Events().size() == 5);
}

TEST_CASE("event recorder: API errors and bad input are counted and logged, never thrown", "[events]") {
  Fixture f;
  f.client->FailNext("create", ApiError::Forbidden("events is forbidden: User cannot create resource"));
  CHECK_NOTHROW(f.recorder->Normal(Canary(), "Synced", "a"));
  CHECK_NOTHROW(f.recorder->Normal(json{{"kind", "Canary"}}, "Synced", "no name"));
  CHECK_NOTHROW(f.recorder->Normal(Canary(), "", "no reason"));
  CHECK(f.recorder->pending() == 1);
  f.Flush();
  CHECK(f.recorder->stats().failed == 1);
  CHECK(f.recorder->stats().invalid == 2);
  CHECK(f.Events().empty());
  // The writer carries on after a failure.
  f.recorder->Normal(Canary(), "Synced", "b");
  f.Flush();
  CHECK(f.Events().size() == 1);
}

TEST_CASE("event recorder: cluster-scoped objects get Events in default, long messages are cut", "[events]") {
  EventRecorderOptions o;
  o.max_message_bytes = 10;
  Fixture f(o);
  json ns = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "team-a"}, {"uid", "u1"}}}};
  f.recorder->Normal(ns, "Pruned", "0123456789abcdef");
  f.recorder->Normal(Canary(), "Unicode", "abcdefghi\xC3\xA9z");  // 'é' straddles byte 10
  f.Flush();
  auto events = f.Events();
  REQUIRE(events.size() == 2);
  for (const auto& e : events) {
    if (e["reason"] == "Pruned") {
      CHECK(e["metadata"]["namespace"] == "default");
      CHECK_FALSE(e["involvedObject"].contains("namespace"));
      CHECK(e["message"] == "0123456789");
    } else {
      CHECK(e["message"] == "abcdefghi");
    }
  }
}

TEST_CASE("event recorder: the queue is bounded", "[events]") {
  EventRecorderOptions o;
  o.max_queue = 2;
  Fixture f(o);
  for (int i = 0; i < 5; ++i) f.recorder->Normal(Canary("o" + std::to_string(i)), "R", "m");
  CHECK(f.recorder->pending() == 2);
  CHECK(f.recorder->stats().queue_full == 3);
  f.Flush();
  CHECK(f.Events().size() == 2);
}
