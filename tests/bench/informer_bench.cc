// Informer cost at the scale of a big cluster: memory of a cache holding 10,000 realistic
// Deployments (RSS delta from /proc/self/status), and the time to apply and deliver 10,000
// watch events to a handler. Run: sluice_bench --benchmark_filter=Informer
#include "kube/informer.h"
#include "tests/kube/fake_client.h"

#include <benchmark/benchmark.h>
#include <boost/asio/io_context.hpp>
#include <malloc.h>

#include <fstream>
#include <string>

namespace {

using sluice::kube::Informer;
using sluice::kube::InformerOptions;
using sluice::kube::json;
using sluice::kube::testing::DeploymentsResource;
using sluice::kube::testing::FakeClient;
using sluice::kube::testing::RunUntil;

constexpr int kObjects = 10000;

long RssKiB() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// A Deployment as a cluster stores it after `kubectl apply`: labels, the last-applied
// annotation, managedFields, a pod template with probes, env and resources, and status.
json RealisticDeployment(int i) {
  std::string name = "app-" + std::to_string(i);
  json container = {
      {"name", "app"},
      {"image", "ghcr.io/example/app:1.4." + std::to_string(i % 50)},
      {"ports", {{{"name", "http"}, {"containerPort", 8080}, {"protocol", "TCP"}}}},
      {"env",
       {{{"name", "LOG_LEVEL"}, {"value", "info"}},
        {{"name", "POD_NAME"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.name"}}}}}}}},
      {"resources", {{"requests", {{"cpu", "100m"}, {"memory", "128Mi"}}}, {"limits", {{"memory", "256Mi"}}}}},
      {"readinessProbe", {{"httpGet", {{"path", "/readyz"}, {"port", 8080}}}, {"periodSeconds", 5}}},
      {"livenessProbe", {{"httpGet", {{"path", "/healthz"}, {"port", 8080}}}, {"initialDelaySeconds", 10}}},
      {"imagePullPolicy", "IfNotPresent"},
      {"terminationMessagePath", "/dev/termination-log"},
      {"terminationMessagePolicy", "File"}};
  json spec = {
      {"replicas", 3},
      {"revisionHistoryLimit", 10},
      {"progressDeadlineSeconds", 600},
      {"selector", {{"matchLabels", {{"app", name}}}}},
      {"strategy", {{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxSurge", "25%"}, {"maxUnavailable", "25%"}}}}},
      {"template",
       {{"metadata", {{"labels", {{"app", name}, {"version", "v1"}}}}},
        {"spec",
         {{"containers", {container}},
          {"restartPolicy", "Always"},
          {"terminationGracePeriodSeconds", 30},
          {"dnsPolicy", "ClusterFirst"},
          {"schedulerName", "default-scheduler"},
          {"securityContext", json::object()}}}}}};
  json applied = {{"apiVersion", "apps/v1"},
                  {"kind", "Deployment"},
                  {"metadata", {{"name", name}, {"namespace", "team-" + std::to_string(i % 20)}}},
                  {"spec", {{"replicas", 3}, {"template", spec["template"]}}}};
  return json{
      {"apiVersion", "apps/v1"},
      {"kind", "Deployment"},
      {"metadata",
       {{"name", name},
        {"namespace", "team-" + std::to_string(i % 20)},
        {"labels", {{"app", name}, {"team", "team-" + std::to_string(i % 20)}}},
        {"annotations",
         {{"deployment.kubernetes.io/revision", "3"},
          {"kubectl.kubernetes.io/last-applied-configuration", applied.dump()}}},
        {"managedFields",
         {{{"manager", "kubectl-client-side-apply"},
           {"operation", "Update"},
           {"apiVersion", "apps/v1"},
           {"time", "2026-11-20T10:00:00Z"},
           {"fieldsType", "FieldsV1"},
           {"fieldsV1", {{"f:spec", {{"f:replicas", json::object()}, {"f:template", json::object()}}}}}}}}}},
      {"spec", spec},
      {"status",
       {{"observedGeneration", 3},
        {"replicas", 3},
        {"updatedReplicas", 3},
        {"readyReplicas", 3},
        {"availableReplicas", 3},
        {"conditions",
         {{{"type", "Available"}, {"status", "True"}, {"reason", "MinimumReplicasAvailable"},
           {"lastTransitionTime", "2026-11-20T10:00:05Z"}},
          {{"type", "Progressing"}, {"status", "True"}, {"reason", "NewReplicaSetAvailable"},
           {"lastTransitionTime", "2026-11-20T10:00:05Z"}}}}}}};
}

void CacheMemory(benchmark::State& state, bool strip) {
  // The informer strips by default; the unstripped run shows what that saves.
  for (auto _ : state) {
    state.PauseTiming();
    // Heap-held so that tearing down 10,000 objects happens outside the timed region.
    auto io_holder = std::make_unique<boost::asio::io_context>();
    auto& io = *io_holder;
    auto client = std::make_shared<FakeClient>(io.get_executor());
    size_t wire_bytes = 0;
    for (int i = 0; i < kObjects; ++i) {
      json d = RealisticDeployment(i);
      wire_bytes += d.dump().size();
      client->Seed(DeploymentsResource(), std::move(d));
    }
    InformerOptions options;
    if (!strip) options.transform = nullptr;
    malloc_trim(0);
    long before = RssKiB();
    size_t heap_before = mallinfo2().uordblks;
    state.ResumeTiming();
    auto informer = Informer::Create(client, DeploymentsResource(), options);
    informer->Start();
    if (!RunUntil(io, [&] { return informer->HasSynced(); }, std::chrono::milliseconds(120000))) {
      state.SkipWithError("informer did not sync");
      return;
    }
    state.PauseTiming();
    malloc_trim(0);  // the list response is freed; count only what the cache keeps
    long after = RssKiB();
    size_t heap_after = mallinfo2().uordblks;
    state.counters["objects"] = static_cast<double>(informer->size());
    state.counters["wire_KiB_per_object"] = static_cast<double>(wire_bytes) / kObjects / 1024.0;
    state.counters["rss_delta_MiB"] = static_cast<double>(after - before) / 1024.0;
    state.counters["rss_KiB_per_object"] = static_cast<double>(after - before) / kObjects;
    // RSS keeps heap pages that freed list buffers left fragmented; bytes in use do not.
    state.counters["heap_KiB_per_object"] =
        (static_cast<double>(heap_after) - static_cast<double>(heap_before)) / 1024.0 / kObjects;
    informer->Stop();
    RunUntil(io, [&] { return client->OpenWatches() == 0; }, std::chrono::milliseconds(1000));
    informer.reset();
    client.reset();
    io_holder.reset();
    state.ResumeTiming();
  }
}

void BM_InformerCacheMemory(benchmark::State& state) { CacheMemory(state, false); }
void BM_InformerCacheMemoryStripped(benchmark::State& state) { CacheMemory(state, true); }

// 10,000 events are queued on the open watch before the clock starts, so the figure is
// the informer's own cost: decode-free apply to the cache, indexing, handler delivery.
void BM_InformerWatchDelivery(benchmark::State& state) {
  for (auto _ : state) {
    state.PauseTiming();
    auto io_holder = std::make_unique<boost::asio::io_context>();
    auto& io = *io_holder;
    auto client = std::make_shared<FakeClient>(io.get_executor());
    InformerOptions options;
    auto informer = Informer::Create(client, DeploymentsResource(), options);
    int delivered = 0;
    sluice::kube::InformerHandler handler;
    handler.on_add = [&](const sluice::kube::ObjectPtr&) { ++delivered; };
    handler.on_update = [&](const sluice::kube::ObjectPtr&, const sluice::kube::ObjectPtr&) { ++delivered; };
    informer->AddHandler(handler);
    informer->Start();
    RunUntil(io, [&] { return informer->HasSynced() && client->OpenWatches() == 1; });
    for (int i = 0; i < kObjects; ++i) client->Seed(DeploymentsResource(), RealisticDeployment(i));
    state.ResumeTiming();
    if (!RunUntil(io, [&] { return delivered == kObjects; }, std::chrono::milliseconds(120000))) {
      state.SkipWithError("events were not delivered");
      return;
    }
    state.PauseTiming();
    state.counters["events"] = delivered;
    informer->Stop();
    RunUntil(io, [&] { return client->OpenWatches() == 0; }, std::chrono::milliseconds(1000));
    informer.reset();
    client.reset();
    io_holder.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kObjects);
}

BENCHMARK(BM_InformerCacheMemory)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_InformerCacheMemoryStripped)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_InformerWatchDelivery)->Iterations(3)->Unit(benchmark::kMillisecond);

}  // namespace
