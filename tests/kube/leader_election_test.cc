#include "kube/leader_election.h"

#include "tests/kube/fake_client.h"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using sluice::core::ApiError;
using sluice::kube::ApiResource;
using sluice::kube::Client;
using sluice::core::FakeClock;
using sluice::kube::json;
using sluice::kube::LeaderElectionConfig;
using sluice::kube::LeaderElector;
using sluice::kube::ListOptions;
using sluice::kube::WatchStream;
using sluice::kube::testing::FakeClient;
using sluice::kube::testing::LeasesResource;
using sluice::kube::testing::RunFor;
using sluice::kube::testing::RunUntil;
namespace asio = boost::asio;

namespace {

// One replica's view of a shared API server, which a test can cut off (a network partition).
class PartitionableClient : public Client {
 public:
  explicit PartitionableClient(std::shared_ptr<FakeClient> server) : server_(std::move(server)) {}
  bool partitioned = false;

  asio::awaitable<sluice::kube::ApiResource> Resolve(std::string v, std::string k) override {
    Check();
    co_return co_await server_->Resolve(v, k);
  }
  asio::awaitable<json> Get(const ApiResource& r, std::string ns, std::string n, std::string s = "") override {
    Check();
    co_return co_await server_->Get(r, ns, n, s);
  }
  asio::awaitable<json> List(const ApiResource& r, std::string ns, ListOptions o = {}) override {
    Check();
    co_return co_await server_->List(r, ns, o);
  }
  asio::awaitable<json> ListAll(const ApiResource& r, std::string ns, ListOptions o = {}) override {
    Check();
    co_return co_await server_->ListAll(r, ns, o);
  }
  asio::awaitable<json> Create(const ApiResource& r, std::string ns, json o,
                               sluice::kube::WriteOptions w = {}) override {
    Check();
    co_return co_await server_->Create(r, ns, o, w);
  }
  asio::awaitable<json> Update(const ApiResource& r, json o, sluice::kube::WriteOptions w = {},
                               std::string s = "") override {
    Check();
    co_return co_await server_->Update(r, o, w, s);
  }
  asio::awaitable<json> Patch(const ApiResource& r, std::string ns, std::string n, sluice::kube::PatchType t, json p,
                              sluice::kube::PatchOptions o = {}) override {
    Check();
    co_return co_await server_->Patch(r, ns, n, t, p, o);
  }
  asio::awaitable<json> Apply(const ApiResource& r, json o, std::string m, bool f = false, std::string s = "") override {
    Check();
    co_return co_await server_->Apply(r, o, m, f, s);
  }
  asio::awaitable<json> Delete(const ApiResource& r, std::string ns, std::string n,
                               sluice::kube::DeleteOptions o = {}) override {
    Check();
    co_return co_await server_->Delete(r, ns, n, o);
  }
  asio::awaitable<std::unique_ptr<WatchStream>> Watch(const ApiResource& r, std::string ns, ListOptions o) override {
    Check();
    co_return co_await server_->Watch(r, ns, o);
  }
  asio::awaitable<json> GetPath(std::string p) override {
    Check();
    co_return co_await server_->GetPath(p);
  }
  asio::any_io_executor executor() const override { return server_->executor(); }
  const std::string& default_namespace() const override { return server_->default_namespace(); }

 private:
  void Check() const {
    if (partitioned) throw ApiError::Unavailable("dial tcp: connect: no route to host (partitioned)");
  }
  std::shared_ptr<FakeClient> server_;
};

struct Candidate {
  std::shared_ptr<PartitionableClient> client;
  std::shared_ptr<LeaderElector> elector;
  int started = 0;
  int stopped = 0;
  std::vector<std::string> leaders_seen;
};

struct Cluster {
  asio::io_context io;
  std::shared_ptr<FakeClient> server = std::make_shared<FakeClient>(io.get_executor());
  FakeClock clock;
  std::vector<std::unique_ptr<Candidate>> candidates;

  LeaderElectionConfig Config(const std::string& id) {
    LeaderElectionConfig c;
    c.lease_namespace = "sluice-system";
    c.lease_name = "sluice-leader";
    c.identity = id;
    c.lease_duration = 15s;
    c.renew_deadline = 10s;
    c.retry_period = 20ms;  // real time between attempts; lease time comes from the fake clock
    c.clock = &clock;
    return c;
  }

  Candidate& Add(LeaderElectionConfig config) {
    auto cand = std::make_unique<Candidate>();
    Candidate* raw = cand.get();
    cand->client = std::make_shared<PartitionableClient>(server);
    config.on_started_leading = [raw] { ++raw->started; };
    config.on_stopped_leading = [raw] { ++raw->stopped; };
    config.on_new_leader = [raw](const std::string& who) { raw->leaders_seen.push_back(who); };
    cand->elector = LeaderElector::Create(cand->client, std::move(config));
    candidates.push_back(std::move(cand));
    return *raw;
  }
  Candidate& Add(const std::string& id) { return Add(Config(id)); }

