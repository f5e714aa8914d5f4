#include <catch2/catch.hpp>

#include "sandbox/faults/fault_plan.h"
#include "sandbox/faults/fault_proxy.h"
#include "sandbox/emulator/api_server.h"
#include "tests/sandbox/fixture.h"
#include "tests/support/ports.h"

#include <atomic>
#include <map>
#include <set>

using namespace sluice::sandbox;
using namespace sluice::sandbox::faults;
using namespace sluice::sandbox::testing;
using nlohmann::json;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kCm = "/api/v1/namespaces/default/configmaps";

FaultOptions Everything(uint64_t seed) {
  FaultOptions o;
  o.seed = seed;
  o.error_rate = 0.1;
  o.conflict_rate = 0.05;
  o.max_delay = milliseconds(2000);
  o.cut_watch_min = milliseconds(2000);
  o.cut_watch_max = milliseconds(8000);
  o.refuse_for = milliseconds(5000);
  o.refuse_every = milliseconds(60000);
  return o;
}

const char* MethodOf(int i) {
  static const char* kMethods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "GET"};
  return kMethods[i % 6];
}

// A decision as one comparable line.
std::string Describe(const RequestDecision& d) {
  std::string s = std::to_string(d.delay.count());
  if (d.answer) s += " " + std::to_string(d.answer->status) + " " + d.answer->retry_after + " " + d.answer->body;
  return s;
}

std::vector<std::string> Decisions(FaultPlan& plan, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(Describe(plan.Decide(MethodOf(i), kCm + "/x")));
  return out;
}

// An emulator that counts the requests reaching it, and the proxy in front of it.
struct ProxiedEmulator {
  explicit ProxiedEmulator(FaultOptions faults) : emu(Observed(reached)), proxy(Options(emu, faults)) {
    proxy.Start();
    client = std::make_unique<TestClient>(proxy.port());
  }
  ~ProxiedEmulator() { proxy.Stop(); }

  static EmulatorOptions Observed(std::shared_ptr<std::atomic<int>> counter) {
    EmulatorOptions o;
    o.request_observer = [counter](const std::string&, const std::string&) { ++*counter; };
    return o;
  }
  static FaultProxyOptions Options(const EmulatorFixture& emu, FaultOptions faults) {
    FaultProxyOptions o;
    o.upstream = emu.emulator.server_url();
    o.faults = faults;
    o.io_timeout = milliseconds(5000);
    return o;
  }
  std::shared_ptr<std::atomic<int>> reached = std::make_shared<std::atomic<int>>(0);
  EmulatorFixture emu;
  FaultProxy proxy;
  std::unique_ptr<TestClient> client;  // through the proxy
};

bool Succeeds(const std::function<void()>& call) {
  try {
    call();
    return true;
  } catch (const std::runtime_error&) {
    return false;
  }
}

}  // namespace

TEST_CASE("the fault plan makes the same decisions for the same seed", "[sandbox][faults]") {
  FaultPlan a(Everything(42)), b(Everything(42)), other(Everything(43));
  auto first = Decisions(a, 2000);
  CHECK(first == Decisions(b, 2000));
  CHECK(first != Decisions(other, 2000));
  for (int i = 0; i < 50; ++i) {
    CHECK(a.NextWatchCut() == b.NextWatchCut());
    CHECK(a.NextRefusal() == b.NextRefusal());
  }
  // Watches and windows draw from streams of their own: drawing them does not shift the
  // decisions on requests.
  FaultPlan quiet(Everything(42)), busy(Everything(42));
  for (int i = 0; i < 7; ++i) {
    busy.NextWatchCut();
    busy.NextRefusal();
  }
  CHECK(Decisions(quiet, 500) == Decisions(busy, 500));
}

TEST_CASE("the fault plan injects errors at their rate, as Status objects with Retry-After", "[sandbox][faults]") {
  FaultOptions o;
  o.seed = 7;
  o.error_rate = 0.1;
  FaultPlan plan(o);
  std::map<int, int> codes;
  for (int i = 0; i < 10000; ++i) {
    auto d = plan.Decide("GET", kCm);
    CHECK(d.delay.count() == 0);
    if (!d.answer) continue;
    ++codes[d.answer->status];
    auto status = json::parse(d.answer->body);
    CHECK(status["kind"] == "Status");
    CHECK(status["apiVersion"] == "v1");
    CHECK(status["status"] == "Failure");
    CHECK(status["code"] == d.answer->status);
    CHECK(d.answer->retry_after == (d.answer->status == 500 ? "" : "1"));
    std::string reason = status["reason"];
    CHECK(reason == (d.answer->status == 500 ? "InternalError"
                     : d.answer->status == 503 ? "ServiceUnavailable"
                                               : "TooManyRequests"));
  }
  CHECK(codes.size() == 3);
  int errors = codes[500] + codes[503] + codes[429];
  CHECK(errors >= 800);
  CHECK(errors <= 1200);
  for (int code : {500, 503, 429}) {
    CHECK(codes[code] >= errors / 3 - 80);
    CHECK(codes[code] <= errors / 3 + 80);
  }
}

