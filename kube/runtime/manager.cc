#include "kube/runtime/manager.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include "kube/runtime/metrics.h"

namespace sluice::kube::runtime {

namespace asio = boost::asio;

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
  if (!leading_) return true;  // a follower stands by: ready to take the lease
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
    return net::HttpResponse::Text(ok ? 200 : 503, ok ? "ok" : "caches not synced");
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
    if (e.options.leader_only) Start(e);
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

  // Runnables that only read and answer (receivers) run on every replica.
  for (const auto& e : entries_)
    if (!e.options.leader_only) Start(e);
  if (options_.leader_elect) {
    LeaderElectionConfig lc = options_.lease;
    lc.on_started_leading = [this] { StartLeading(); };
    // Losing the lease mid-reconcile: stop at once; the next leader resumes from status.
    lc.on_stopped_leading = [this] {
      spdlog::warn("lost the leader lease; stopping");
      leading_ = false;
      leader_gauge_->Set(0);
      io_.stop();
    };
    lc.on_new_leader = [](const std::string& id) { spdlog::info("leader is {}", id); };
    elector_ = LeaderElector::Create(client_, lc);
    elector_->Start();
  } else {
    StartLeading();
  }
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
