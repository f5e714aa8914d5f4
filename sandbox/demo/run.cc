#include "sandbox/demo/run.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>

#include "sandbox/demo/delivery.h"
#include "sandbox/demo/process.h"
#include "sandbox/demo/prometheus.h"
#include "sandbox/demo/scenario.h"
#include "sandbox/demo/story.h"
#include "sandbox/demo/traffic.h"
#include "sandbox/demo/view.h"
#include "sandbox/demo/wait.h"
#include "core/yaml_json.h"
#include "sandbox/emulator/emulator.h"

namespace sluice::demo {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Paths {
  std::string examples, crds, fixtures;
};

Paths ResolvePaths(const SandboxOptions& o) {
  fs::path checkout = fs::path(SelfExecutable()).parent_path().parent_path();
  Paths p;
  p.examples = o.examples_dir.empty() ? (checkout / "examples" / "podinfo").string() : o.examples_dir;
  p.crds = o.crds_dir.empty() ? (checkout / "crds").string() : o.crds_dir;
  const char* env = std::getenv("SLUICE_CRD_DIR");
  p.fixtures = !o.fixture_crds_dir.empty() ? o.fixture_crds_dir
               : (env && *env)             ? std::string(env)
                                           : (checkout.parent_path() / "shared" / "fixtures" / "crds").string();
  if (!fs::exists(fs::path(p.crds) / "sluice.dev_canaries.yaml"))
    throw SandboxError("no Sluice CRDs in " + p.crds + " (expected sluice.dev_canaries.yaml; pass --crds DIR)");
  bool gateway = false;
  if (fs::is_directory(p.fixtures))
    for (const auto& e : fs::directory_iterator(p.fixtures))
      gateway = gateway || e.path().filename().string().find("httproutes") != std::string::npos;
  if (!gateway)
    throw SandboxError("no Gateway API CRDs in " + p.fixtures +
                       ": run scripts/fetch-crds.sh, or point SLUICE_CRD_DIR (or --fixture-crds) at them");
  return p;
}

void CheckPort(const std::string& host, uint16_t port, const std::string& what, const std::string& flag) {
  if (port != 0 && !PortFree(host, port))
    throw SandboxError("port " + std::to_string(port) + " on " + host + " is taken (wanted for " + what +
                       "): choose another with " + flag + ", or 0 for any free port");
}

std::string MakeWorkDir() {
  char tmpl[] = "/tmp/sluice-sandbox-XXXXXX";
  if (!mkdtemp(tmpl)) throw SandboxError("cannot create a work directory in /tmp");
  return tmpl;
}

// Everything the sandbox started, stopped in reverse order by the destructor.
struct Running {
  std::string workdir;
  bool keep_workdir = false;
  std::unique_ptr<sandbox::Emulator> emulator;
  std::unique_ptr<TrafficService> traffic;
  std::unique_ptr<ChildProcess> controller;
  std::unique_ptr<ChildProcess> prometheus;
  std::unique_ptr<ChildProcess> loadtester;
  std::string kubeconfig;
  std::string prometheus_url;
  std::string repo_dir;
  std::string loadtester_url;  // gate scenario

  ~Running() {
    if (controller) controller->Stop();
    if (prometheus) prometheus->Stop();
    if (loadtester) loadtester->Stop();
    if (traffic) traffic->Stop();
    if (emulator) emulator->Stop();
    std::error_code ec;
    if (!workdir.empty() && !keep_workdir) fs::remove_all(workdir, ec);
  }
};

bool ControllerHasFlag(const std::string& self, const std::string& flag) {
  std::string help;
  RunCommand({self, "controller", "--help"}, std::chrono::seconds(20), help);
  return help.find(flag) != std::string::npos;
}

// The Canary of the example app (namespace and name from canary.yaml).
std::pair<std::string, std::string> CanaryKey(const AppFiles& files) {
  for (const auto& doc : core::ParseYamlDocuments(files.at("canary.yaml")))
    if (doc.value("kind", "") == "Canary")
      return {doc["metadata"].value("namespace", "default"), doc["metadata"].value("name", "")};
  throw SandboxError("canary.yaml of the example app holds no Canary");
}

struct Context {
  const SandboxOptions& options;
  Paths paths;
  Running& run;
  RolloutView& view;
  std::ostream& out;
  bool scenario_passed = false;
  bool finished = false;
  int exit_code = 1;
};

void StartEmulator(Context& ctx) {
  sandbox::EmulatorOptions eo;
  eo.listen = ctx.options.listen_host + ":" + std::to_string(ctx.options.api_port);
  eo.kubeconfig_path = ctx.run.workdir + "/kubeconfig";
  eo.deployment_ready_delay = std::chrono::milliseconds(ctx.options.deployment_ready_delay_ms);
  ctx.run.emulator = std::make_unique<sandbox::Emulator>(eo);
  ctx.run.emulator->LoadCrdsFromDirectory(ctx.paths.crds);
  ctx.run.emulator->LoadCrdsFromDirectory(ctx.paths.fixtures);
  try {
    ctx.run.emulator->Start();
  } catch (const std::exception& e) {
    throw SandboxError(std::string("the API emulator cannot listen: ") + e.what());
  }
  ctx.run.kubeconfig = eo.kubeconfig_path;
}

asio::awaitable<void> StartController(Context& ctx, uint16_t metrics_port) {
  std::string self = SelfExecutable();
  std::vector<std::string> argv = {self, "controller", "--kubeconfig", ctx.run.kubeconfig,
                                   "--listen", ctx.options.listen_host + ":" + std::to_string(metrics_port),
                                   "--leader-elect=false", "--log-format", "text"};
  if (ControllerHasFlag(self, "--cache-dir")) argv.insert(argv.end(), {"--cache-dir", ctx.run.workdir + "/cache"});
  if (ControllerHasFlag(self, "--prometheus-address"))
    argv.insert(argv.end(), {"--prometheus-address", ctx.run.prometheus_url});
  else
    ctx.view.Note("note: this build's controller has no --prometheus-address: rollouts run without metric analysis");
  ctx.run.controller = ChildProcess::Start("sluice controller", argv, ctx.run.workdir + "/controller.log");
  std::string host = ctx.options.listen_host;
  std::string path = "/readyz";
  auto ready = WaitReady(host, metrics_port, path, *ctx.run.controller, std::chrono::seconds(30));
  co_await std::move(ready);
}

void PrintKeepInstructions(Context& ctx, const std::string& ns, const std::string& name) {
  ctx.out << "\nThe sandbox stays up. From another terminal:\n"
          << "  export KUBECONFIG=" << ctx.run.kubeconfig << " KUBECACHEDIR=$(mktemp -d)\n"
          << "  kubectl -n " << ns << " get canaries -w\n"
          << "  kubectl -n " << ns << " annotate canary " << name << " sluice.dev/abort=\"why\"   # abort a rollout\n"
          << "  Prometheus: " << ctx.run.prometheus_url << "  (try envoy_cluster_upstream_rq or sluice_canary_weight)\n"
          << "  the app's Git repository: " << ctx.run.repo_dir << "  (commit a change to deployment.yaml: a new rollout)\n"
          << (ctx.run.loadtester_url.empty()
                  ? std::string()
                  : "  open the promotion gate: curl -X POST '" + ctx.run.loadtester_url + "/gate/open?name=" + name +
                        "&namespace=" + ns + "'\n")
          << "  logs: " << ctx.run.workdir << "/{controller,prometheus}.log\n"
          << "Ctrl-C stops everything." << std::endl;
}

asio::awaitable<void> Main(Context& ctx, std::shared_ptr<kube::Client> client) {
  const Scenario* scenario = FindScenario(ctx.options.scenario);
  AppFiles base = LoadExampleApp(ctx.paths.examples, scenario->name);
  std::pair<std::string, std::string> key = CanaryKey(base);
  std::string ns = key.first;
  std::string name = key.second;

  TrafficServiceOptions to;
  to.ns = ns;
  to.canary = name;
  to.host = ctx.options.listen_host;
  to.port = ctx.options.traffic_port;
  ctx.run.traffic = std::make_unique<TrafficService>(client, to);
  try {
    ctx.run.traffic->Start();
  } catch (const std::exception& e) {
    throw SandboxError(std::string("the traffic simulator cannot listen: ") + e.what());
  }
  asio::co_spawn(client->executor(), ctx.run.traffic->Run([&ctx](const std::string& p) { ctx.view.Note(p); }),
                 asio::detached);

  uint16_t metrics_port = PickFreePort(ctx.options.listen_host);
  uint16_t prom_port = ctx.options.prometheus_port ? ctx.options.prometheus_port : PickFreePort(ctx.options.listen_host);
  ctx.run.prometheus_url = "http://" + ctx.options.listen_host + ":" + std::to_string(prom_port);
  std::string host = ctx.options.listen_host;
  ctx.run.prometheus = StartPrometheus(ctx.run.workdir, host, prom_port,
                                       {{"traffic", host + ":" + std::to_string(ctx.run.traffic->port())},
                                        {"sluice-controller", host + ":" + std::to_string(metrics_port)}});
  co_await StartController(ctx, metrics_port);
  std::string ready_path = "/-/ready";
  auto ready = WaitReady(host, prom_port, ready_path, *ctx.run.prometheus, std::chrono::seconds(60));
  co_await std::move(ready);
  size_t targets = 2;
  auto scraping = WaitScraping(ctx.run.prometheus_url, targets, std::chrono::seconds(60));
  co_await std::move(scraping);

  uint16_t loadtester_port = 0;
  if (scenario->loadtester) {
    loadtester_port = PickFreePort(host);
    std::string listen = host + ":" + std::to_string(loadtester_port);
    ctx.run.loadtester = ChildProcess::Start("sluice loadtester", {SelfExecutable(), "loadtester", "--listen", listen},
                                             ctx.run.workdir + "/loadtester.log");
    std::string health = "/healthz";
    auto up = WaitReady(host, loadtester_port, health, *ctx.run.loadtester, std::chrono::seconds(30));
    co_await std::move(up);
    base = Substitute(base, {{"SANDBOX_LOADTESTER", listen}});
    ctx.run.loadtester_url = "http://" + listen;
  }

  ctx.run.repo_dir = ctx.run.workdir + "/repo";
  DeliveryContext dc;
  dc.client = client;
  dc.repo_dir = ctx.run.repo_dir;
  dc.gitops = fs::exists(fs::path(ctx.paths.crds) / "sluice.dev_gitrepositories.yaml") &&
              fs::exists(fs::path(ctx.paths.crds) / "sluice.dev_kustomizations.yaml");
  auto delivery = MakeAppDelivery(dc);
  ctx.out << "sluice sandbox: scenario " << scenario->name << ": " << scenario->description << "\n"
          << "  Kubernetes API  " << ctx.run.emulator->server_url() << "  (kubeconfig " << ctx.run.kubeconfig << ")\n"
          << "  Prometheus      " << ctx.run.prometheus_url << "\n"
          << "  traffic         http://" << host << ":" << ctx.run.traffic->port() << "/metrics (100 requests/s)\n"
          << "  controller      pid " << ctx.run.controller->pid() << ", metrics http://" << host << ":" << metrics_port
          << "/metrics\n"
          << "  prometheus      pid " << ctx.run.prometheus->pid() << "\n"
          << (ctx.run.loadtester ? "  loadtester      http://" + host + ":" + std::to_string(loadtester_port) + " (gates)\n"
                                 : std::string())
          << "  work dir        " << ctx.run.workdir << "\n"
          << "  delivery        " << delivery->Describe() << std::endl;

  Story story(client, ctx.view, ns, name, ctx.options.step_timeout);
  co_await story.Init();
  bool ok = true;
  std::string released_over;  // the revision the last release replaced
  for (const auto& step : scenario->steps) {
    std::string before = co_await story.Revision();
    ctx.view.Headline(step.headline);
    if (step.kind == ScenarioStep::Kind::kRelease) {
      released_over = before;
      auto deliver = delivery->Deliver(AtVersion(base, step.version), step.version.summary);
      std::string revision = co_await std::move(deliver);
      if (delivery->SyncName().empty()) {
        ctx.view.Note("committed and applied " + revision.substr(0, 12) + " \"" + step.version.summary + "\"");
        ctx.run.traffic->SetSyncRevision(ns, "sandbox-apply", revision);
      } else {
        ctx.view.Note("committed \"" + step.version.summary + "\"; Kustomization " + delivery->SyncName() +
                      " applied " + revision);
        // The controller exports sluice_sync_revision_info for Kustomizations itself.
      }
      if (step.expect_phase.empty()) continue;
      ok = co_await story.WaitFor(before, step.expect_phase, step.expect_reason);
    } else if (step.kind == ScenarioStep::Kind::kOpenGate) {
      ok = co_await story.OpenGate(host, loadtester_port);
      std::string current_revision;
      if (ok) ok = co_await story.WaitFor(current_revision, step.expect_phase, step.expect_reason);
    } else {
      // The abort concerns the rollout the previous step started.
      ok = co_await story.Abort(released_over);
      std::string any_revision;
      if (ok) ok = co_await story.WaitFor(any_revision, step.expect_phase, step.expect_reason);
    }
    if (!ok) break;
  }
  ctx.scenario_passed = ok;
  ctx.exit_code = ok ? 0 : 1;
  ctx.view.Headline(std::string("scenario ") + scenario->name + (ok ? ": every step reached its outcome" : ": FAILED"));
  if (!ctx.options.keep) {
    if (ok) ctx.out << "(run with --keep to stay up and explore: kubectl, Prometheus, kubectl annotate)" << std::endl;
    ctx.finished = true;
    co_return;
  }
  PrintKeepInstructions(ctx, ns, name);
  for (;;) {
    co_await story.Observe();
    co_await Sleep(std::chrono::milliseconds(1000));
  }
}

}  // namespace

int RunSandbox(const SandboxOptions& options) {
  std::ostream& out = std::cout;
  if (!FindScenario(options.scenario)) {
    std::cerr << "sluice sandbox: unknown scenario \"" << options.scenario << "\"; choose one of:";
    for (const auto& n : ScenarioNames()) std::cerr << " " << n;
    std::cerr << std::endl;
    return 2;
  }
  // The controller and Prometheus log to files; the terminal belongs to the view.
  spdlog::set_level(spdlog::level::warn);
  bool fancy = !options.headless && isatty(STDOUT_FILENO);
  RolloutView view(out, fancy);
  Running run;
  std::optional<Context> ctx;
  asio::io_context io;
  // Installed before anything starts so Ctrl-C during start-up also cleans up.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  int signal_received = 0;
  try {
    ctx.emplace(Context{options, ResolvePaths(options), run, view, out});
    if (FindOnPath("prometheus").empty())
      throw SandboxError(
          "Prometheus is not installed (no `prometheus` on PATH): install Debian's package with "
          "`sudo apt-get install prometheus` (scripts/install-deps.sh does it)");
    CheckPort(options.listen_host, options.api_port, "the API emulator", "--api-port");
    CheckPort(options.listen_host, options.prometheus_port, "Prometheus", "--prometheus-port");
    CheckPort(options.listen_host, options.traffic_port, "the traffic simulator", "--traffic-port");
    run.workdir = MakeWorkDir();
    run.keep_workdir = options.keep;
    StartEmulator(*ctx);
  } catch (const std::exception& e) {
    std::cerr << "sluice sandbox: " << e.what() << std::endl;
    return 1;
  }
  auto client = kube::MakeHttpClient(io.get_executor(), kube::ParseKubeconfig(run.emulator->KubeconfigYaml()));
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    signal_received = sig;
    io.stop();
  });
  std::string failure;
  asio::co_spawn(io, Main(*ctx, client), [&](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        failure = ex.what();
      }
    }
    io.stop();
  });
  io.run();
  if (signal_received) out << "\nsluice sandbox: " << (signal_received == SIGINT ? "SIGINT" : "SIGTERM") << ", stopping everything" << std::endl;
  if (!failure.empty()) std::cerr << "sluice sandbox: " << failure << std::endl;
  if (options.keep) out << "kept the work dir " << run.workdir << std::endl;
  int code = !failure.empty() ? 1 : signal_received ? (ctx->scenario_passed ? 0 : 130) : ctx->exit_code;
  return code;
}

}  // namespace sluice::demo
