#include "kube/runtime/manager.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>

#include "core/api_error.h"
#include "core/backoff.h"
#include "kube/runtime/metrics.h"

namespace sluice::kube::runtime {

namespace asio = boost::asio;

namespace {

// The start-up check cannot pass by waiting (a required kind not served, credentials
// refused): the process stops at once.
class StartupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::string Seconds(std::chrono::milliseconds d) { return fmt::format("{:g}s", static_cast<double>(d.count()) / 1000); }

}  // namespace

Manager::Manager(asio::io_context& io, std::shared_ptr<Client> client, ManagerOptions options)
    : io_(io), client_(std::move(client)), options_(std::move(options)), registry_(NewMetricsRegistry()) {
  leader_gauge_ = &prometheus::BuildGauge()
                       .Name("sluice_leader")
                       .Help("1 while this replica leads")
                       .Register(*registry_)
                       .Add({});
}

Manager::~Manager() {
  if (ops_) ops_->Stop();
}

void Manager::Add(std::shared_ptr<Runnable> runnable, RunnableOptions options) {
  entries_.push_back({std::move(runnable), std::move(options)});
}

void Manager::AddRoute(std::string prefix, net::HttpServer::Handler handler) {
  routes_.emplace_back(std::move(prefix), std::move(handler));
}

bool Manager::Ready() const {
  if (!started_) return false;  // still waiting for the API
  if (!leading_) return true;   // a follower stands by: ready to take the lease
  for (const auto& e : entries_)
    if (e.options.leader_only && !*e.failed && !e.runnable->Ready()) return false;
  return true;
}

net::HttpResponse Manager::Serve(const net::HttpRequest& req) const {
  for (const auto& [prefix, handler] : routes_)
    if (req.path.rfind(prefix, 0) == 0) return handler(req);
  if (req.path == "/metrics") {
    net::HttpResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = ExpositionText(*registry_);
    return r;
  }
  if (req.path == "/healthz" || req.path == "/livez") return net::HttpResponse::Text(200, "ok");
  if (req.path == "/readyz") {
    bool ok = Ready();
    return net::HttpResponse::Text(ok ? 200 : 503, ok ? "ok" : started_ ? "caches not synced" : "waiting for the API");
  }
  return net::HttpResponse::Text(404, "not found");
}

void Manager::Start(const Entry& entry) {
  auto runnable = entry.runnable;
  auto options = entry.options;
  auto failed = entry.failed;
  asio::co_spawn(io_, runnable->Run(), [this, runnable, options, failed](std::exception_ptr e) {
    if (!e) return;
    *failed = true;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("{} stopped{}: {}", runnable->Name(), options.hint.empty() ? "" : " (" + options.hint + ")",
                    ex.what());
    }
    if (options.required) {
      exit_code_ = 1;
      io_.stop();
    }
  });
}

void Manager::StartLeading() {
  leading_ = true;
  leader_gauge_->Set(1);
  for (const auto& e : entries_)
    if (e.options.leader_only && !*e.failed) Start(e);
}

void Manager::Fail(const std::string& message) {
  spdlog::error("{}", message);
  exit_code_ = 1;
  io_.stop();
}

asio::awaitable<std::string> Manager::CheckKinds() {
  auto probe = options_.probe_client ? options_.probe_client : client_;
  for (auto& e : entries_) {
    for (const auto& k : e.options.kinds) {
      try {
        auto op = probe->Resolve(k.api_version, k.kind);
        co_await std::move(op);
      } catch (const core::ApiError& error) {
        if (error.retry_advice() == core::RetryAdvice::kBackoff) co_return error.what();
        std::string what = k.api_version + " " + k.kind;
        if (!error.IsNotFound())
          throw StartupError("the API refused the discovery of " + what + ": " + error.what() +
                             "; retrying cannot help: check the credentials and RBAC of the kubeconfig");
        // Discovery answered without the kind: its CRD is not applied.
        what = "the API does not serve " + what + (e.options.hint.empty() ? "" : " (" + e.options.hint + ")");
        if (e.options.required) throw StartupError(what + "; retrying cannot help until it does");
        if (!*e.failed) spdlog::error("{} not started: {}", e.runnable->Name(), what);
        *e.failed = true;
      }
    }
  }
  co_return "";
}

