// `sluice sandbox` as a user runs it: the default scenario ends with one promotion then one
// rollback; Ctrl-C stops every process it started; without --keep its work dir goes too;
// bad input ends with a clear message.
#include <catch2/catch.hpp>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <optional>
#include <algorithm>
#include <regex>
#include <sstream>
#include <thread>

#include "sandbox/demo/app.h"
#include "sandbox/demo/prometheus.h"
#include "sandbox/demo/view.h"
#include "tests/support/fixtures.h"
#include "tests/support/process.h"
#include "tests/support/skip.h"

using sluice::testing::ReadFile;
using sluice::testing::TempDir;

namespace {

// The sandbox as a child whose exit status the test reads and to which it sends SIGINT.
class SandboxRun {
 public:
  explicit SandboxRun(std::vector<std::string> args, const std::string& path_env = "") {
    out_ = dir_.File("out.txt");
    args.insert(args.begin(), {SLUICE_BINARY, "sandbox", "--headless"});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int fd = open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      if (!path_env.empty()) setenv("PATH", path_env.c_str(), 1);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(fd);
  }
  ~SandboxRun() {
    if (!exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  std::string Output() const { return ReadFile(out_); }
  bool WaitForOutput(const std::string& text, std::chrono::seconds deadline) {
    return sluice::testing::WaitFor([&] { return Output().find(text) != std::string::npos || !Running(); }, deadline) &&
           Output().find(text) != std::string::npos;
  }
  bool Running() {
    if (exited_) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    return !exited_;
  }
  // The exit code, or nullopt if it still runs after the deadline.
  std::optional<int> Wait(std::chrono::seconds deadline) {
    sluice::testing::WaitFor([&] { return !Running(); }, deadline);
    return exited_ ? std::optional<int>(code_) : std::nullopt;
  }
  void Signal(int sig) { kill(pid_, sig); }

  // "controller      pid 123" and "prometheus      pid 456" as the sandbox prints them.
  std::vector<pid_t> ChildPids() const {
    std::vector<pid_t> pids;
    std::string out = Output();
    std::regex re(R"((controller|prometheus) +pid (\d+))");
    for (auto it = std::sregex_iterator(out.begin(), out.end(), re); it != std::sregex_iterator(); ++it)
      pids.push_back(std::stoi((*it)[2].str()));
    return pids;
  }
  std::string WorkDir() const {
    std::smatch m;
    std::string out = Output();
    return std::regex_search(out, m, std::regex(R"(work dir +(\S+))")) ? m[1].str() : "";
  }

 private:
  TempDir dir_;
  std::string out_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int code_ = -1;
};

bool Gone(pid_t pid) {
  // Each child led a process group of its own: nothing of the group may remain.
  return sluice::testing::WaitFor([&] { return kill(pid, 0) != 0 && errno == ESRCH && kill(-pid, 0) != 0; },
                                  std::chrono::seconds(10));
}

bool Prerequisites() { return access("/usr/bin/prometheus", X_OK) == 0 && sluice::testing::CrdFixtureDir(); }

}  // namespace

TEST_CASE("sandbox default scenario ends with a promotion then a rollback and --keep stays up until SIGINT stops all",
          "[e2e][sandbox]") {
  if (!Prerequisites()) SLUICE_SKIP("needs Debian's prometheus and the Gateway API CRD fixtures");
  SandboxRun run({"--scenario", "default", "--keep"});
  REQUIRE(run.WaitForOutput("The sandbox stays up", std::chrono::seconds(150)));
  std::string out = run.Output();
  INFO(out);
  auto promoted = out.find("==> promoted in");
  auto rolled_back = out.find("==> rolled back in");
  REQUIRE(promoted != std::string::npos);
  REQUIRE(rolled_back != std::string::npos);
  CHECK(promoted < rolled_back);
  CHECK(out.find("every step reached its outcome") != std::string::npos);
  CHECK(out.find("kubectl -n demo annotate canary podinfo sluice.dev/abort=") != std::string::npos);
  CHECK(out.find("Prometheus: http://127.0.0.1:") != std::string::npos);
  std::string workdir = run.WorkDir();
  REQUIRE(std::filesystem::exists(workdir + "/kubeconfig"));
  // The kubeconfig it prints works with the real kubectl.
  auto get = sluice::testing::Run({"kubectl", "--kubeconfig", workdir + "/kubeconfig", "-n", "demo", "get", "canary",
                                   "podinfo", "-o", "jsonpath={.status.phase}"},
                                  {{"KUBECACHEDIR", workdir + "/kubecache"}}, std::chrono::seconds(30));
  CHECK(get.out == "Failed");
  auto pids = run.ChildPids();
  REQUIRE(pids.size() == 2);

  run.Signal(SIGINT);
  auto code = run.Wait(std::chrono::seconds(30));
  REQUIRE(code);
  CHECK(*code == 0);
  for (pid_t pid : pids) CHECK(Gone(pid));
  CHECK(std::filesystem::exists(workdir));  // --keep keeps the work dir (logs, the Git repo)
  std::filesystem::remove_all(workdir);
}

TEST_CASE("sandbox abort scenario without --keep exits 0 and leaves nothing behind", "[e2e][sandbox]") {
  if (!Prerequisites()) SLUICE_SKIP("needs Debian's prometheus and the Gateway API CRD fixtures");
  SandboxRun run({"--scenario", "abort"});
  auto code = run.Wait(std::chrono::seconds(120));
  std::string out = run.Output();
  INFO(out);
  REQUIRE(code);
  CHECK(*code == 0);
  CHECK(out.find("==> rolled back in") != std::string::npos);
  CHECK(out.find("(Aborted)") != std::string::npos);
  for (pid_t pid : run.ChildPids()) CHECK(Gone(pid));
  std::string workdir = run.WorkDir();
  REQUIRE_FALSE(workdir.empty());
  CHECK_FALSE(std::filesystem::exists(workdir));
}

TEST_CASE("sandbox SIGTERM during a rollout stops everything and removes the work dir", "[e2e][sandbox]") {
  if (!Prerequisites()) SLUICE_SKIP("needs Debian's prometheus and the Gateway API CRD fixtures");
  SandboxRun run({"--scenario", "default"});
  REQUIRE(run.WaitForOutput("commit podinfo 6.5.1", std::chrono::seconds(60)));
  auto pids = run.ChildPids();
  std::string workdir = run.WorkDir();
  run.Signal(SIGTERM);
  auto code = run.Wait(std::chrono::seconds(30));
  INFO(run.Output());
  REQUIRE(code);
  CHECK(*code == 130);  // interrupted before the scenario reached its outcomes
  CHECK(run.Output().find("SIGTERM, stopping everything") != std::string::npos);
  REQUIRE(pids.size() == 2);
  for (pid_t pid : pids) CHECK(Gone(pid));
  CHECK_FALSE(std::filesystem::exists(workdir));
}

TEST_CASE("sandbox bad input: each a clear message and a clean exit", "[e2e][sandbox]") {
  SECTION("a scenario that does not exist") {
    SandboxRun run({"--scenario", "chaos"});
    auto code = run.Wait(std::chrono::seconds(20));
    REQUIRE(code);
    CHECK(*code == 2);
    CHECK_THAT(run.Output(), Catch::Contains("unknown scenario \"chaos\"") && Catch::Contains("default abort ab bluegreen"));
  }
  SECTION("Prometheus missing") {
    if (!sluice::testing::CrdFixtureDir()) SLUICE_SKIP("needs the Gateway API CRD fixtures");
    TempDir empty;
    SandboxRun run({}, empty.path());
    auto code = run.Wait(std::chrono::seconds(20));
    REQUIRE(code);
    CHECK(*code == 1);
    CHECK_THAT(run.Output(), Catch::Contains("Prometheus is not installed") && Catch::Contains("apt-get install prometheus"));
  }
  SECTION("a port already taken") {
    if (!Prerequisites()) SLUICE_SKIP("needs Debian's prometheus and the Gateway API CRD fixtures");
    // Hold a port the way another program would: bound and listening.
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = 0;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(listen(fd, 1) == 0);
    socklen_t len = sizeof addr;
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    uint16_t port = ntohs(addr.sin_port);
    SandboxRun run({"--prometheus-port", std::to_string(port)});
    auto code = run.Wait(std::chrono::seconds(20));
    REQUIRE(code);
    CHECK(*code == 1);
    CHECK_THAT(run.Output(), Catch::Contains("port " + std::to_string(port) + " on 127.0.0.1 is taken") &&
                                 Catch::Contains("--prometheus-port"));
    close(fd);
  }
}

// The pieces of the sandbox that need no processes: what the terminal shows, the example
// app's versions, the Prometheus config.
using nlohmann::json;
namespace sbx = sluice::demo;

namespace {

json CanaryWith(const std::string& phase, int weight, json metrics) {
  return {{"spec",
           {{"analysis",
             {{"threshold", 3},
              {"metrics",
               {{{"name", "request-success-rate"}, {"thresholdRange", {{"min", 99}}}},
                {{"name", "request-duration"}, {"thresholdRange", {{"max", 500}}}}}}}}}},
          {"status", {{"phase", phase}, {"canaryWeight", weight}, {"failedChecks", 1}, {"metrics", metrics}}}};
}

json Event(const std::string& uid, int count, const std::string& name, const std::string& reason) {
  return {{"metadata", {{"uid", uid}}},
          {"involvedObject", {{"kind", "Canary"}, {"name", name}}},
          {"type", "Normal"},
          {"reason", reason},
          {"message", reason + " message"},
          {"count", count},
          {"lastTimestamp", "2026-01-01T00:00:0" + std::to_string(count) + "Z"}};
}

}  // namespace

TEST_CASE("sandbox view shows the weight bar and metrics against thresholds in one line per change", "[e2e][sandbox][view]") {
  CHECK(sbx::WeightBar(40, 10, false) == "[####......]");
  CHECK(sbx::WeightBar(0, 4, false) == "[....]");
  CHECK(sbx::WeightBar(150, 4, false) == "[####]");

  json metrics = {{{"name", "request-success-rate"}, {"value", 99.5}, {"verdict", "Pass"}},
                  {{"name", "request-duration"}, {"verdict", "NoData"}}};
  json canary = CanaryWith("Progressing", 40, metrics);
  CHECK(sbx::MetricsSummary(canary) == "request-success-rate 99.5 (min 99) Pass | request-duration - (max 500) NoData");
  std::string line = sbx::StatusLine(canary, false);
  CHECK_THAT(line, Catch::StartsWith("Progressing ") && Catch::Contains("[########............]  40%") &&
                       Catch::Contains("failed checks 1/3") && Catch::Contains("(min 99) Pass"));

  std::ostringstream out;
  sbx::RolloutView view(out, false);
  view.ShowCanary(canary);
  view.ShowCanary(canary);  // unchanged: nothing new
  view.ShowCanary(CanaryWith("Failed", 0, metrics));
  std::string text = out.str();
  CHECK(std::count(text.begin(), text.end(), '\n') == 2);
  CHECK_THAT(text, Catch::Contains("Failed "));

  std::ostringstream ev;
  sbx::RolloutView events(ev, false);
  json list = {{"items", {Event("a", 1, "podinfo", "Progressing"), Event("b", 1, "other", "Progressing")}}};
  events.ShowEvents(list, "podinfo");
  events.ShowEvents(list, "podinfo");  // seen already
  list["items"][0]["count"] = 2;       // the recorder counted it again
  events.ShowEvents(list, "podinfo");
  std::string etext = ev.str();
  CHECK(std::count(etext.begin(), etext.end(), '\n') == 2);
  CHECK_THAT(etext, Catch::Contains("event Normal Progressing: Progressing message"));
  CHECK(etext.find("other") == std::string::npos);
}

TEST_CASE("sandbox example app has versions and scenarios and applies Namespaces first", "[e2e][sandbox][app]") {
  std::string dir = std::string(SLUICE_SOURCE_DIR) + "/examples/podinfo";
  sbx::AppFiles files = sbx::LoadExampleApp(dir, "default");
  CHECK(files.count("kustomization.yaml") == 0);
  REQUIRE(files.count("deployment.yaml") == 1);
  sbx::AppVersion v{"9.9.9", "0.3", "p50=30,p99=120", "faulty"};
  std::string d = sbx::AtVersion(files, v).at("deployment.yaml");
  CHECK_THAT(d, Catch::Contains("image: ghcr.io/stefanprodan/podinfo:9.9.9\n") &&
                    Catch::Contains("sandbox.sluice.dev/error-rate: \"0.3\"\n") &&
                    Catch::Contains("sandbox.sluice.dev/latency-ms: \"p50=30,p99=120\"\n"));
  CHECK_THROWS_WITH(sbx::SetDeploymentVersion("kind: Deployment\n", v),
                    Catch::Contains("deployment.yaml: no line `image: <name>:<tag>`"));

  std::vector<json> docs = sbx::Manifests(files);
  REQUIRE_FALSE(docs.empty());
  CHECK(docs.front()["kind"] == "Namespace");

  CHECK_THAT(sbx::LoadExampleApp(dir, "bluegreen").at("canary.yaml"), Catch::Contains("provider: kubernetes"));
  auto gate = sbx::Substitute(sbx::LoadExampleApp(dir, "gate"), {{"SANDBOX_LOADTESTER", "127.0.0.1:1234"}});
  CHECK_THAT(gate.at("canary.yaml"), Catch::Contains("url: http://127.0.0.1:1234/gate/check"));
  CHECK_THROWS_WITH(sbx::LoadExampleApp("/nonexistent", "default"), Catch::Contains("no example app in /nonexistent"));
}

TEST_CASE("sandbox Prometheus config scrapes each target every second", "[e2e][sandbox][prometheus]") {
  std::string config = sbx::PrometheusConfig({{"traffic", "127.0.0.1:1000"}, {"sluice-controller", "127.0.0.1:2000"}});
  CHECK_THAT(config, Catch::Contains("scrape_interval: 1s") && Catch::Contains("job_name: traffic") &&
                         Catch::Contains("targets: ['127.0.0.1:1000']") && Catch::Contains("targets: ['127.0.0.1:2000']"));
  if (access("/usr/bin/promtool", X_OK) != 0) return;
  TempDir dir;
  dir.Write("prometheus.yml", config);
  auto r = sluice::testing::Run({"promtool", "check", "config", dir.File("prometheus.yml")});
  CHECK(r.exit_code == 0);
}
