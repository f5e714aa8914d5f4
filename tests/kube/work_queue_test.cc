#include "kube/work_queue.h"

#include "tests/kube/fake_client.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using sluice::core::FakeClock;
using sluice::kube::WorkQueue;
using sluice::kube::WorkQueueOptions;
using sluice::kube::testing::RunFor;
using sluice::kube::testing::RunUntil;

namespace {

WorkQueueOptions NoOverallLimit() {
  WorkQueueOptions o;
  o.qps = 0;
  return o;
}

}  // namespace

TEST_CASE("work queue: a key added while queued is handed out once", "[workqueue]") {
  boost::asio::io_context io;
  FakeClock clock;
  auto q = WorkQueue::Create(io.get_executor(), clock);
  q->Add("ns/a");
  q->Add("ns/b");
  q->Add("ns/a");
  CHECK(q->Len() == 2);
  CHECK(q->TryGet() == "ns/a");
  CHECK(q->TryGet() == "ns/b");
  CHECK_FALSE(q->TryGet());
}

TEST_CASE("work queue: a key re-added while processing runs again after Done, never twice at once", "[workqueue]") {
  boost::asio::io_context io;
  FakeClock clock;
  auto q = WorkQueue::Create(io.get_executor(), clock);
  q->Add("ns/a");
  auto first = q->TryGet();
  REQUIRE(first == "ns/a");
  q->Add("ns/a");
  q->Add("ns/a");
  // A second worker must not get it while the first still works on it.
  CHECK(q->Len() == 0);
  CHECK_FALSE(q->TryGet());
  q->Done("ns/a");
  CHECK(q->Len() == 1);
  CHECK(q->TryGet() == "ns/a");
  q->Done("ns/a");
  CHECK_FALSE(q->TryGet());
}

TEST_CASE("work queue: awaiting workers are woken by adds and by shutdown", "[workqueue]") {
  boost::asio::io_context io;
  FakeClock clock;
  auto q = WorkQueue::Create(io.get_executor(), clock);
  std::vector<std::string> got;
  int finished = 0;
  for (int w = 0; w < 2; ++w) {
    boost::asio::co_spawn(io, [&]() -> boost::asio::awaitable<void> {
      while (auto key = co_await q->Get()) {
        got.push_back(*key);
        q->Done(*key);
      }
      ++finished;
    }, boost::asio::detached);
  }
  RunFor(io, 20ms);
  CHECK(got.empty());
  q->Add("a");
  q->Add("b");
  q->Add("c");
  REQUIRE(RunUntil(io, [&] { return got.size() == 3; }));
  std::sort(got.begin(), got.end());
  CHECK(got == std::vector<std::string>{"a", "b", "c"});
  q->ShutDown();
  REQUIRE(RunUntil(io, [&] { return finished == 2; }));
  q->Add("d");
  CHECK(q->Len() == 0);
}

TEST_CASE("work queue: per-key backoff doubles up to the cap and Forget resets it", "[workqueue]") {
  boost::asio::io_context io;
  FakeClock clock;
  WorkQueueOptions o = NoOverallLimit();
  o.base_delay = 10ms;
  o.max_delay = 70ms;
  auto q = WorkQueue::Create(io.get_executor(), clock, o);
  std::vector<std::chrono::milliseconds> delays;
  for (int i = 0; i < 5; ++i) {
    delays.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(q->PeekBackoff("k")));
    q->AddRateLimited("k");
  }
  CHECK(delays == std::vector<std::chrono::milliseconds>{10ms, 20ms, 40ms, 70ms, 70ms});
  CHECK(q->NumRequeues("k") == 5);
  // Another key has its own backoff.
  CHECK(q->PeekBackoff("other") == 10ms);
  q->Forget("k");
  CHECK(q->NumRequeues("k") == 0);
  CHECK(q->PeekBackoff("k") == 10ms);
}