TEST_CASE("the fault plan answers 409 only to writes, at the conflict rate", "[sandbox][faults]") {
  FaultOptions o;
  o.seed = 11;
  o.conflict_rate = 0.05;
  FaultPlan plan(o);
  int conflicts = 0;
  for (int i = 0; i < 10000; ++i) {
    auto d = plan.Decide(MethodOf(i % 4 + 1), kCm + "/x");  // POST, PUT, PATCH, DELETE
    if (!d.answer) continue;
    ++conflicts;
    CHECK(d.answer->status == 409);
    CHECK(json::parse(d.answer->body)["reason"] == "Conflict");
  }
  CHECK(conflicts >= 400);
  CHECK(conflicts <= 600);
  for (int i = 0; i < 10000; ++i) REQUIRE_FALSE(plan.Decide("GET", kCm).answer);
}

TEST_CASE("the fault plan's delays, cuts and windows stay in their ranges, and 0 turns a fault off", "[sandbox][faults]") {
  FaultPlan plan(Everything(5));
  int64_t total = 0, longest = 0;
  for (int i = 0; i < 10000; ++i) {
    auto delay = plan.Decide("GET", kCm).delay.count();
    REQUIRE(delay >= 0);
    REQUIRE(delay <= 2000);
    total += delay;
    longest = std::max(longest, delay);
  }
  CHECK(total / 10000 >= 950);
  CHECK(total / 10000 <= 1050);
  CHECK(longest >= 1990);
  for (int i = 0; i < 1000; ++i) {
    auto cut = plan.NextWatchCut();
    REQUIRE(cut);
    REQUIRE(*cut >= milliseconds(2000));
    REQUIRE(*cut <= milliseconds(8000));
    auto refusal = plan.NextRefusal();
    REQUIRE(refusal);
    REQUIRE(*refusal >= milliseconds(30000));
    REQUIRE(*refusal <= milliseconds(90000));
  }

  FaultPlan off(FaultOptions{});
  for (int i = 0; i < 10000; ++i) {
    auto d = off.Decide(MethodOf(i), kCm);
    REQUIRE_FALSE(d.answer);
    REQUIRE(d.delay.count() == 0);
  }
  CHECK_FALSE(off.NextWatchCut());
  CHECK_FALSE(off.NextRefusal());
}

TEST_CASE("watch targets, write methods, duration ranges and bad options", "[sandbox][faults]") {
  CHECK(IsWatchTarget(kCm + "?watch=true"));
  CHECK(IsWatchTarget(kCm + "?resourceVersion=5&watch=1"));
  CHECK(IsWatchTarget(kCm + "?watch=True&timeoutSeconds=30"));
  CHECK_FALSE(IsWatchTarget(kCm));
  CHECK_FALSE(IsWatchTarget(kCm + "?watch=false"));
  CHECK_FALSE(IsWatchTarget(kCm + "?watch=0"));
  CHECK_FALSE(IsWatchTarget(kCm + "?watched=true&allowWatchBookmarks=true"));
  CHECK_FALSE(IsWatchTarget("/api/v1/watch-things"));
  CHECK(IsWrite("PATCH"));
  CHECK_FALSE(IsWrite("GET"));

  CHECK(ParseDurationRange("2s-8s") == std::make_pair(milliseconds(2000), milliseconds(8000)));
  CHECK(ParseDurationRange("500ms") == std::make_pair(milliseconds(500), milliseconds(500)));
  CHECK_FALSE(ParseDurationRange("8s-2s"));
  CHECK_FALSE(ParseDurationRange("2s-"));
  CHECK_FALSE(ParseDurationRange("often"));

  FaultOptions o;
  o.error_rate = 1.5;
  CHECK_THROWS_WITH(FaultPlan(o), Catch::Contains("error rate"));
  o = FaultOptions{};
  o.conflict_rate = -0.1;
  CHECK_THROWS_WITH(FaultPlan(o), Catch::Contains("conflict rate"));
  o = FaultOptions{};
  o.refuse_every = milliseconds(1000);
  CHECK_THROWS_WITH(FaultPlan(o), Catch::Contains("refuse-for"));
  FaultProxyOptions p;
  p.upstream = "https://127.0.0.1:6443";
  CHECK_THROWS_WITH(FaultProxy(p), Catch::Contains("http://"));
}

