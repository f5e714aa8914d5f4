// The API emulator at scale: list latency with 10,000 objects, and watch fan-out of 1,000
// writes to 100 watchers. The client runs on its own io_context thread; the emulator on its.
#include <benchmark/benchmark.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <exception>
#include <thread>

#include "kube/client.h"
#include "sandbox/emulator/emulator.h"

namespace {

namespace asio = boost::asio;
namespace kube = sluice::kube;
using json = nlohmann::json;

json ConfigMap(int i) {
  return {{"metadata", {{"name", "cm-" + std::to_string(i)}, {"labels", {{"bench", "yes"}}}}},
          {"data", {{"key", std::string(256, 'v')}}}};
}

// Runs `body` to completion on a fresh io_context with a client for `emulator`.
template <typename Body>
void WithClient(benchmark::State& state, sluice::sandbox::Emulator& emulator, Body body) {
  asio::io_context ioc;
  kube::ClientOptions options;
  options.qps = 0;
  auto client = kube::MakeHttpClient(ioc.get_executor(), kube::ParseKubeconfig(emulator.KubeconfigYaml()), options);
  std::exception_ptr failure;
  asio::co_spawn(ioc, body(*client), [&](std::exception_ptr e) { failure = e; });
  ioc.run();
  if (failure) try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      state.SkipWithError(e.what());
    }
}

asio::awaitable<void> Fill(kube::Client& client, int n) {
  auto resolve = client.Resolve("v1", "ConfigMap");
  kube::ApiResource cm = co_await std::move(resolve);
  for (int i = 0; i < n; ++i) {
    std::string ns = "default";
    auto create = client.Create(cm, ns, ConfigMap(i));
    co_await std::move(create);
  }
}

void BM_EmulatorList10k(benchmark::State& state) {
  sluice::sandbox::Emulator emulator;
  emulator.Start();
  WithClient(state, emulator, [](kube::Client& c) { return Fill(c, 10000); });
  WithClient(state, emulator, [&state](kube::Client& c) -> asio::awaitable<void> {
    auto resolve = c.Resolve("v1", "ConfigMap");
    kube::ApiResource cm = co_await std::move(resolve);
    for (auto _ : state) {
      std::string ns = "default";
      kube::ListOptions options;
      options.limit = state.range(0);
      auto list = c.List(cm, ns, options);
      json page = co_await std::move(list);
      benchmark::DoNotOptimize(page);
    }
  });
  emulator.Stop();
}
BENCHMARK(BM_EmulatorList10k)->Arg(500)->Arg(0)->UseRealTime()->Unit(benchmark::kMillisecond);

// 100 watchers on ConfigMaps; each iteration writes 1,000 objects and waits until every
// watcher has seen every write: throughput of the fan-out in events delivered per second.
void BM_EmulatorWatchFanOut100(benchmark::State& state) {
  sluice::sandbox::Emulator emulator;
  emulator.Start();
  asio::io_context watch_ioc;
  kube::ClientOptions options;
  options.qps = 0;
  auto watch_client =
      kube::MakeHttpClient(watch_ioc.get_executor(), kube::ParseKubeconfig(emulator.KubeconfigYaml()), options);
  std::atomic<long> delivered{0};
  std::atomic<int> open{0};
  constexpr int kWatchers = 100;
  for (int w = 0; w < kWatchers; ++w)
    asio::co_spawn(
        watch_ioc,
        [&]() -> asio::awaitable<void> {
          auto resolve = watch_client->Resolve("v1", "ConfigMap");
          kube::ApiResource cm = co_await std::move(resolve);
          std::string ns = "default";
          kube::ListOptions lo;
          lo.resource_version = "1";
          lo.allow_bookmarks = false;
          lo.timeout_seconds = 3600;
          auto watch = watch_client->Watch(cm, ns, lo);
          auto stream = co_await std::move(watch);
          open++;
          for (;;) {
            auto next = stream->Next();
            auto e = co_await std::move(next);
            if (!e) break;
            delivered++;
          }
        },
        asio::detached);
  std::thread watch_thread([&] { watch_ioc.run(); });
  while (open < kWatchers) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  int round = 0;
  long events = 0;
  for (auto _ : state) {
    long target = delivered + 1000L * kWatchers;
    int base = 1000 * round++;
    WithClient(state, emulator, [base](kube::Client& c) -> asio::awaitable<void> {
      auto resolve = c.Resolve("v1", "ConfigMap");
      kube::ApiResource cm = co_await std::move(resolve);
      for (int i = 0; i < 1000; ++i) {
        std::string ns = "default";
        auto create = c.Create(cm, ns, ConfigMap(base + i));
        co_await std::move(create);
      }
    });
    while (delivered < target) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    events += 1000L * kWatchers;
  }
  state.SetItemsProcessed(events);
  watch_ioc.stop();
  watch_thread.join();
  emulator.Stop();
}
BENCHMARK(BM_EmulatorWatchFanOut100)->Iterations(3)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
