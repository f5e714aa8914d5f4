// The canary engine at scale, against the API emulator (the figures issue 3 asks for):
//   CanaryAbortLatency       annotation written -> route at 100/0, p50/p99, 100 Canaries mid-rollout
//   CanaryRequestsPerStep    API requests of one weight step, reads and writes by resource
//   CanaryThousandProgressing 1,000 Canaries stepping every 10 s: step lateness p50/p99, and the
//                            RSS and CPU of a `sluice controller` subprocess
// Requests are counted where the API server sees them (the emulator's request observer), so
// nothing the controller sends escapes the count.
// Run: sluice_bench --benchmark_filter=Canary
#include <benchmark/benchmark.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "controller/canary/canary_controller.h"
#include "kube/client.h"
#include "kube/event_recorder.h"
#include "kube/informer.h"
#include "sandbox/emulator/emulator.h"
#include "tests/support/fixtures.h"
#include "tests/support/process.h"

namespace {

namespace asio = boost::asio;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct Request {
  Clock::time_point time;
  std::string method;
  std::string target;
};

// Every request the emulator served, in arrival order.
class RequestLog {
 public:
  void Add(const std::string& method, const std::string& target) {
    std::lock_guard lock(mu_);
    entries_.push_back({Clock::now(), method, target});
  }
  std::vector<Request> Since(size_t from) const {
    std::lock_guard lock(mu_);
    return {entries_.begin() + static_cast<long>(std::min(from, entries_.size())), entries_.end()};
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return entries_.size();
  }

 private:
  mutable std::mutex mu_;
  std::vector<Request> entries_;
};

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t index = static_cast<size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

json AppDeployment(const std::string& name, const std::string& version) {
  json container = {{"name", "app"},
                    {"image", "ghcr.io/example/app:" + version},
                    {"ports", {{{"containerPort", 9898}}}}};
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec",
           {{"replicas", 1},
            {"selector", {{"matchLabels", {{"app", name}}}}},
            {"template", {{"metadata", {{"labels", {{"app", name}}}}}, {"spec", {{"containers", {container}}}}}}}}};
}

json AppCanary(const std::string& name, const std::string& interval, int step_weight) {
  return {{"apiVersion", "sluice.dev/v1beta1"},
          {"kind", "Canary"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec",
           {{"provider", "gatewayapi"},
            {"targetRef", {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"name", name}}},
            {"service", {{"port", 9898}}},
            {"progressDeadlineSeconds", 600},
            {"analysis", {{"interval", interval}, {"threshold", 5}, {"stepWeight", step_weight}, {"maxWeight", 100}}}}}};
}