TEST_CASE("with no faults the proxy passes requests and watches through unchanged", "[sandbox][faults]") {
  ProxiedEmulator f(FaultOptions{});
  auto& c = *f.client;
  REQUIRE(c.Post(kCm, ConfigMap("a")).status == 201);
  auto w = c.Watch(kCm + "?watch=true&resourceVersion=0");
  REQUIRE(w->head().status == 200);
  CHECK(w->head().Header("content-type") == "application/json");
  auto added = w->Next();
  REQUIRE(added);
  CHECK((*added)["object"]["metadata"]["name"] == "a");
  auto got = c.Get(kCm + "/a");
  REQUIRE(got.status == 200);
  CHECK(got.Json()["data"]["k"] == "v");
  CHECK(c.Get(kCm + "/missing").status == 404);
  REQUIRE(f.emu.client->Post(kCm, ConfigMap("b")).status == 201);
  auto next = w->Next();
  REQUIRE(next);
  CHECK((*next)["object"]["metadata"]["name"] == "b");
  auto n = f.proxy.counts();
  CHECK(n.requests == 4);
  CHECK(n.forwarded == 4);
  CHECK(n.watches == 1);
  CHECK(n.Injected() == 0);
}

TEST_CASE("the proxy answers injected errors itself, with code, Status and Retry-After", "[sandbox][faults]") {
  FaultOptions o;
  o.seed = 3;
  o.error_rate = 1.0;
  ProxiedEmulator f(o);
  std::set<int> seen;
  for (int i = 0; i < 30; ++i) {
    auto r = i % 2 ? f.client->Get(kCm) : f.client->Post(kCm, ConfigMap("e" + std::to_string(i)));
    seen.insert(r.status);
    auto status = r.Json();
    CHECK(status["kind"] == "Status");
    CHECK(status["code"] == r.status);
    CHECK(r.Header("retry-after") == (r.status == 500 ? "" : "1"));
  }
  CHECK(seen == std::set<int>{429, 500, 503});
  CHECK(*f.reached == 0);
  CHECK(f.emu.client->Get(kCm).Json()["items"].empty());
  auto n = f.proxy.counts();
  CHECK(n.errors_500 + n.errors_503 + n.errors_429 == 30);
  CHECK(n.forwarded == 0);
}

TEST_CASE("writes answered 409 by the proxy never reach the emulator", "[sandbox][faults]") {
  FaultOptions o;
  o.conflict_rate = 1.0;
  ProxiedEmulator f(o);
  REQUIRE(f.emu.client->Post(kCm, ConfigMap("kept")).status == 201);
  int before = *f.reached;
  auto created = f.client->Post(kCm, ConfigMap("new"));
  CHECK(created.status == 409);
  CHECK(created.Json()["reason"] == "Conflict");
  auto changed = ConfigMap("kept", {{"k", "changed"}});
  CHECK(f.client->Put(kCm + "/kept", changed).status == 409);
  CHECK(f.client->Patch(kCm + "/kept", "application/merge-patch+json", R"({"data":{"k":"patched"}})").status == 409);
  CHECK(f.client->Delete(kCm + "/kept").status == 409);
  CHECK(*f.reached == before);
  // Reads pass: the emulator answers that the refused object does not exist.
  CHECK(f.client->Get(kCm + "/new").status == 404);
  CHECK(*f.reached == before + 1);
  auto kept = f.emu.client->Get(kCm + "/kept");
  REQUIRE(kept.status == 200);
  CHECK(kept.Json()["data"]["k"] == "v");
  CHECK(f.proxy.counts().conflicts == 4);
}

TEST_CASE("the proxy follows the decisions of its seed, request by request", "[sandbox][faults]") {
  FaultOptions o;
  o.seed = 99;
  o.error_rate = 0.3;
  o.conflict_rate = 0.3;
  o.max_delay = milliseconds(40);
  ProxiedEmulator f(o);
  FaultPlan expected(o);
  int64_t expected_delay = 0;
  for (int i = 0; i < 40; ++i) {
    bool write = i % 2 == 0;
    std::string name = "s" + std::to_string(i);
    auto d = expected.Decide(write ? "POST" : "GET", write ? kCm : kCm + "/" + name);
    expected_delay += d.delay.count();
    auto start = Clock::now();
    auto r = write ? f.client->Post(kCm, ConfigMap(name)) : f.client->Get(kCm + "/" + name);
    CHECK(Clock::now() - start >= d.delay);
    CHECK(r.status == (d.answer ? d.answer->status : write ? 201 : 404));
  }
  auto n = f.proxy.counts();
  CHECK(static_cast<int64_t>(n.delay_ms) == expected_delay);
  CHECK(n.requests == 40);
  CHECK(n.forwarded + n.errors_500 + n.errors_503 + n.errors_429 + n.conflicts == 40);
}

