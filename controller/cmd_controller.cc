// `sluice controller`: runs the canary engine against a cluster (kubeconfig or in-cluster),
// with leader election, /metrics, /healthz and /readyz on one port, until SIGINT/SIGTERM.
#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <memory>
#include <random>
#include <string>

#include "analysis/alerts.h"
#include "analysis/metric_checks.h"
#include "analysis/webhooks.h"
#include "controller/canary_controller.h"
#include "controller/gitops/artifact_store.h"
#include "controller/gitops/git_repository_controller.h"
#include "controller/gitops/receiver.h"
#include "controller/gitops/kustomization_controller.h"
#include "controller/metrics.h"
#include "kube/leader_election.h"
#include "sandbox/http_server.h"

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

// More endpoints on the operations port: a path starting with `prefix` goes to `handler`
// (the webhook receiver's /hook/), and `metrics` texts are appended to /metrics.
struct OpsRoutes {
  std::vector<std::pair<std::string, sandbox::HttpServer::Handler>> prefixes;
  std::vector<std::function<std::string()>> metrics;
};

std::unique_ptr<sandbox::HttpServer> ServeOperations(const std::string& listen,
                                                     std::shared_ptr<controller::ControllerMetrics> metrics,
                                                     std::function<bool()> ready, OpsRoutes routes = {}) {
  auto colon = listen.rfind(':');
  sandbox::HttpServerOptions o;
  o.host = listen.substr(0, colon);
  o.port = static_cast<uint16_t>(std::stoi(listen.substr(colon + 1)));
  auto server = std::make_unique<sandbox::HttpServer>(o, [metrics, ready, routes](const sandbox::HttpRequest& req) {
    for (const auto& [prefix, handler] : routes.prefixes)
      if (req.path.rfind(prefix, 0) == 0) return handler(req);
    sandbox::HttpResponse r;
    r.content_type = "text/plain; charset=utf-8";
    if (req.path == "/metrics") {
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      r.body = metrics->Serialize();
      for (const auto& more : routes.metrics) r.body += more();
    } else if (req.path == "/healthz" || req.path == "/livez") {
      r.body = "ok";
    } else if (req.path == "/readyz") {
      bool ok = ready();
      r.status = ok ? 200 : 503;
      r.body = ok ? "ok" : "caches not synced";
    } else {
      r.status = 404;
      r.body = "not found";
    }
    return r;
  });
  server->Start();
  return server;
}

