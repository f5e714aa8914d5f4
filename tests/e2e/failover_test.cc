// Leader failover, measured (issue 13): two `sluice controller` replicas with short leases
// while Canaries keep rolling out; the leader is killed with SIGKILL again and again, and the
// test reports how long the other replica took to hold the Lease and to act, that no replica
// ever wrote while the other held an unexpired lease, and that every rollout still stepped
// forward and ended promoted with the right image.
//
// Opt-in: it takes about 7 minutes, so it is hidden from ctest ([.]) and runs with
//   build/tests/e2e_tests '[failover]'
// SLUICE_FAILOVERS (default 50) sets the number of kills, SLUICE_FAILOVER_SEED (default 1) the
// pauses between them. docs/testing.md describes the figures it prints.
#include <catch2/catch.hpp>

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "tests/e2e/kubectl_harness.h"
#include "tests/e2e/write_recorder.h"
#include "tests/support/fixtures.h"
#include "tests/support/http_get.h"
#include "tests/support/skip.h"

using namespace sluice::testing;
using json = nlohmann::json;
using SystemTime = std::chrono::system_clock::time_point;

namespace {

// Short enough for 50 failovers in minutes, and valid: lease > renew > 1.2 x retry.
constexpr double kLeaseSeconds = 4;
constexpr double kRenewSeconds = 3;
constexpr double kRetrySeconds = 1;
constexpr int kApps = 3;
const char* kLeasePath = "/apis/coordination.k8s.io/v1/namespaces/default/leases/sluice-controller";

double Seconds(std::chrono::system_clock::duration d) { return std::chrono::duration<double>(d).count(); }

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

uint16_t ServerPort(const std::string& kubeconfig_text) {
  std::smatch m;
  if (!std::regex_search(kubeconfig_text, m, std::regex(R"(server: http://127\.0\.0\.1:(\d+))")))
    throw std::runtime_error("no plain-HTTP loopback server in the kubeconfig");
  return static_cast<uint16_t>(std::stoi(m[1]));
}

std::optional<json> GetJson(uint16_t port, const std::string& path) {
  HttpGetResult r = HttpGet(port, path, std::chrono::seconds(3));
  if (r.status != 200) return std::nullopt;
  try {
    return json::parse(r.body);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// Each committed version of the Lease, as polled from the API every 50 ms (renewals are a
// retry period, 1 s, apart, so none is missed).
struct LeaseRecord {
  SystemTime seen;
  std::string holder;
  SystemTime renew;
  SystemTime acquire;
  double duration = 0;
};

std::optional<LeaseRecord> ParseLease(const json& lease) {
  const json& spec = lease.value("spec", json::object());
  LeaseRecord r;
  r.seen = std::chrono::system_clock::now();
  r.holder = spec.value("holderIdentity", "");
  auto renew = sluice::core::ParseTime(spec.value("renewTime", ""));
  auto acquire = sluice::core::ParseTime(spec.value("acquireTime", ""));
  if (!renew) return std::nullopt;
  r.renew = *renew;
  r.acquire = acquire.value_or(*renew);
  r.duration = spec.value("leaseDurationSeconds", 0.0);
  return r;
}

class LeaseWatch {
 public:
  explicit LeaseWatch(uint16_t api_port) : port_(api_port), thread_([this] { Poll(); }) {}
  ~LeaseWatch() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::vector<LeaseRecord> Records() const {
    std::lock_guard lock(mu_);
    return records_;
  }
  std::optional<LeaseRecord> Latest() const {
    std::lock_guard lock(mu_);
    if (records_.empty()) return std::nullopt;
    return records_.back();
  }

 private:
  void Poll() {
    std::string last_version;
    while (!stop_) {
      if (auto lease = GetJson(port_, kLeasePath)) {
        std::string version = (*lease)["metadata"].value("resourceVersion", "");
        if (version != last_version) {
          if (auto record = ParseLease(*lease)) {
            std::lock_guard lock(mu_);
            records_.push_back(*record);
            last_version = version;
          }
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  uint16_t port_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<LeaseRecord> records_;
  std::thread thread_;
};

// Whether a Lease holder is the controller process `pid`: its identity is
// "<host>-<pid>-<random>" (cmd/controller.cc).
bool IdentityOf(pid_t pid, const std::string& holder) {
  return holder.find("-" + std::to_string(pid) + "-") != std::string::npos;
}

// One `sluice controller` process with its own WriteRecorder between it and the API.
struct Replica {
  std::string name;  // r1, r2, ... in start order
  std::unique_ptr<WriteRecorder> recorder;
  std::unique_ptr<BackgroundProcess> process;
  TempDir dir;
  pid_t pid = -1;
  uint16_t ops_port = 0;

  Replica(std::string replica_name, const std::string& binary, const std::string& kubeconfig_text, uint16_t api_port)
      : name(std::move(replica_name)), recorder(std::make_unique<WriteRecorder>(api_port)) {
    dir.Write("kubeconfig", std::regex_replace(kubeconfig_text, std::regex(R"(server: http://127\.0\.0\.1:\d+)"),
                                               "server: http://127.0.0.1:" + std::to_string(recorder->port())));
    auto seconds = [](double s) { return std::to_string(s); };
    process = std::make_unique<BackgroundProcess>(std::vector<std::string>{
        binary, "controller", "--kubeconfig", dir.File("kubeconfig"), "--listen", "127.0.0.1:0", "--log-format", "text",
        "--lease-duration", seconds(kLeaseSeconds), "--renew-deadline", seconds(kRenewSeconds), "--retry-period",
        seconds(kRetrySeconds)});
    pid = process->pid();
    ops_port = WaitForOpsPort(*process, std::chrono::seconds(20));
  }
  bool Holds(const std::string& holder) const { return IdentityOf(pid, holder); }
  std::string Logs() const { return process->Stdout() + process->Stderr(); }
};

// What a replica wrote, kept after it is gone.
struct WriterLog {
  std::string name;
  pid_t pid;
  std::vector<RecordedWrite> writes;
  int unparsed = 0;  // connections whose requests the recorder could not follow
  bool Holds(const std::string& holder) const { return IdentityOf(pid, holder); }
};

bool IsLeaseWrite(const RecordedWrite& w) { return w.target.find("/apis/coordination.k8s.io/") == 0; }

std::string AppManifest(int i, int version) {
  std::string name = "web-" + std::to_string(i);
  return R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: )" + name + R"(
  namespace: default
spec:
  replicas: 2
  selector:
    matchLabels:
      app: )" + name + R"(
  template:
    metadata:
      labels:
        app: )" + name + R"(
    spec:
      containers:
        - name: web
          image: ghcr.io/example/web:)" + std::to_string(version) + R"(.0.0
          ports:
            - containerPort: 9898
---
apiVersion: sluice.dev/v1beta1
kind: Canary
metadata:
  name: )" + name + R"(
  namespace: default
spec:
  provider: gatewayapi
  targetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: )" + name + R"(
  service:
    port: 9898
  analysis:
    interval: 1s
    threshold: 2
    stepWeight: 10
    maxWeight: 50
)";
}

// Keeps every app rolling out: when a rollout has ended, the next image is set. Watches each
// rollout step forward (status and route weight never lower while Progressing) and end
// Succeeded with the image on the -primary Deployment and no traffic left on the canary.
class RolloutDriver {
 public:
  RolloutDriver(uint16_t api_port, const Kubectl& kubectl) : port_(api_port), kubectl_(kubectl) {
    for (int i = 0; i < kApps; ++i) apps_.push_back({.name = "web-" + std::to_string(i)});
    thread_ = std::thread([this] { Run(); });
  }
  ~RolloutDriver() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // No new rollouts after this; those under way run to their end.
  void Finish() { finishing_ = true; }
  bool Idle() const {
    std::lock_guard lock(mu_);
    return std::none_of(apps_.begin(), apps_.end(), [](const App& a) { return a.pending; });
  }
  int completed() const {
    std::lock_guard lock(mu_);
    return completed_;
  }
  int started() const {
    std::lock_guard lock(mu_);
    return started_;
  }
  std::vector<std::string> problems() const {
    std::lock_guard lock(mu_);
    return problems_;
  }
  std::vector<double> durations() const {
    std::lock_guard lock(mu_);
    return durations_;
  }

 private:
  struct App {
    std::string name;
    int version = 1;
    bool pending = false;   // an image was set and its rollout has not ended
    bool began = false;     // the Canary took the new revision (lastAppliedSpec changed)
    bool overdue = false;
    std::string baseline;   // lastAppliedSpec when the image was set
    std::string revision;   // lastAppliedSpec of the rollout under way
    int status_weight = 0;  // highest seen while Progressing
    int route_weight = 0;
    SystemTime set_at;
  };

  static std::map<std::string, json> ByName(const std::optional<json>& list) {
    std::map<std::string, json> out;
    if (!list) return out;
    for (const auto& item : list->value("items", json::array())) out[item["metadata"].value("name", "")] = item;
    return out;
  }

  static int RouteWeight(const json& route, const std::string& backend) {
    for (const auto& rule : route["spec"].value("rules", json::array()))
      for (const auto& ref : rule.value("backendRefs", json::array()))
        if (ref.value("name", "") == backend) return ref.value("weight", 0);
    return -1;
  }

  void Problem(const App& a, const std::string& what) {
    problems_.push_back(a.name + " " + std::to_string(a.version) + ".0.0: " + what);
  }

  void Run() {
    while (!stop_) {
      // The Canaries first: routes and Deployments read after them are at least as new.
      auto canaries = ByName(GetJson(port_, "/apis/sluice.dev/v1beta1/namespaces/default/canaries"));
      auto routes = ByName(GetJson(port_, "/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes"));
      auto deployments = ByName(GetJson(port_, "/apis/apps/v1/namespaces/default/deployments"));
      std::vector<std::pair<std::string, int>> to_set;
      {
        std::lock_guard lock(mu_);
        for (App& a : apps_) {
          if (!canaries.count(a.name)) continue;
          const json status = canaries[a.name].value("status", json::object());
          std::string phase = status.value("phase", "");
          std::string applied = status.value("lastAppliedSpec", "");
          if (!a.pending) {
            if ((phase == "Initialized" || phase == "Succeeded" || phase == "Failed") && !finishing_) {
              a.pending = true;
              a.began = false;
              a.overdue = false;
              a.baseline = applied;
              a.status_weight = a.route_weight = 0;
              a.set_at = std::chrono::system_clock::now();
              ++a.version;
              ++started_;
              to_set.emplace_back(a.name, a.version);
            }
            continue;
          }
          if (!a.began) {
            if (applied == a.baseline) continue;
            a.began = true;
            a.revision = applied;
          }
          if (applied != a.revision) {
            Problem(a, "the Canary moved to another revision mid-rollout");
            a.revision = applied;
          }
          int route = routes.count(a.name) ? RouteWeight(routes[a.name], a.name + "-canary") : -1;
          if (phase == "Progressing") {
            int weight = status.value("canaryWeight", 0);
            if (weight < a.status_weight)
              Problem(a, "status weight moved back from " + std::to_string(a.status_weight) + " to " +
                             std::to_string(weight));
            if (route >= 0 && route < a.route_weight)
              Problem(a, "route weight moved back from " + std::to_string(a.route_weight) + " to " +
                             std::to_string(route));
            a.status_weight = std::max(a.status_weight, weight);
            a.route_weight = std::max(a.route_weight, route);
          } else if (phase == "Failed") {
            Problem(a, "Failed: " + status.dump());
            a.pending = false;
          } else if (phase == "Succeeded" && status.value("lastPromotedSpec", "") == a.revision) {
            std::string image;
            if (deployments.count(a.name + "-primary"))
              image = deployments[a.name + "-primary"]["spec"]["template"]["spec"]["containers"][0].value("image", "");
            std::string want = "ghcr.io/example/web:" + std::to_string(a.version) + ".0.0";
            if (image != want) Problem(a, "Succeeded with " + image + " on the primary");
            else if (route != 0) Problem(a, "Succeeded with route weight " + std::to_string(route) + " on the canary");
            else if (status.value("failedChecks", 0) != 0) Problem(a, "Succeeded with failed checks");
            else {
              ++completed_;
              durations_.push_back(Seconds(std::chrono::system_clock::now() - a.set_at));
            }
            a.pending = false;
          }
          if (a.pending && !a.overdue && std::chrono::system_clock::now() - a.set_at > std::chrono::seconds(120)) {
            a.overdue = true;
            Problem(a, "not ended 120 s after the image was set: " + status.dump());
          }
        }
      }
      for (const auto& [name, version] : to_set) {
        ProcessResult r = kubectl_({"set", "image", "deployment/" + name,
                                    "web=ghcr.io/example/web:" + std::to_string(version) + ".0.0"});
        if (r.exit_code != 0) {
          std::lock_guard lock(mu_);
          problems_.push_back(name + ": kubectl set image failed: " + r.Describe());
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  }

  uint16_t port_;
  const Kubectl& kubectl_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> finishing_{false};
  mutable std::mutex mu_;
  std::vector<App> apps_;
  int completed_ = 0;
  int started_ = 0;
  std::vector<std::string> problems_;
  std::vector<double> durations_;
  std::thread thread_;
};

// Nearest-rank percentile of a non-empty sample.
double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

std::string Figures(const std::vector<double>& v) {
  if (v.empty()) return "none";
  std::ostringstream s;
  s << std::fixed << std::setprecision(2);
  for (auto [label, p] : {std::pair{"p50", 0.5}, {"p90", 0.9}, {"max", 1.0}})
    s << (p == 0.5 ? "" : ", ") << label << " " << Percentile(v, p) << " s (" << Percentile(v, p) / kLeaseSeconds
      << " x lease)";
  return s.str();
}

// A write by one replica inside the term of a lease another replica holds: from the holder's
// renewTime (set before its write reached the API) for leaseDurationSeconds. No other replica
// may act within that: a candidate waits a whole lease duration after it first saw the record,
// which it cannot have seen before renewTime.
std::vector<std::string> DoubleWrites(const std::vector<WriterLog>& writers, const std::vector<LeaseRecord>& records,
                                      SystemTime origin) {
  std::vector<std::string> found;
  for (const WriterLog& w : writers)
    for (const RecordedWrite& write : w.writes) {
      if (IsLeaseWrite(write)) continue;
      for (const LeaseRecord& r : records) {
        if (r.holder.empty() || w.Holds(r.holder)) continue;
        auto end = r.renew + std::chrono::milliseconds(static_cast<int64_t>(r.duration * 1000));
        if (write.at >= r.renew && write.at < end) {
          std::ostringstream s;
          s << std::fixed << std::setprecision(3) << w.name << " (pid " << w.pid << ") " << write.method << " "
            << write.target << " at +" << Seconds(write.at - origin) << " s while " << r.holder
            << " held the lease from +"
            << Seconds(r.renew - origin) << " s";
          found.push_back(s.str());
          break;
        }
      }
    }
  return found;
}

}  // namespace

TEST_CASE("leader failover: SIGKILL of the leader 50 times during rollouts, time to a new leader, no double writes",
          "[.][failover]") {
  if (!HaveKubectl()) SLUICE_SKIP("kubectl is not installed");
  auto crds = CrdFixtureDir();
  if (!crds) SLUICE_SKIP("Gateway API CRDs not found: set SLUICE_CRD_DIR (docs/testing.md)");
  const int failovers = EnvInt("SLUICE_FAILOVERS", 50);
  const int seed = EnvInt("SLUICE_FAILOVER_SEED", 1);

  // A relink of build/sluice during the run must not change the replicas started later.
  TempDir bin;
  std::filesystem::copy_file(SLUICE_BINARY, bin.File("sluice"));
  std::filesystem::permissions(bin.File("sluice"), std::filesystem::perms::owner_all);
  const std::string binary = bin.File("sluice");

  SluiceCrdCluster cluster(*crds, "200");
  const Kubectl& k = cluster.kubectl();
  const std::string kubeconfig = ReadFile(cluster.emulator().kubeconfig());
  const uint16_t api = ServerPort(kubeconfig);
  for (int i = 0; i < kApps; ++i) k.Ok({"apply", "-f", "-"}, AppManifest(i, 1));

  const SystemTime origin = std::chrono::system_clock::now();
  LeaseWatch lease(api);
  int started = 0;
  auto start = [&] {
    auto r = std::make_unique<Replica>("r" + std::to_string(++started), binary, kubeconfig, api);
    INFO(r->Logs());
    REQUIRE(r->ops_port != 0);
    REQUIRE(WaitFor([&] { return HttpGet(r->ops_port, "/readyz").status == 200; }, std::chrono::seconds(20)));
    return r;
  };
  std::vector<std::unique_ptr<Replica>> replicas;
  replicas.push_back(start());
  replicas.push_back(start());
  std::vector<WriterLog> gone;
  auto retire = [&](std::unique_ptr<Replica>& r) {
    r->process->Stop();
    r->recorder->Stop();
    gone.push_back({r->name, r->pid, r->recorder->Writes(), r->recorder->unparsed()});
  };
  // The replica holding an unexpired lease, when one does.
  auto leader = [&]() -> Replica* {
    auto latest = lease.Latest();
    if (!latest || Seconds(std::chrono::system_clock::now() - latest->renew) > kRenewSeconds) return nullptr;
    for (auto& r : replicas)
      if (r->Holds(latest->holder)) return r.get();
    return nullptr;
  };
  REQUIRE(WaitFor([&] { return leader() != nullptr; }, std::chrono::seconds(30)));

  RolloutDriver driver(api, k);
  std::mt19937 rng(static_cast<uint32_t>(seed));
  std::uniform_int_distribution<int> pause_ms(1000, 4000);
  std::vector<double> to_leader, to_act, after_renewal;
  std::vector<std::string> failures;
  int exited_by_themselves = 0;
  std::cout << std::fixed << std::setprecision(2);
  for (int n = 1; n <= failovers; ++n) {
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(rng)));
    // A replica that lost its lease on its own (a loaded machine) exits 1: start it again.
    for (auto& r : replicas)
      if (!r->process->Running()) {
        ++exited_by_themselves;
        std::string logs = r->Logs();
        failures.push_back(r->name + " exited by itself:\n" + logs.substr(logs.size() > 3000 ? logs.size() - 3000 : 0));
        retire(r);
        r = start();
      }
    Replica* old_leader = nullptr;
    WaitFor([&] { return (old_leader = leader()) != nullptr; }, std::chrono::seconds(30));
    if (!old_leader) {
      failures.push_back("failover " + std::to_string(n) + ": no replica held the lease");
      break;
    }
    auto& slot = replicas[0].get() == old_leader ? replicas[0] : replicas[1];
    Replica& survivor = replicas[0].get() == old_leader ? *replicas[1] : *replicas[0];
    const std::string old_name = old_leader->name;
    const pid_t old_pid = old_leader->pid;
    SystemTime last_renewal{};
    const SystemTime killed = std::chrono::system_clock::now();
    ::kill(old_leader->pid, SIGKILL);
    retire(slot);

    std::optional<LeaseRecord> taken;
    WaitFor(
        [&] {
          for (const LeaseRecord& r : lease.Records())
            if (r.seen > killed && survivor.Holds(r.holder)) {
              taken = r;
              return true;
            }
          return false;
        },
        std::chrono::seconds(30));
    if (!taken) {
      failures.push_back("failover " + std::to_string(n) + ": " + survivor.name +
                         " did not take the lease within 30 s");
      break;
    }
    std::optional<SystemTime> acted;
    WaitFor(
        [&] {
          for (const RecordedWrite& w : survivor.recorder->Writes())
            if (w.at > taken->acquire && !IsLeaseWrite(w)) {
              acted = w.at;
              return true;
            }
          return false;
        },
        std::chrono::seconds(30));
    // The lease counts from the dead leader's last renewal, not from the kill: the takeover
    // may come sooner than a lease duration after the kill, never sooner after that renewal.
    for (const LeaseRecord& r : lease.Records())
      if (r.renew <= killed && IdentityOf(old_pid, r.holder)) last_renewal = r.renew;
    after_renewal.push_back(Seconds(taken->acquire - last_renewal));
    to_leader.push_back(Seconds(taken->acquire - killed));
    if (acted) to_act.push_back(Seconds(*acted - killed));
    else
      failures.push_back("failover " + std::to_string(n) + ": " + survivor.name +
                         " held the lease but wrote nothing for 30 s");
    std::cout << "failover " << n << ": killed " << old_name << " at +" << Seconds(killed - origin) << " s; "
              << survivor.name << " held the lease after " << to_leader.back() << " s, first write after "
              << (acted ? Seconds(*acted - killed) : -1.0) << " s" << std::endl;
    slot = start();  // the killed replica comes back as a new candidate
  }

  // Let the rollouts under way end, then stop recording before anything else moves.
  driver.Finish();
  bool settled = WaitFor([&] { return driver.Idle(); }, std::chrono::seconds(150));
  driver.Stop();
  lease.Stop();
  std::vector<WriterLog> writers = gone;
  int unparsed = 0;
  for (auto& r : replicas) {
    r->recorder->Stop();
    writers.push_back({r->name, r->pid, r->recorder->Writes(), r->recorder->unparsed()});
  }
  size_t writes = 0;
  for (const WriterLog& w : writers)
    writes += static_cast<size_t>(std::count_if(w.writes.begin(), w.writes.end(), std::not_fn(IsLeaseWrite)));
  auto records = lease.Records();
  std::vector<std::string> doubles = DoubleWrites(writers, records, origin);
  for (const WriterLog& w : writers) unparsed += w.unparsed;
  std::vector<std::string> problems = driver.problems();

  std::cout << "\nleader failover, lease " << kLeaseSeconds << " s, renew deadline " << kRenewSeconds
            << " s, retry period " << kRetrySeconds << " s, seed " << seed << "\n"
            << "  failovers: " << to_leader.size() << " of " << failovers << " (replicas that exited by themselves: "
            << exited_by_themselves << ")\n"
            << "  time to a new leader (kill to the survivor's acquireTime): " << Figures(to_leader) << "\n"
            << "  from the dead leader's last renewal to the takeover: " << Figures(after_renewal) << "\n"
            << "  time to its first write (kill to its first write other than the Lease): " << Figures(to_act) << "\n"
            << "  double writes found: " << doubles.size() << " (" << writes << " writes by " << writers.size()
            << " replicas against " << records.size() << " lease records)\n"
            << "  rollouts completed: " << driver.completed() << " of " << driver.started()
            << " started, problems: " << problems.size() << (settled ? "" : " (some still under way at the end)")
            << "\n";
  if (!driver.durations().empty())
    std::cout << "  rollout duration: p50 " << Percentile(driver.durations(), 0.5) << " s, max "
              << Percentile(driver.durations(), 1.0) << " s" << std::endl;
  for (const auto& d : doubles) std::cout << "  double write: " << d << "\n";
  for (const auto& p : problems) std::cout << "  rollout problem: " << p << "\n";
  for (const auto& f : failures) std::cout << "  failure: " << f << "\n";
  std::cout << std::flush;

  CHECK(failures.empty());
  CHECK(static_cast<int>(to_leader.size()) == failovers);
  CHECK(unparsed == 0);
  CHECK(doubles.empty());
  CHECK((after_renewal.empty() || Percentile(after_renewal, 0.0) >= kLeaseSeconds - 0.001));
  CHECK(problems.empty());
  CHECK(settled);
  CHECK(driver.completed() == driver.started());
}