// The emulator, a client for the benchmark's own writes (on a thread of its own), and the
// request log.
class BenchCluster {
 public:
  explicit BenchCluster(std::chrono::milliseconds ready_delay) : emulator_(Options(ready_delay, &log_)) {
    spdlog::set_level(spdlog::level::warn);
    emulator_.Start();
    for (const auto& entry : std::filesystem::directory_iterator(std::string(SLUICE_SOURCE_DIR) + "/crds"))
      emulator_.LoadCrdsYaml(sluice::testing::ReadFile(entry.path()));
    auto routes = sluice::testing::CrdFixture("gateway-api-v1.6.1-httproutes.yaml");
    if (!routes) throw std::runtime_error("Gateway API CRDs not found: set SLUICE_CRD_DIR (docs/testing.md)");
    emulator_.LoadCrdsYaml(sluice::testing::ReadFile(*routes));
    sluice::kube::ClientOptions co;
    co.qps = 5000;
    co.burst = 5000;
    client_ = sluice::kube::MakeHttpClient(io_.get_executor(), sluice::kube::ParseKubeconfig(emulator_.KubeconfigYaml()), co);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~BenchCluster() {
    work_.reset();
    io_.stop();
    thread_.join();
    emulator_.Stop();
  }

  sluice::sandbox::Emulator& emulator() { return emulator_; }
  RequestLog& log() { return log_; }
  std::shared_ptr<sluice::kube::Client> client() { return client_; }
  asio::io_context& io() { return io_; }

  // Applies `objects` with server-side apply, `parallel` at a time.
  void Apply(const std::vector<json>& objects, size_t parallel = 32) {
    auto done = asio::co_spawn(io_, ApplyAll(objects, parallel), asio::use_future);
    done.get();
  }

  void Annotate(const std::string& kind_api, const std::string& kind, const std::string& name,
                const std::string& key, const std::string& value) {
    auto done = asio::co_spawn(io_, AnnotateOne(kind_api, kind, name, key, value), asio::use_future);
    done.get();
  }

  json Get(const std::string& api_version, const std::string& kind, const std::string& name) {
    auto done = asio::co_spawn(io_, GetOne(api_version, kind, name), asio::use_future);
    return done.get();
  }

  // Canaries in `phase` (by the API).
  int CountPhase(const std::string& phase) {
    auto done = asio::co_spawn(io_, CountPhaseAsync(phase), asio::use_future);
    return done.get();
  }

 private:
  static sluice::sandbox::EmulatorOptions Options(std::chrono::milliseconds ready_delay, RequestLog* log) {
    sluice::sandbox::EmulatorOptions o;
    o.deployment_ready_delay = ready_delay;
    o.watch_history = 200000;
    o.request_observer = [log](const std::string& method, const std::string& target) { log->Add(method, target); };
    return o;
  }

  asio::awaitable<sluice::kube::ApiResource> Resolve(const std::string& api_version, const std::string& kind) {
    std::string key = api_version + "/" + kind;
    if (!resources_.count(key)) {
      auto op = client_->Resolve(api_version, kind);
      resources_[key] = co_await std::move(op);
    }
    co_return resources_[key];
  }

  asio::awaitable<void> ApplyOne(json object) {
    auto res = co_await Resolve(object["apiVersion"], object["kind"]);
    std::string manager = "bench";
    bool force = true;
    std::string subresource;
    auto op = client_->Apply(res, object, manager, force, subresource);
    co_await std::move(op);
  }

  asio::awaitable<void> ApplyAll(std::vector<json> objects, size_t parallel) {
    for (size_t i = 0; i < objects.size(); i += parallel) {
      std::vector<std::future<void>> batch;
      for (size_t j = i; j < std::min(objects.size(), i + parallel); ++j)
        batch.push_back(asio::co_spawn(io_, ApplyOne(objects[j]), asio::use_future));
      // Futures complete on this same loop: wait by polling it cooperatively.
      for (auto& f : batch) {
        while (f.wait_for(0s) != std::future_status::ready) {
          asio::steady_timer t(io_, 2ms);
          co_await t.async_wait(asio::use_awaitable);
        }
        f.get();
      }
    }
  }

  asio::awaitable<void> AnnotateOne(std::string api_version, std::string kind, std::string name, std::string key,
                                    std::string value) {
    auto res = co_await Resolve(api_version, kind);
    json patch = {{"metadata", {{"annotations", {{key, value}}}}}};
    std::string ns = "default";
    sluice::kube::PatchOptions po;
    auto op = client_->Patch(res, ns, name, sluice::kube::PatchType::kMerge, patch, po);
    co_await std::move(op);
  }

  asio::awaitable<json> GetOne(std::string api_version, std::string kind, std::string name) {
    auto res = co_await Resolve(api_version, kind);
    std::string ns = "default";
    auto op = client_->Get(res, ns, name);
    co_return co_await std::move(op);
  }

  asio::awaitable<int> CountPhaseAsync(std::string phase) {
    auto res = co_await Resolve("sluice.dev/v1beta1", "Canary");
    std::string ns = "default";
    sluice::kube::ListOptions lo;
    auto op = client_->ListAll(res, ns, lo);
    json list = co_await std::move(op);
    int n = 0;
    for (const auto& c : list["items"])
      if (c.value("status", json::object()).value("phase", "") == phase) n++;
    co_return n;
  }

  RequestLog log_;
  sluice::sandbox::Emulator emulator_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::shared_ptr<sluice::kube::Client> client_;
  std::map<std::string, sluice::kube::ApiResource> resources_;
  std::thread thread_;
};

// Opens the first step, then keeps the confirm-traffic-increase gate closed: every Canary
// stays mid-rollout at its first weight, still analysed every interval.
class HoldAtFirstStep final : public sluice::analysis::AnalysisRunner {
 public:
  asio::awaitable<sluice::analysis::AnalysisOutcome> Evaluate(const json&, const sluice::api::CanarySpec&, const sluice::analysis::AnalysisPlan&,
                                                            const sluice::api::CanaryStatus& status,
                                                            const sluice::analysis::ObjectLookup&) override {
    sluice::analysis::AnalysisOutcome o;
    o.confirm_traffic_increase_open = status.canary_weight == 0;
    co_return o;
  }
  asio::awaitable<void> RunWebhooks(const json&, const sluice::api::CanarySpec&, const std::string&, const sluice::api::CanaryStatus&,
                                    const sluice::analysis::ObjectLookup&) override {
    co_return;
  }
  asio::awaitable<std::vector<sluice::analysis::AlertFailure>> SendAlert(const json&, const sluice::analysis::Alert&,
                                                                         const sluice::analysis::ObjectLookup&) override {
    co_return std::vector<sluice::analysis::AlertFailure>{};
  }
};

// The canary controller in this process, on a thread of its own.
class InProcessController {
 public:
  InProcessController(BenchCluster& cluster, std::shared_ptr<sluice::analysis::AnalysisRunner> analysis) {
    sluice::kube::ClientOptions co;
    co.qps = 1000;
    co.burst = 2000;
    auto client = sluice::kube::MakeHttpClient(io_.get_executor(),
                                               sluice::kube::ParseKubeconfig(cluster.emulator().KubeconfigYaml()), co);
    auto events = sluice::kube::EventRecorder::Create(client);
    controller_ = sluice::canary::CanaryController::Create(client, events, std::move(analysis));
    asio::co_spawn(io_, controller_->Run(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~InProcessController() {
    asio::post(io_, [this] { controller_->Stop(); });
    std::this_thread::sleep_for(200ms);
    io_.stop();
    thread_.join();
  }
  const sluice::canary::ReconcileStats& stats() const { return controller_->stats(); }

 private:
  asio::io_context io_;
  std::shared_ptr<sluice::canary::CanaryController> controller_;
  std::thread thread_;
};

// Polls `done`; listing a thousand Canaries is not free for the emulator's one thread, so
// counting waits poll slowly (`every`).
bool WaitUntil(const std::function<bool()>& done, std::chrono::seconds deadline,
               std::chrono::milliseconds every = 100ms) {
  auto end = Clock::now() + deadline;
  while (Clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(every);
  }
  return done();
}

std::vector<json> Apps(int count, const std::string& version, const std::string& interval, int step_weight,
                       bool with_canaries) {
  std::vector<json> objects;
  for (int i = 0; i < count; ++i) {
    std::string name = "app-" + std::to_string(i);
    objects.push_back(AppDeployment(name, version));
    if (with_canaries) objects.push_back(AppCanary(name, interval, step_weight));
  }
  return objects;
}

bool IsRouteWriteOf(const Request& r, const std::string& name) {
  return r.method != "GET" && r.target.find("/httproutes/" + name) != std::string::npos;
}

void CanaryAbortLatency(benchmark::State& state) {
  const int count = static_cast<int>(state.range(0));
  BenchCluster cluster(100ms);
  InProcessController controller(cluster, std::make_shared<HoldAtFirstStep>());
  cluster.Apply(Apps(count, "1.0.0", "1s", 10, true));
  if (!WaitUntil([&] { return cluster.CountPhase("Initialized") == count; }, 120s)) {
    state.SkipWithError("Canaries did not initialize");
    return;
  }
  cluster.Apply(Apps(count, "2.0.0", "1s", 10, false));
  if (!WaitUntil([&] { return cluster.CountPhase("Progressing") == count; }, 180s)) {
    state.SkipWithError("Canaries did not start progressing");
    return;
  }
  std::this_thread::sleep_for(2s);  // every Canary now sits at weight 10, analysed each second
  std::vector<double> latencies_ms;
  for (auto _ : state) {
    for (int i = 0; i < count; ++i) {
      std::string name = "app-" + std::to_string(i);
      size_t mark = cluster.log().size();
      cluster.Annotate("sluice.dev/v1beta1", "Canary", name, "sluice.dev/abort", "bench");
      // The annotation's arrival at the API server, then the route write that follows it.
      std::optional<Clock::time_point> written, routed;
      WaitUntil(
          [&] {
            for (const auto& r : cluster.log().Since(mark)) {
              if (!written && r.method == "PATCH" && r.target.find("/canaries/" + name) != std::string::npos &&
                  r.target.find("/status") == std::string::npos)
                written = r.time;
              if (written && !routed && IsRouteWriteOf(r, name)) routed = r.time;
            }
            return routed.has_value();
          },
          10s);
      if (!written || !routed) {
        state.SkipWithError(("no route write after aborting " + name).c_str());
        return;
      }
      latencies_ms.push_back(std::chrono::duration<double, std::milli>(*routed - *written).count());
    }
  }
  json route = cluster.Get("gateway.networking.k8s.io/v1", "HTTPRoute", "app-0");
  int canary_weight = route["spec"]["rules"][0]["backendRefs"][1].value("weight", -1);
  state.counters["aborts"] = static_cast<double>(latencies_ms.size());
  state.counters["p50_ms"] = Percentile(latencies_ms, 0.50);
  state.counters["p99_ms"] = Percentile(latencies_ms, 0.99);
  state.counters["max_ms"] = Percentile(latencies_ms, 1.0);
  state.counters["route0_canary_weight"] = canary_weight;  // 0 proves the write routed 100/0
}
BENCHMARK(CanaryAbortLatency)->Arg(100)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

// Requests between two consecutive status writes of one Canary in the middle of a rollout.
void CanaryRequestsPerStep(benchmark::State& state) {
  BenchCluster cluster(100ms);
  InProcessController controller(cluster, sluice::analysis::MakeNoAnalysis());
  cluster.Apply(Apps(1, "1.0.0", "1s", 5, true));
  if (!WaitUntil([&] { return cluster.CountPhase("Initialized") == 1; }, 30s)) {
    state.SkipWithError("Canary did not initialize");
    return;
  }
  cluster.Apply(Apps(1, "2.0.0", "1s", 5, false));
  // Skip the rollout's start (primary, services, scale-up), then count whole steps.
  WaitUntil([&] { return cluster.Get("sluice.dev/v1beta1", "Canary", "app-0")["status"].value("canaryWeight", 0) >= 15; },
            60s);
  size_t mark = cluster.log().size();
  int from = cluster.Get("sluice.dev/v1beta1", "Canary", "app-0")["status"].value("canaryWeight", 0);
  for (auto _ : state) std::this_thread::sleep_for(8s);
  int to = cluster.Get("sluice.dev/v1beta1", "Canary", "app-0")["status"].value("canaryWeight", 0);
  size_t end = cluster.log().size();
  std::map<std::string, double> by_kind;
  double reads = 0, writes = 0;
  auto requests = cluster.log().Since(mark);
  requests.resize(std::min(requests.size(), end - mark));
  for (const auto& r : requests) {
    bool watch = r.target.find("watch=") != std::string::npos;
    if (watch) continue;
    bool is_read = r.method == "GET";
    // The benchmark's own GETs of the Canary are not the controller's.
    if (is_read && r.target.find("/canaries/app-0") != std::string::npos) continue;
    (is_read ? reads : writes) += 1;
    std::string kind = r.target.find("/httproutes/") != std::string::npos   ? "route"
                       : r.target.find("/status") != std::string::npos      ? "status"
                       : r.target.find("/events") != std::string::npos      ? "event"
                       : r.target.find("/leases/") != std::string::npos     ? "lease"
                                                                            : "other";
    by_kind[std::string(is_read ? "read_" : "write_") + kind] += 1;
  }
  double steps = std::max(1, (to - from) / 5);
  state.counters["steps"] = steps;
  state.counters["reads_per_step"] = reads / steps;
  state.counters["writes_per_step"] = writes / steps;
  for (const auto& [kind, n] : by_kind) state.counters[kind + "_per_step"] = n / steps;
  state.counters["reconciler_reads"] = static_cast<double>(controller.stats().reads);
}
BENCHMARK(CanaryRequestsPerStep)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

struct ProcessUsage {
  double cpu_seconds = 0;
  long rss_kib = 0;
  long hwm_kib = 0;
};

ProcessUsage UsageOf(pid_t pid) {
  ProcessUsage u;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  auto close = content.rfind(')');
  if (close != std::string::npos) {
    std::istringstream fields(content.substr(close + 2));
    std::vector<std::string> f;
    std::string x;
    while (fields >> x) f.push_back(x);
    // After the command: state is field 3, utime 14 and stime 15 (1-based) of the whole line.
    if (f.size() > 12) u.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) u.rss_kib = std::stol(line.substr(6));
    if (line.rfind("VmHWM:", 0) == 0) u.hwm_kib = std::stol(line.substr(6));
  }
  return u;
}

// Step lateness from the Canaries' own status: consecutive lastStepTime values of a Canary
// should be exactly one interval apart; anything beyond is lateness.
class StepWatcher {
 public:
  void Observe(const json& canary) {
    const json& status = canary.value("status", json::object());
    std::string step = status.value("lastStepTime", "");
    if (step.empty() || status.value("phase", "") != "Progressing") return;
    auto t = sluice::core::ParseTime(step);
    if (!t) return;
    std::string name = canary["metadata"].value("name", "");
    std::lock_guard lock(mu_);
    auto it = last_.find(name);
    if (it != last_.end() && *t > it->second && recording_)
      lateness_ms_.push_back(std::chrono::duration<double, std::milli>(*t - it->second).count() - 10000.0);
    last_[name] = *t;
  }
  void StartRecording() {
    std::lock_guard lock(mu_);
    recording_ = true;
  }
  std::vector<double> Lateness() const {
    std::lock_guard lock(mu_);
    return lateness_ms_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, sluice::core::TimePoint> last_;
  std::vector<double> lateness_ms_;
  bool recording_ = false;
};

void CanaryThousandProgressing(benchmark::State& state) {
  const int count = static_cast<int>(state.range(0));
  BenchCluster cluster(500ms);
  sluice::testing::TempDir dir;
  std::string kubeconfig = dir.File("kubeconfig");
  cluster.emulator().WriteKubeconfig(kubeconfig);
  // The controller as users run it, so its RSS and CPU are its own.
  sluice::testing::BackgroundProcess controller(
      {SLUICE_BINARY, "controller", "--kubeconfig", kubeconfig, "--listen", "127.0.0.1:0", "--leader-elect=false",
       "--log-format", "text", "--kube-api-qps", "1000", "--kube-api-burst", "2000", "--workers",
       std::to_string(state.range(2))});
  // Step 5% every 10 s: 20 steps, so every Canary is still progressing when we stop.
  cluster.Apply(Apps(count, "1.0.0", "10s", 5, true), 64);
  auto init_start = Clock::now();
  if (!WaitUntil([&] { return cluster.CountPhase("Initialized") == count; }, 600s, 2000ms)) {
    std::string reason = "Canaries did not initialize: " + std::to_string(cluster.CountPhase("Initialized")) + " of " +
                         std::to_string(count) + "; controller says: " + controller.Stderr().substr(0, 2000) +
                         controller.Stdout().substr(0, 2000);
    state.SkipWithError(reason.c_str());
    return;
  }
  state.counters["initialize_s"] = std::chrono::duration<double>(Clock::now() - init_start).count();
  StepWatcher watcher;
  sluice::kube::InformerOptions io;
  io.ns = "default";
  auto resolve = asio::co_spawn(cluster.io(), cluster.client()->Resolve("sluice.dev/v1beta1", "Canary"), asio::use_future);
  auto informer = sluice::kube::Informer::Create(cluster.client(), resolve.get(), io);
  sluice::kube::InformerHandler handler;
  handler.on_add = [&](const sluice::kube::ObjectPtr& o) { watcher.Observe(*o); };
  handler.on_update = [&](const sluice::kube::ObjectPtr&, const sluice::kube::ObjectPtr& o) { watcher.Observe(*o); };
  informer->AddHandler(handler);
  asio::post(cluster.io(), [informer] { informer->Start(); });

  cluster.Apply(Apps(count, "2.0.0", "10s", 5, false), 64);
  WaitUntil([&] { return cluster.CountPhase("Progressing") == count; }, 300s, 2000ms);
  watcher.StartRecording();
  ProcessUsage before = UsageOf(controller.pid());
  ProcessUsage emulator_before = UsageOf(getpid());  // the emulator serves from this process
  auto started = Clock::now();
  size_t mark = cluster.log().size();
  for (auto _ : state) std::this_thread::sleep_for(std::chrono::seconds(state.range(1)));
  double wall = std::chrono::duration<double>(Clock::now() - started).count();
  ProcessUsage after = UsageOf(controller.pid());
  ProcessUsage emulator_after = UsageOf(getpid());
  size_t requests = cluster.log().size() - mark;
  asio::post(cluster.io(), [informer] { informer->Stop(); });
  auto lateness = watcher.Lateness();
  state.counters["canaries"] = count;
  state.counters["steps_seen"] = static_cast<double>(lateness.size());
  state.counters["lateness_p50_ms"] = Percentile(lateness, 0.50);
  state.counters["lateness_p99_ms"] = Percentile(lateness, 0.99);
  state.counters["controller_rss_MiB"] = static_cast<double>(after.rss_kib) / 1024.0;
  state.counters["controller_peak_rss_MiB"] = static_cast<double>(after.hwm_kib) / 1024.0;
  state.counters["controller_cpu_pct"] = 100.0 * (after.cpu_seconds - before.cpu_seconds) / wall;
  state.counters["bench_and_emulator_cpu_pct"] = 100.0 * (emulator_after.cpu_seconds - emulator_before.cpu_seconds) / wall;
  state.counters["workers"] = static_cast<double>(state.range(2));
  state.counters["api_requests_per_s"] = static_cast<double>(requests) / wall;
}
BENCHMARK(CanaryThousandProgressing)->Args({1000, 60, 4})->Args({1000, 60, 16})->Args({200, 30, 4})->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

}  // namespace