int RunController(const ControllerFlags& flags) {
  ConfigureLogging(flags.log_format);
  kube::KubeconfigOptions ko{flags.kubeconfig, flags.context, flags.ns};
  kube::RestConfig config;
  try {
    config = kube::LoadDefaultConfig(ko);
  } catch (const std::exception& e) {
    spdlog::error("cannot load the cluster config: {}", e.what());
    return 1;
  }
  asio::io_context io;
  kube::ClientOptions client_options;
  client_options.qps = flags.kube_api_qps;
  client_options.burst = flags.kube_api_burst;
  auto client = kube::MakeHttpClient(io.get_executor(), config, client_options);
  auto metrics = std::make_shared<controller::ControllerMetrics>();
  kube::EventRecorderOptions eo;
  eo.component = "sluice";
  auto events = kube::EventRecorder::Create(client, eo);
  controller::CanaryControllerOptions co;
  co.ns = flags.ns;
  co.workers = flags.workers;
  analysis::MetricCheckerOptions mo;
  mo.default_address = flags.prometheus_address;
  // Providers and their connections live on the controller's io executor, like the client.
  auto metric_checks = analysis::PrometheusMetricChecker::Create(io.get_executor(), mo);
  auto analysis_runner = controller::ComposeAnalysis(analysis::MakeWebhookGates(), metric_checks,
                                                      analysis::MakeAlertSender());
  auto canaries = controller::CanaryController::Create(client, events, analysis_runner, co, metrics);
  // The GitRepository reconciler publishes checked-out revisions here; the syncs apply them.
  auto artifacts = std::make_shared<gitops::ArtifactStore>();
  gitops::KustomizationControllerOptions kso;
  kso.ns = flags.ns;
  kso.workers = flags.workers;
  kso.kustomize_path = flags.kustomize_path;
  auto sync_metrics = std::make_shared<gitops::SyncMetrics>();
  kso.metrics = sync_metrics;
  auto syncs = gitops::KustomizationController::Create(client, events, artifacts, kso);
  gitops::GitRepositoryControllerOptions gso;
  gso.ns = flags.ns;
  gso.cache_dir = flags.cache_dir.empty() ? DefaultCacheDir() : flags.cache_dir;
  auto sources = gitops::GitRepositoryController::Create(client, events, artifacts, gso);
  gitops::ReceiverOptions ro;
  ro.ns = flags.ns;
  auto receiver = gitops::ReceiverController::Create(client, events, ro);
  OpsRoutes ops_routes;
  ops_routes.prefixes.emplace_back("/hook/", [receiver](const sandbox::HttpRequest& req) { return receiver->Handle(req); });
  ops_routes.metrics.push_back([receiver] { return receiver->SerializeMetrics(); });
  ops_routes.metrics.push_back([sync_metrics] { return sync_metrics->Serialize(); });
  auto leading = std::make_shared<std::atomic<bool>>(false);
  std::unique_ptr<sandbox::HttpServer> ops;
  try {
    // A follower is ready: it serves /metrics and stands by to take the lease. The leader is
    // ready once its caches are synced.
    ops = ServeOperations(flags.listen, metrics, [canaries, leading] { return !*leading || canaries->Synced(); }, ops_routes);
  } catch (const std::exception& e) {
    spdlog::error("cannot serve {}: {}", flags.listen, e.what());
    return 1;
  }
  spdlog::info("serving /metrics, /healthz and /readyz on {}:{}", flags.listen.substr(0, flags.listen.rfind(':')), ops->port());

  auto start = [&] {
    *leading = true;
    metrics->SetLeader(true);
    asio::co_spawn(io, canaries->Run(), [&](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("canary controller stopped: {}", ex.what());
      }
      io.stop();
    });
    // Without the Kustomization CRD the syncs stop and say so; the canary engine runs on.
    asio::co_spawn(io, syncs->Run(), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("kustomization controller stopped (is crds/sluice.dev_kustomizations.yaml applied?): {}", ex.what());
      }
    });
    asio::co_spawn(io, sources->Run(), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("git repository controller stopped (is crds/sluice.dev_gitrepositories.yaml applied?): {}", ex.what());
      }
    });
  };
  // Webhooks reach any replica behind the Service, and a receiver only annotates the objects
  // to reconcile, so every replica serves the receivers, leader or not.
  asio::co_spawn(io, receiver->Run(), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("receiver controller stopped (is crds/sluice.dev_receivers.yaml applied?): {}", ex.what());
    }
  });
  std::shared_ptr<kube::LeaderElector> elector;
  if (flags.leader_elect) {
    kube::LeaderElectionConfig lc;
    lc.lease_namespace = flags.lease_namespace;
    lc.lease_name = flags.lease_name;
    lc.identity = Identity();
    lc.lease_duration = std::chrono::milliseconds(static_cast<int64_t>(flags.lease_duration_s * 1000));
    lc.renew_deadline = std::chrono::milliseconds(static_cast<int64_t>(flags.renew_deadline_s * 1000));
    lc.retry_period = std::chrono::milliseconds(static_cast<int64_t>(flags.retry_period_s * 1000));
    lc.on_started_leading = start;
    // Losing the lease mid-reconcile: stop at once; the next leader resumes from status.
    lc.on_stopped_leading = [&] {
      spdlog::warn("lost the leader lease; stopping");
      metrics->SetLeader(false);
      io.stop();
    };
    lc.on_new_leader = [](const std::string& id) { spdlog::info("leader is {}", id); };
    elector = kube::LeaderElector::Create(client, lc);
    elector->Start();
  } else {
    start();
  }
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) {
    spdlog::info("stopping");
    canaries->Stop();
    syncs->Stop();
    sources->Stop();
    receiver->Stop();
    if (elector) elector->Stop();
    // Give the lease release a moment, then leave.
    auto timer = std::make_shared<asio::steady_timer>(io, std::chrono::seconds(2));
    timer->async_wait([&io, timer](const boost::system::error_code&) { io.stop(); });
  });
  io.run();
  ops->Stop();
  return 0;
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