TEST_CASE("work queue: a rate-limited key waits for its backoff by the clock", "[workqueue]") {
  boost::asio::io_context io;
  FakeClock clock;
  WorkQueueOptions o = NoOverallLimit();
  o.base_delay = 1s;
  auto q = WorkQueue::Create(io.get_executor(), clock, o);
  q->AddRateLimited("k");  // 1 s
  CHECK(q->Len() == 0);
  CHECK(q->DelayedLen() == 1);
  clock.Advance(999ms);
  CHECK(q->ReleaseDue() == 0);
  clock.Advance(1ms);
  CHECK(q->ReleaseDue() == 1);
  CHECK(q->TryGet() == "k");
  q->Done("k");
  q->AddRateLimited("k");  // 2 s now
  clock.Advance(1500ms);
  CHECK(q->ReleaseDue() == 0);
  clock.Advance(500ms);
  CHECK(q->ReleaseDue() == 1);
}

TEST_CASE("work queue: the overall token bucket spreads a burst of failures", "[workqueue]") {
  boost::asio::io_context io;
  FakeClock clock;
  WorkQueueOptions o;
  o.base_delay = 1ms;
  o.qps = 10;
  o.burst = 2;
  auto q = WorkQueue::Create(io.get_executor(), clock, o);
  for (std::string k : {"a", "b", "c", "d"}) q->AddRateLimited(k);
  clock.Advance(1ms);
  // The burst of two passes after the per-key backoff; the rest wait for tokens at 10/s.
  CHECK(q->ReleaseDue() == 2);
  clock.Advance(99ms);
  CHECK(q->ReleaseDue() == 1);
  clock.Advance(100ms);
  CHECK(q->ReleaseDue() == 1);
}

TEST_CASE("work queue: AddAfter releases keys in time order and keeps the earliest request", "[workqueue]") {
  boost::asio::io_context io;
  FakeClock clock;
  auto q = WorkQueue::Create(io.get_executor(), clock, NoOverallLimit());
  q->AddAfter("late", 30s);
  q->AddAfter("early", 10s);
  q->AddAfter("middle", 20s);
  q->AddAfter("early", 25s);   // later request: ignored
  q->AddAfter("late", 15s);    // earlier request: wins
  CHECK(q->DelayedLen() == 3);
  clock.Advance(10s);
  q->ReleaseDue();
  clock.Advance(5s);
  q->ReleaseDue();
  clock.Advance(5s);
  q->ReleaseDue();
  std::vector<std::string> order;
  while (auto k = q->TryGet()) order.push_back(*k);
  CHECK(order == std::vector<std::string>{"early", "late", "middle"});
  CHECK(q->DelayedLen() == 0);
}

TEST_CASE("work queue: delayed keys are released by the timer on a real clock", "[workqueue]") {
  boost::asio::io_context io;
  auto q = WorkQueue::Create(io.get_executor(), sluice::core::SystemClock::Instance(), NoOverallLimit());
  auto start = std::chrono::steady_clock::now();
  q->AddAfter("k", 50ms);
  q->Add("now");
  CHECK(q->TryGet() == "now");
  REQUIRE(RunUntil(io, [&] { return q->Len() == 1; }, 2000ms));
  CHECK(std::chrono::steady_clock::now() - start >= 50ms);
  CHECK(q->TryGet() == "k");
}

TEST_CASE("work queue: nonsensical options are refused with a clear error", "[workqueue]") {
  boost::asio::io_context io;
  FakeClock clock;
  WorkQueueOptions o;
  o.base_delay = 0ms;
  CHECK_THROWS_WITH(WorkQueue::Create(io.get_executor(), clock, o), Catch::Contains("base_delay must be positive"));
  o.base_delay = 10ms;
  o.max_delay = 1ms;
  CHECK_THROWS_WITH(WorkQueue::Create(io.get_executor(), clock, o), Catch::Contains("max_delay"));
}
