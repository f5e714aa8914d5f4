// The informer, leader election and the event recorder against the sandbox emulator over
// HTTP, through the real client: what the fake client cannot prove (wire formats, watch
// framing, optimistic concurrency as the server enforces it).
#include "kube/client.h"
#include "kube/config.h"
#include "kube/event_recorder.h"
#include "kube/informer.h"
#include "kube/leader_election.h"
#include "core/object_key.h"
#include "sandbox/emulator/emulator.h"
#include "tests/kube/client_testing.h"
#include "tests/kube/fake_client.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

namespace sluice::kube {
namespace {

using namespace std::chrono_literals;
using sluice::sandbox::Emulator;
using sluice::sandbox::EmulatorOptions;
using sluice::testing::RunCo;
using testing::RunFor;
using testing::RunUntil;

ClientOptions TestClientOptions() {
  ClientOptions o;
  o.request_timeout = std::chrono::seconds(5);
  o.initial_backoff = std::chrono::milliseconds(10);
  o.max_backoff = std::chrono::milliseconds(100);
  o.qps = 0;
  return o;
}

json ConfigMap(const std::string& name, const std::string& value) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"data", {{"value", value}}}};
}

struct Cluster {
  Cluster() {
    emu.Start();
    config = ParseKubeconfig(emu.KubeconfigYaml());
  }
  ~Cluster() { emu.Stop(); }
  std::shared_ptr<Client> NewClient() { return MakeHttpClient(io.get_executor(), config, TestClientOptions()); }

  boost::asio::io_context io;
  Emulator emu;
  RestConfig config;
};

}  // namespace

TEST_CASE("integration: informer lists, watches, survives stream ends, and sees every change once", "[integration]") {
  Cluster k;
  auto writer = k.NewClient();
  auto cms = RunCo<ApiResource>(k.io, [&] { return writer->Resolve("v1", "ConfigMap"); });
  const WriteOptions write_options;
  auto create = [&](const json& object) {
    RunCo<json>(k.io, [&] { return writer->Create(cms, "default", object, write_options); });
  };
  create(ConfigMap("before-1", "1"));
  create(ConfigMap("before-2", "1"));

  InformerOptions options;
  options.ns = "default";
  options.watch_timeout = 1s;  // the server ends each watch after 1-2 s: re-watch must be seamless
  options.initial_backoff = 20ms;
  options.max_backoff = 200ms;
  auto informer = Informer::Create(k.NewClient(), cms, options);
  std::map<std::string, int> adds;
  int updates = 0, deletes = 0;
  InformerHandler handler;
  handler.on_add = [&](const ObjectPtr& o) { ++adds[core::ObjectKey(*o)]; };
  handler.on_update = [&](const ObjectPtr&, const ObjectPtr&) { ++updates; };
  handler.on_delete = [&](const ObjectPtr&) { ++deletes; };
  informer->AddHandler(handler);
  informer->Start();
  REQUIRE(RunUntil(k.io, [&] { return informer->HasSynced(); }, 10000ms));
  CHECK(informer->Get("default/before-1"));
  CHECK((*informer->Get("default/before-2"))["kind"] == "ConfigMap");

  create(ConfigMap("live", "1"));
  REQUIRE(RunUntil(k.io, [&] { return informer->Get("default/live") != nullptr; }, 10000ms));
  // Outlive a few server-side timeouts, then change things again.
  RunFor(k.io, 2500ms);
  const PatchOptions patch_options;
  RunCo<json>(k.io, [&] {
    return writer->Patch(cms, "default", "live", PatchType::kMerge, json{{"data", {{"value", "2"}}}}, patch_options);
  });
  REQUIRE(RunUntil(k.io, [&] { return updates == 1; }, 10000ms));
  CHECK((*informer->Get("default/live"))["data"]["value"] == "2");
  const DeleteOptions delete_options;
  RunCo<json>(k.io, [&] { return writer->Delete(cms, "default", "before-1", delete_options); });
  REQUIRE(RunUntil(k.io, [&] { return deletes == 1; }, 10000ms));
  CHECK(informer->Get("default/before-1") == nullptr);
  for (const auto& [key, n] : adds) CHECK(n == 1);
  CHECK(adds.size() == 3);
  CHECK(informer->stats().watches >= 2);
  CHECK(informer->stats().lists == 1);
  // Stop cancels the open HTTP watch: the run loop ends and lets go of the informer
  // promptly, not at the server's timeout.
  std::weak_ptr<Informer> weak = informer;
  auto stopped_at = std::chrono::steady_clock::now();
  informer->Stop();
  informer.reset();
  REQUIRE(RunUntil(k.io, [&] { return weak.expired(); }, 5000ms));
  CHECK(std::chrono::steady_clock::now() - stopped_at < 500ms);
}

