// Client requests per second on one keep-alive connection against the API emulator: a GET
// of one ConfigMap in a loop. Everything runs on one thread's io_context (the emulator has
// its own loop thread), so this measures the client's per-request cost plus the emulator's.
#include "kube/client.h"
#include "sandbox/emulator/emulator.h"

#include <benchmark/benchmark.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>

namespace {

namespace asio = boost::asio;
namespace kube = sluice::kube;
using json = nlohmann::json;

asio::awaitable<void> GetLoop(benchmark::State& state, kube::Client& client) {
  auto resolve = client.Resolve("v1", "ConfigMap");
  kube::ApiResource cm = co_await std::move(resolve);
  json object = {{"metadata", {{"name", "bench"}}}, {"data", {{"key", std::string(512, 'v')}}}};
  auto create = client.Create(cm, "default", object);
  co_await std::move(create);
  for (auto _ : state) {
    auto get = client.Get(cm, "default", "bench");
    json got = co_await std::move(get);
    benchmark::DoNotOptimize(got);
  }
}

void RunGetLoop(benchmark::State& state, bool tls) {
  sluice::sandbox::EmulatorOptions emulator_options;
  emulator_options.tls = tls;
  sluice::sandbox::Emulator emulator(emulator_options);
  emulator.Start();
  asio::io_context ioc;
  kube::ClientOptions options;
  options.qps = 0;  // measure the client, not its rate limit
  auto client = kube::MakeHttpClient(ioc.get_executor(), kube::ParseKubeconfig(emulator.KubeconfigYaml()), options);
  std::exception_ptr failure;
  asio::co_spawn(ioc, GetLoop(state, *client), [&](std::exception_ptr e) { failure = e; });
  ioc.run();
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      state.SkipWithError(e.what());
    }
  }
  state.SetItemsProcessed(state.iterations());
  client.reset();
  emulator.Stop();
}
void BM_ClientGetConfigMap(benchmark::State& state) { RunGetLoop(state, false); }
// Over TLS the pooled connection must be reused too: a handshake per request would show
// here as a several-fold slowdown.
void BM_ClientGetConfigMapTls(benchmark::State& state) { RunGetLoop(state, true); }
BENCHMARK(BM_ClientGetConfigMap)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ClientGetConfigMapTls)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace
