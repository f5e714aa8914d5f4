// `sluice controller`: runs the canary engine against a cluster (kubeconfig or in-cluster),
// with leader election, /metrics, /healthz and /readyz on one port, until SIGINT/SIGTERM.
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <random>
#include <string>

#include "analysis/alerts.h"
#include "analysis/metric_checks.h"
#include "analysis/webhooks.h"
#include "controller/canary/canary_controller.h"
#include "controller/gitops/artifact_store.h"
#include "controller/gitops/git_repository_controller.h"
#include "controller/gitops/receiver.h"
#include "controller/gitops/kustomization_controller.h"
#include "controller/canary/canary_metrics.h"
#include "controller/gitops/sync_metrics.h"
#include "kube/runtime/manager.h"

namespace sluice {

namespace asio = boost::asio;

namespace {

struct ControllerFlags {
  std::string kubeconfig;
  std::string context;
  std::string ns;
  std::string listen = "127.0.0.1:8080";
  bool leader_elect = true;
  std::string lease_namespace = "default";
  std::string lease_name = "sluice-controller";
  double lease_duration_s = 15;
  double renew_deadline_s = 10;
  double retry_period_s = 2;
  // An API still coming up (a cluster starting, a network blip) is waited for this long.
  double startup_timeout_s = 60;
  // Workers are coroutines waiting on the API, not threads: 16 keep 1,000 Canaries at a 10 s
  // interval within a second of schedule (tests/bench/canary_bench.cc, docs/canary.md).
  int workers = 16;
  std::string kustomize_path;  // "" = folders with a kustomization.yaml fail with a clear condition
  std::string log_format = "json";
  std::string cache_dir;  // GitRepository fetches and exported trees (default: DefaultCacheDir())
  std::string prometheus_address;  // for builtin metrics, inline queries and templates without one
  // A weight step costs a route write, a status write and an Event: 1,000 Canaries at a 10 s
  // interval need about 300 writes/s, so the default leaves room for that (docs/canary.md).
  double kube_api_qps = 300;
  int kube_api_burst = 600;
};

std::string Identity() {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  std::random_device rd;
  return std::string(host) + "-" + std::to_string(getpid()) + "-" + std::to_string(rd() % 100000);
}

void ConfigureLogging(const std::string& format) {
  // One JSON object per line: what log pipelines in a cluster expect.
  if (format == "json")
    spdlog::set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","logger":"sluice","msg":"%v"})",
                        spdlog::pattern_time_type::utc);
}

std::string DefaultCacheDir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  return xdg && *xdg ? std::string(xdg) + "/sluice" : "/tmp/sluice-cache";
}

kube::LeaderElectionConfig Lease(const ControllerFlags& flags) {
  kube::LeaderElectionConfig lc;
  lc.lease_namespace = flags.lease_namespace;
  lc.lease_name = flags.lease_name;
  lc.identity = Identity();
  lc.lease_duration = std::chrono::milliseconds(static_cast<int64_t>(flags.lease_duration_s * 1000));
  lc.renew_deadline = std::chrono::milliseconds(static_cast<int64_t>(flags.renew_deadline_s * 1000));
  lc.retry_period = std::chrono::milliseconds(static_cast<int64_t>(flags.retry_period_s * 1000));
  return lc;
}

// The canary engine: its reconciler with the analysis (webhook gates, metric checks, alerts).
std::shared_ptr<canary::CanaryController> CanaryEngine(const ControllerFlags& flags, asio::io_context& io,
                                                       const std::shared_ptr<kube::Client>& client,
                                                       const std::shared_ptr<kube::EventRecorder>& events,
                                                       kube::runtime::Manager& manager) {
  analysis::MetricCheckerOptions mo;
  mo.default_address = flags.prometheus_address;
  // Providers and their connections live on the controller's io executor, like the client.
  auto metric_checks = analysis::QueryMetricChecker::Create(io.get_executor(), mo);
  auto runner = analysis::ComposeAnalysis(analysis::MakeWebhookGates(), metric_checks, analysis::MakeAlertSender());
  canary::CanaryControllerOptions co;
  co.ns = flags.ns;
  co.workers = flags.workers;
  return canary::CanaryController::Create(client, events, runner, co,
                                          std::make_shared<canary::ControllerMetrics>(manager.registry()));
}

std::chrono::milliseconds Millis(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

kube::runtime::ManagerOptions Managing(const ControllerFlags& flags, asio::io_context& io,
                                       const kube::RestConfig& config) {
  // The start-up probes try once per call (no retries of their own) with a short deadline,
  // so the Manager sees each failure and keeps within --startup-timeout.
  auto probe_timeout = std::min(std::chrono::milliseconds(5000), Millis(flags.startup_timeout_s));
  auto probe = kube::MakeHttpClient(io.get_executor(), config,
                                    {.request_timeout = probe_timeout, .connect_timeout = probe_timeout, .max_retries = 0});
  return {.listen = flags.listen,
          .leader_elect = flags.leader_elect,
          .lease = Lease(flags),
          .startup_timeout = Millis(flags.startup_timeout_s),
          .probe_client = probe};
}

int RunController(const ControllerFlags& flags) {
  ConfigureLogging(flags.log_format);
  kube::RestConfig config;
  try {
    config = kube::LoadDefaultConfig({flags.kubeconfig, flags.context, flags.ns});
  } catch (const std::exception& e) {
    spdlog::error("cannot load the cluster config: {}", e.what());
    return 1;
  }
  asio::io_context io;
  auto client = kube::MakeHttpClient(io.get_executor(), config,
                                     {.qps = flags.kube_api_qps, .burst = flags.kube_api_burst});
  auto events = kube::EventRecorder::Create(client, {.component = "sluice"});
  kube::runtime::Manager manager(io, client, Managing(flags, io, config));

  manager.Add(CanaryEngine(flags, io, client, events, manager),
              {.required = true,
               .hint = "apply crds/",
               .kinds = {{"sluice.dev/v1beta1", "Canary"}, {"apps/v1", "Deployment"}}});
  // The GitRepository reconciler publishes checked-out revisions here; the syncs apply them.
  auto artifacts = std::make_shared<gitops::ArtifactStore>();
  gitops::KustomizationControllerOptions kso;
  kso.ns = flags.ns;
  kso.workers = flags.workers;
  kso.kustomize_path = flags.kustomize_path;
  kso.metrics = std::make_shared<gitops::SyncMetrics>(manager.registry());
  // Without the GitOps CRDs these are not started and the log says so; the canary engine runs on.
  manager.Add(gitops::KustomizationController::Create(client, events, artifacts, kso),
              {.hint = "is crds/sluice.dev_kustomizations.yaml applied?",
               .kinds = {{"sluice.dev/v1beta1", "Kustomization"}}});
  gitops::GitRepositoryControllerOptions gso;
  gso.ns = flags.ns;
  gso.cache_dir = flags.cache_dir.empty() ? DefaultCacheDir() : flags.cache_dir;
  manager.Add(gitops::GitRepositoryController::Create(client, events, artifacts, gso),
              {.hint = "is crds/sluice.dev_gitrepositories.yaml applied?",
               .kinds = {{"sluice.dev/v1beta1", "GitRepository"}}});
  // Webhooks reach any replica behind the Service, and a receiver only annotates the objects
  // to reconcile, so every replica serves the receivers, leader or not.
  auto receiver = gitops::ReceiverController::Create(client, events, {.ns = flags.ns, .metrics = manager.registry()});
  manager.Add(receiver, {.leader_only = false,
                         .hint = "is crds/sluice.dev_receivers.yaml applied?",
                         .kinds = {{"sluice.dev/v1beta1", "Receiver"}, {"v1", "Secret"}}});
  manager.AddRoute("/hook/", [receiver](const net::HttpRequest& req) { return receiver->Handle(req); });
  return manager.Run();
}

}  // namespace

CLI::App* RegisterControllerCommand(CLI::App& app, std::function<int()>& run) {
  auto flags = std::make_shared<ControllerFlags>();
  CLI::App* cmd = app.add_subcommand("controller", "Run the canary engine against a cluster");
  cmd->add_option("--kubeconfig", flags->kubeconfig, "kubeconfig file (default: KUBECONFIG, ~/.kube/config or in-cluster)");
  cmd->add_option("--context", flags->context, "kubeconfig context");
  cmd->add_option("-n,--namespace", flags->ns, "watch only this namespace (default: all)");
  cmd->add_option("--listen", flags->listen, "address of /metrics, /healthz and /readyz (port 0 = any free port)");
  cmd->add_option("--leader-elect", flags->leader_elect, "elect a leader among replicas through a Lease (default true)");
  cmd->add_option("--lease-namespace", flags->lease_namespace, "namespace of the leader-election Lease");
  cmd->add_option("--lease-name", flags->lease_name, "name of the leader-election Lease");
  cmd->add_option("--lease-duration", flags->lease_duration_s, "seconds a follower waits before taking an unrenewed lease");
  cmd->add_option("--renew-deadline", flags->renew_deadline_s, "seconds the leader tries to renew before giving up");
  cmd->add_option("--retry-period", flags->retry_period_s, "seconds between lease attempts");
  cmd->add_option("--startup-timeout", flags->startup_timeout_s,
                  "seconds to wait at start for an API that cannot be reached yet before exiting 1 (default 60)")
      ->check(CLI::Range(0.1, 86400.0));
  cmd->add_option("--workers", flags->workers, "concurrent reconciles per controller (coroutines on one thread)")
      ->check(CLI::Range(1, 256));
  cmd->add_option("--kustomize-path", flags->kustomize_path,
                  "kustomize binary for synced folders holding a kustomization.yaml (unset: they fail with reason KustomizeUnavailable)");
  cmd->add_option("--kube-api-qps", flags->kube_api_qps, "API requests per second the controller may send")
      ->check(CLI::Range(1.0, 100000.0));
  cmd->add_option("--kube-api-burst", flags->kube_api_burst, "API requests it may send at once above the rate")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--prometheus-address", flags->prometheus_address,
                  "Prometheus URL for builtin metrics, inline queries and MetricTemplates without an address");
  cmd->add_option("--log-format", flags->log_format, "json or text")->check(CLI::IsMember({"json", "text"}));
  cmd->add_option("--cache-dir", flags->cache_dir,
                  "where GitRepository fetches and checked-out revisions are kept (default: $XDG_CACHE_HOME/sluice, "
                  "else /tmp/sluice-cache)");
  run = [flags] { return RunController(*flags); };
  return cmd;
}

}  // namespace sluice