  int Leaders() const {
    int n = 0;
    for (const auto& c : candidates) n += c->elector->IsLeader();
    return n;
  }
  json Lease() { return server->Peek(LeasesResource(), "sluice-system", "sluice-leader").value_or(json()); }
  std::string Holder() { return Lease().is_null() ? "" : Lease()["spec"].value("holderIdentity", ""); }
};

}  // namespace

TEST_CASE("leader election: of two candidates exactly one leads and the lease says so", "[leader]") {
  Cluster c;
  auto& a = c.Add("a");
  auto& b = c.Add("b");
  a.elector->Start();
  b.elector->Start();
  REQUIRE(RunUntil(c.io, [&] { return c.Leaders() == 1; }));
  RunFor(c.io, 200ms);  // several renew periods: still exactly one, nobody flapped
  CHECK(c.Leaders() == 1);
  auto& leader = a.elector->IsLeader() ? a : b;
  auto& follower = a.elector->IsLeader() ? b : a;
  CHECK(leader.started == 1);
  CHECK(follower.started == 0);
  json lease = c.Lease();
  CHECK(lease["spec"]["holderIdentity"] == leader.elector->config().identity);
  CHECK(lease["spec"]["leaseDurationSeconds"] == 15);
  CHECK(lease["spec"]["leaseTransitions"] == 0);
  // MicroTime: six fractional digits.
  std::string renew = lease["spec"]["renewTime"];
  CHECK(renew.size() == std::string("2026-11-26T04:01:49.123456Z").size());
  CHECK(follower.leaders_seen == std::vector<std::string>{leader.elector->config().identity});
  CHECK(follower.elector->observed_leader() == leader.elector->config().identity);
  for (auto& cand : c.candidates) cand->elector->Stop();
  REQUIRE(RunUntil(c.io, [&] { return a.elector->finished() && b.elector->finished(); }));
}

TEST_CASE("leader election: a partitioned leader steps down at the renew deadline, the other takes over only after the lease duration",
          "[leader]") {
  Cluster c;
  auto& a = c.Add("a");
  a.elector->Start();
  REQUIRE(RunUntil(c.io, [&] { return a.elector->IsLeader(); }));
  auto& b = c.Add("b");
  b.elector->Start();
  REQUIRE(RunUntil(c.io, [&] { return b.elector->observed_leader() == "a"; }));
  a.client->partitioned = true;

  c.clock.Advance(9s);
  RunFor(c.io, 150ms);
  CHECK(a.elector->IsLeader());  // within its renew deadline it keeps trying
  c.clock.Advance(2s);           // 11 s: past the renew deadline
  REQUIRE(RunUntil(c.io, [&] { return !a.elector->IsLeader(); }));
  CHECK(a.stopped == 1);
  CHECK_FALSE(b.elector->IsLeader());  // 11 s < 15 s by b's clock: the lease is still a's

  c.clock.Advance(3s);  // 14 s
  RunFor(c.io, 150ms);
  CHECK_FALSE(b.elector->IsLeader());
  c.clock.Advance(1100ms);  // 15.1 s
  REQUIRE(RunUntil(c.io, [&] { return b.elector->IsLeader(); }));
  CHECK(c.Holder() == "b");
  CHECK(c.Lease()["spec"]["leaseTransitions"] == 1);

  // The old leader comes back and sees it lost: it does not grab the lease back.
  a.client->partitioned = false;
  RunFor(c.io, 150ms);
  CHECK(c.Leaders() == 1);
  CHECK(a.elector->observed_leader() == "b");
  for (auto& cand : c.candidates) cand->elector->Stop();
  REQUIRE(RunUntil(c.io, [&] { return a.elector->finished() && b.elector->finished(); }));
}

TEST_CASE("leader election: release on shutdown lets the other take over at once", "[leader]") {
  Cluster c;
  auto& a = c.Add("a");
  a.elector->Start();
  REQUIRE(RunUntil(c.io, [&] { return a.elector->IsLeader(); }));
  auto& b = c.Add("b");
  b.elector->Start();
  REQUIRE(RunUntil(c.io, [&] { return b.elector->observed_leader() == "a"; }));
  a.elector->Stop();
  REQUIRE(RunUntil(c.io, [&] { return a.elector->finished(); }));
  CHECK(a.stopped == 1);
  // No clock movement at all: the empty holder is free right away.
  REQUIRE(RunUntil(c.io, [&] { return b.elector->IsLeader(); }, 2000ms));
  json lease = c.Lease();
  CHECK(lease["spec"]["holderIdentity"] == "b");
  CHECK(lease["spec"]["leaseDurationSeconds"] == 15);
  b.elector->Stop();
  REQUIRE(RunUntil(c.io, [&] { return b.elector->finished(); }));
  lease = c.Lease();
  CHECK(lease["spec"]["holderIdentity"] == "");
  CHECK(lease["spec"]["leaseDurationSeconds"] == 1);
}