asio::awaitable<void> Manager::WaitForApi() {
  core::Backoff backoff(std::chrono::milliseconds(500), std::chrono::seconds(5));
  for (int attempt = 0;; ++attempt) {
    std::string unreachable;
    try {
      unreachable = co_await CheckKinds();
    } catch (const std::exception& e) {
      Fail(e.what());
      co_return;
    }
    if (unreachable.empty()) break;
    last_api_error_ = unreachable;
    auto wait = std::max(backoff.Delay(attempt), std::chrono::milliseconds(100));
    spdlog::warn("waiting for the API: {}; trying again in {} ms", unreachable, wait.count());
    asio::steady_timer timer(io_, wait);
    co_await timer.async_wait(asio::use_awaitable);
  }
  started_ = true;
  StartRunnables();
}

void Manager::StartRunnables() {
  // Runnables that only read and answer (receivers) run on every replica.
  for (const auto& e : entries_)
    if (!e.options.leader_only && !*e.failed) Start(e);
  if (!options_.leader_elect) {
    StartLeading();
    return;
  }
  LeaderElectionConfig lc = options_.lease;
  lc.on_started_leading = [this] { StartLeading(); };
  // Losing the lease mid-reconcile: stop at once; the next leader resumes from status. The
  // exit is a failure, so that a supervisor restarts the replica as a candidate.
  lc.on_stopped_leading = [this] {
    leading_ = false;
    leader_gauge_->Set(0);
    Fail("lost the leader lease; stopping");
  };
  lc.on_new_leader = [](const std::string& id) { spdlog::info("leader is {}", id); };
  elector_ = LeaderElector::Create(client_, lc);
  elector_->Start();
}

void Manager::StopAll() {
  for (const auto& e : entries_) e.runnable->Stop();
  if (elector_) elector_->Stop();
}

int Manager::Run() {
  auto colon = options_.listen.rfind(':');
  net::HttpServerOptions o;
  o.host = options_.listen.substr(0, colon);
  try {
    o.port = static_cast<uint16_t>(std::stoi(options_.listen.substr(colon + 1)));
    ops_ = std::make_unique<net::HttpServer>(o, [this](const net::HttpRequest& req) { return Serve(req); });
    ops_->Start();
  } catch (const std::exception& e) {
    spdlog::error("cannot serve {}: {}", options_.listen, e.what());
    return 1;
  }
  spdlog::info("serving /metrics, /healthz and /readyz on {}:{}", o.host, ops_->port());

  // A timer, not a check between probes: a probe still in flight cannot hold the deadline.
  auto deadline = std::make_shared<asio::steady_timer>(io_, options_.startup_timeout);
  deadline->async_wait([this, deadline](const boost::system::error_code& ec) {
    if (ec || started_) return;
    Fail("the API could not be reached within " + Seconds(options_.startup_timeout) + " (" +
         (last_api_error_.empty() ? "no answer yet" : last_api_error_) +
         "); retrying may help: check that the API server is up and that the kubeconfig points at it, "
         "or allow longer with --startup-timeout");
  });
  asio::co_spawn(io_, WaitForApi(), [deadline](std::exception_ptr) { deadline->cancel(); });
  asio::signal_set signals(io_, SIGINT, SIGTERM);
  signals.async_wait([this](const boost::system::error_code&, int) {
    spdlog::info("stopping");
    StopAll();
    // Give the lease release a moment, then leave.
    auto timer = std::make_shared<asio::steady_timer>(io_, options_.shutdown_grace);
    timer->async_wait([this, timer](const boost::system::error_code&) { io_.stop(); });
  });
  io_.run();
  ops_->Stop();
  return exit_code_;
}

}  // namespace sluice::kube::runtime