TEST_CASE("a watch through the proxy is cut in the middle of a chunk", "[sandbox][faults]") {
  FaultOptions o;
  // Long enough that the first event passes whole even on a loaded machine.
  o.cut_watch_min = milliseconds(600);
  o.cut_watch_max = milliseconds(700);
  ProxiedEmulator f(o);
  REQUIRE(f.emu.client->Post(kCm, ConfigMap("a")).status == 201);
  auto start = Clock::now();
  auto w = f.client->Watch(kCm + "?watch=true&resourceVersion=0");
  auto added = w->Next();  // well before the cut: whole
  REQUIRE(added);
  CHECK((*added)["object"]["metadata"]["name"] == "a");
  std::string error;
  for (int i = 0; error.empty() && Clock::now() - start < std::chrono::seconds(5); ++i) {
    REQUIRE(f.emu.client->Post(kCm, ConfigMap("m" + std::to_string(i))).status == 201);
    try {
      w->Next(milliseconds(500));
    } catch (const std::runtime_error& e) {
      error = e.what();
    }
  }
  // The chunk's size line arrived, then less than that many bytes, then the close.
  CHECK(error == "connection closed inside a chunk");
  CHECK(Clock::now() - start >= milliseconds(600));
  CHECK(f.proxy.counts().watch_cuts == 1);
  CHECK(Eventually([&] { return f.emu.emulator.api().store().WatcherCount() == 0; }));
}

TEST_CASE("a watch through the proxy ends upstream when its client leaves", "[sandbox][faults]") {
  ProxiedEmulator f(FaultOptions{});
  auto w = f.client->Watch(kCm + "?watch=true");
  REQUIRE(w->head().status == 200);
  REQUIRE(Eventually([&] { return f.emu.emulator.api().store().WatcherCount() == 1; }));
  w.reset();
  CHECK(Eventually([&] { return f.emu.emulator.api().store().WatcherCount() == 0; }));
}

TEST_CASE("a refusal window drops open connections, resets new ones, and ends", "[sandbox][faults]") {
  FaultOptions o;
  o.refuse_for = milliseconds(1000);  // room for the checks inside the window on a loaded machine
  ProxiedEmulator f(o);
  auto w = f.client->Watch(kCm + "?watch=true");
  REQUIRE(w->head().status == 200);
  REQUIRE(f.client->Get(kCm).status == 200);  // a kept-alive connection
  auto start = Clock::now();
  f.proxy.RefuseFor();
  CHECK(f.proxy.refusing());
  CHECK_THROWS_WITH(w->Next(milliseconds(2000)), Catch::Contains("connection closed"));
  CHECK_THROWS(f.client->Get(kCm));
  // Nothing gets through until the window ends, then everything does.
  bool through = Eventually([&] { return Succeeds([&] { f.client->Get(kCm); }); }, std::chrono::seconds(3));
  CHECK(through);
  CHECK(Clock::now() - start >= milliseconds(1000));
  CHECK_FALSE(f.proxy.refusing());
  auto n = f.proxy.counts();
  CHECK(n.refusal_windows == 1);
  CHECK(n.connections_dropped == 2);
  // The failed GET's second try, on a fresh connection, at least.
  CHECK(n.connections_refused >= 1);
}

TEST_CASE("refusal windows also come at random times", "[sandbox][faults]") {
  FaultOptions o;
  o.refuse_for = milliseconds(50);
  o.refuse_every = milliseconds(200);
  ProxiedEmulator f(o);
  CHECK(Eventually([&] { return f.proxy.counts().refusal_windows >= 2; }, std::chrono::seconds(3)));
}

TEST_CASE("with the upstream down the proxy closes the client's connection unanswered", "[sandbox][faults]") {
  FaultProxyOptions o;
  o.upstream = "http://127.0.0.1:" + std::to_string(sluice::testing::FreeLoopbackPort());
  FaultProxy proxy(o);
  proxy.Start();
  TestClient client(proxy.port());
  CHECK_THROWS_WITH(client.Get(kCm), Catch::Contains("connection closed before the response head"));
  CHECK(proxy.counts().requests == 2);  // the client tried twice
  CHECK(proxy.counts().forwarded == 0);
}