TEST_CASE("leader election: racing takeovers are settled by resourceVersion conflicts", "[leader]") {
  Cluster c;
  auto& a = c.Add("a");
  a.elector->Start();
  REQUIRE(RunUntil(c.io, [&] { return a.elector->IsLeader(); }));
  std::vector<Candidate*> others;
  for (std::string id : {"b", "c", "d"}) {
    others.push_back(&c.Add(id));
    others.back()->elector->Start();
  }
  REQUIRE(RunUntil(c.io, [&] {
    return std::all_of(others.begin(), others.end(), [](Candidate* o) { return o->elector->observed_leader() == "a"; });
  }));
  a.client->partitioned = true;
  c.clock.Advance(16s);
  REQUIRE(RunUntil(c.io, [&] { return c.Leaders() == 1 && !a.elector->IsLeader(); }));
  RunFor(c.io, 200ms);
  CHECK(c.Leaders() == 1);
  int started = 0;
  for (auto* o : others) started += o->started;
  CHECK(started == 1);  // the losers of the race got 409 and never started
  CHECK(c.Lease()["spec"]["leaseTransitions"] == 1);
  for (auto& cand : c.candidates) cand->elector->Stop();
  REQUIRE(RunUntil(c.io, [&] {
    return std::all_of(c.candidates.begin(), c.candidates.end(), [](auto& x) { return x->elector->finished(); });
  }));
}

TEST_CASE("leader election: a leader whose cached version is stale re-reads and keeps leading", "[leader]") {
  Cluster c;
  auto& a = c.Add("a");
  a.elector->Start();
  REQUIRE(RunUntil(c.io, [&] { return a.elector->IsLeader(); }));
  // Someone else (kubectl label) bumps the lease's resourceVersion.
  json lease = c.Lease();
  lease["metadata"]["labels"] = {{"touched", "yes"}};
  c.server->Modify(LeasesResource(), lease);
  int conflicts_before = c.server->Calls("get");
  c.clock.Advance(1s);  // renewTime changes, so renewals are real writes
  REQUIRE(RunUntil(c.io, [&] { return c.server->Calls("get") > conflicts_before; }));
  c.clock.Advance(1s);
  RunFor(c.io, 150ms);
  CHECK(a.elector->IsLeader());
  CHECK(a.stopped == 0);
  CHECK(c.Holder() == "a");
  CHECK(c.Lease()["metadata"]["labels"]["touched"] == "yes");
  a.elector->Stop();
  REQUIRE(RunUntil(c.io, [&] { return a.elector->finished(); }));
}

TEST_CASE("leader election: a hung API call cannot keep a leader past its renew deadline", "[leader]") {
  asio::io_context io;
  auto server = std::make_shared<FakeClient>(io.get_executor());
  LeaderElectionConfig cfg;
  cfg.lease_namespace = "ns";
  cfg.lease_name = "l";
  cfg.identity = "a";
  cfg.lease_duration = 1s;
  cfg.renew_deadline = 300ms;
  cfg.retry_period = 50ms;
  int stopped = 0;
  cfg.on_stopped_leading = [&] { ++stopped; };
  auto elector = LeaderElector::Create(server, cfg);
  elector->Start();
  REQUIRE(RunUntil(io, [&] { return elector->IsLeader(); }));
  server->SetLatency(5000ms);
  auto hung_at = std::chrono::steady_clock::now();
  REQUIRE(RunUntil(io, [&] { return !elector->IsLeader(); }, 4000ms));
  // Renew deadline 300 ms plus scheduling slack on a busy machine; far from the 5 s hang.
  CHECK(std::chrono::steady_clock::now() - hung_at < 2000ms);
  CHECK(stopped == 1);
  elector->Stop();
  server->SetLatency(0ms);
  REQUIRE(RunUntil(io, [&] { return elector->finished(); }, 10000ms));
}

TEST_CASE("leader election: timings that break the algorithm are refused with a clear error", "[leader]") {
  asio::io_context io;
  auto server = std::make_shared<FakeClient>(io.get_executor());
  LeaderElectionConfig cfg;
  cfg.lease_namespace = "ns";
  cfg.lease_name = "l";
  cfg.identity = "a";
  cfg.lease_duration = 10s;
  cfg.renew_deadline = 10s;
  CHECK_THROWS_WITH(LeaderElector::Create(server, cfg),
                    Catch::Contains("lease_duration (10000ms) must be greater than renew_deadline (10000ms)"));
  cfg.lease_duration = 15s;
  cfg.renew_deadline = 2s;
  cfg.retry_period = 2s;
  CHECK_THROWS_WITH(LeaderElector::Create(server, cfg), Catch::Contains("must be greater than 1.2 x retry_period"));
  cfg.retry_period = 0ms;
  CHECK_THROWS_WITH(LeaderElector::Create(server, cfg), Catch::Contains("retry_period must be positive"));
  cfg.retry_period = 1s;
  cfg.identity = "";
  CHECK_THROWS_WITH(LeaderElector::Create(server, cfg), Catch::Contains("identity is required"));
}