TEST_CASE("integration: two candidates elect one leader, release hands over at once, a silent leader is replaced after the lease",
          "[integration]") {
  Cluster k;
  auto make = [&](const std::string& id, bool release, int* started) {
    LeaderElectionConfig c;
    c.lease_namespace = "default";
    c.lease_name = "sluice-it";
    c.identity = id;
    c.lease_duration = 2s;
    c.renew_deadline = 1500ms;
    c.retry_period = 200ms;
    c.release_on_stop = release;
    c.on_started_leading = [started] { ++*started; };
    return LeaderElector::Create(k.NewClient(), c);
  };
  int a_started = 0, b_started = 0, c_started = 0;
  auto a = make("a", true, &a_started);
  a->Start();
  REQUIRE(RunUntil(k.io, [&] { return a->IsLeader(); }, 10000ms));
  auto b = make("b", false, &b_started);
  b->Start();
  REQUIRE(RunUntil(k.io, [&] { return b->observed_leader() == "a"; }, 10000ms));
  RunFor(k.io, 500ms);
  CHECK(a->IsLeader());
  CHECK_FALSE(b->IsLeader());

  // Release: b takes over well before the 2 s lease would run out.
  auto released_at = std::chrono::steady_clock::now();
  a->Stop();
  REQUIRE(RunUntil(k.io, [&] { return b->IsLeader(); }, 10000ms));
  CHECK(std::chrono::steady_clock::now() - released_at < 1800ms);  // before the 2 s lease could expire
  CHECK(b_started == 1);

  // b stops without releasing (a crash): c must wait out the lease, then take over.
  auto c = make("c", true, &c_started);
  c->Start();
  REQUIRE(RunUntil(k.io, [&] { return c->observed_leader() == "b"; }, 10000ms));
  auto silent_at = std::chrono::steady_clock::now();
  b->Stop();
  REQUIRE(RunUntil(k.io, [&] { return c->IsLeader(); }, 10000ms));
  auto waited = std::chrono::steady_clock::now() - silent_at;
  CHECK(waited >= 1500ms);
  CHECK(waited < 5000ms);

  auto reader = k.NewClient();
  auto leases = LeaseResource();
  const std::string no_subresource;
  json lease = RunCo<json>(k.io, [&] { return reader->Get(leases, "default", "sluice-it", no_subresource); });
  CHECK(lease["spec"]["holderIdentity"] == "c");
  CHECK(lease["spec"]["leaseTransitions"].get<int>() >= 2);
  c->Stop();
  REQUIRE(RunUntil(k.io, [&] { return c->finished(); }, 10000ms));
  lease = RunCo<json>(k.io, [&] { return reader->Get(leases, "default", "sluice-it", no_subresource); });
  CHECK(lease["spec"]["holderIdentity"] == "");
  CHECK(lease["spec"]["leaseDurationSeconds"] == 1);
}

TEST_CASE("integration: repeated events aggregate into one Event with count 3", "[integration]") {
  Cluster k;
  auto client = k.NewClient();
  auto cms = RunCo<ApiResource>(k.io, [&] { return client->Resolve("v1", "ConfigMap"); });
  const WriteOptions write_options;
  json cm = RunCo<json>(k.io, [&] { return client->Create(cms, "default", ConfigMap("subject", "1"), write_options); });
  EventRecorderOptions options;
  options.component = "sluice";
  options.instance = "it-1";
  auto recorder = EventRecorder::Create(client, options);
  for (int i = 0; i < 3; ++i) recorder->Warning(cm, "CheckFailed", "request success rate 91% < 99%");
  bool flushed = false;
  boost::asio::co_spawn(k.io, [&]() -> boost::asio::awaitable<void> {
    co_await recorder->Flush();
    flushed = true;
  }, boost::asio::detached);
  REQUIRE(RunUntil(k.io, [&] { return flushed; }, 10000ms));
  CHECK(recorder->stats().failed == 0);
  const ListOptions list_options;
  const ApiResource events_resource = EventResource();  // the coroutine keeps a reference to it
  json events = RunCo<json>(k.io, [&] { return client->List(events_resource, "default", list_options); });
  std::vector<json> ours;
  for (const auto& e : events["items"]) {
    if (e["involvedObject"].value("name", "") == "subject") ours.push_back(e);
  }
  REQUIRE(ours.size() == 1);
  CHECK(ours[0]["count"] == 3);
  CHECK(ours[0]["involvedObject"]["uid"] == cm["metadata"]["uid"]);
  CHECK(ours[0]["type"] == "Warning");
  CHECK(ours[0]["reportingInstance"] == "it-1");
}

}  // namespace sluice::kube
