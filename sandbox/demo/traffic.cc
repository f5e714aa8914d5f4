#include "sandbox/demo/traffic.h"

#include "api/canary_types.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <mutex>

namespace sluice::demo {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

// The object, or null when it does not exist (yet).
asio::awaitable<json> GetOrNull(kube::Client& client, std::string api_version, std::string kind, std::string ns,
                                std::string name) {
  try {
    auto resolve = client.Resolve(api_version, kind);
    kube::ApiResource res = co_await std::move(resolve);
    std::string sub;
    auto get = client.Get(res, ns, name, sub);
    co_return co_await std::move(get);
  } catch (const core::ApiError& e) {
    if (!e.IsNotFound()) throw;
  }
  co_return json();
}

}  // namespace

struct TrafficService::Revision {
  std::mutex mu;
  std::string text;
};

TrafficService::TrafficService(std::shared_ptr<kube::Client> client, TrafficServiceOptions options)
    : client_(std::move(client)), options_(std::move(options)) {
  sandbox::TrafficOptions to;
  to.requests_per_second = options_.requests_per_second;
  simulator_ = std::make_shared<sandbox::TrafficSimulator>(to);
  revision_ = std::make_shared<Revision>();
}

void TrafficService::SetSyncRevision(const std::string& ns, const std::string& name, const std::string& revision) {
  std::lock_guard lock(revision_->mu);
  revision_->text =
      "# HELP sluice_sync_revision_info The Git revision last applied by each sync (1 for the current one).\n"
      "# TYPE sluice_sync_revision_info gauge\n"
      "sluice_sync_revision_info{namespace=\"" + ns + "\",name=\"" + name + "\",revision=\"" + revision + "\"} 1\n";
}

TrafficService::~TrafficService() { Stop(); }

void TrafficService::Start() {
  net::HttpServerOptions o;
  o.host = options_.host;
  o.port = options_.port;
  auto sim = simulator_;
  auto revision = revision_;
  server_ = std::make_unique<net::HttpServer>(o, [sim, revision](const net::HttpRequest& req) {
    net::HttpResponse r;
    r.content_type = "text/plain; charset=utf-8";
    if (req.path == "/metrics") {
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      r.body = sim->Serialize();
      std::lock_guard lock(revision->mu);
      r.body += revision->text;
    } else if (req.path == "/healthz") {
      r.body = "ok";
    } else {
      r.status = 404;
      r.body = "not found";
    }
    return r;
  });
  server_->Start();
}

uint16_t TrafficService::port() const { return server_ ? server_->port() : 0; }

void TrafficService::Stop() {
  stopped_ = true;
  if (server_) server_->Stop();
}

asio::awaitable<sandbox::ClusterView> TrafficService::Read() {
  sandbox::ClusterView view;
  auto canary = GetOrNull(*client_, "sluice.dev/v1beta1", "Canary", options_.ns, options_.canary);
  view.canary = co_await std::move(canary);
  if (view.canary.is_null()) co_return view;
  const json& spec = view.canary["spec"];
  std::string target = spec["targetRef"].value("name", "");
  std::string service = spec["service"].value("name", target);
  if (auto ref = sandbox::RouteObjectFor(spec.value("provider", api::kDefaultProvider), service)) {
    auto route = GetOrNull(*client_, ref->api_version, ref->kind, options_.ns, ref->name);
    view.route = co_await std::move(route);
  }
  auto apex = GetOrNull(*client_, "v1", "Service", options_.ns, service);
  view.apex_service = co_await std::move(apex);
  std::vector<std::string> names = {target, target + "-primary"};
  for (const std::string& name : names) {
    auto deployment = GetOrNull(*client_, "apps/v1", "Deployment", options_.ns, name);
    json d = co_await std::move(deployment);
    if (!d.is_null()) view.deployments[name] = d;
  }
  co_return view;
}

asio::awaitable<void> TrafficService::Run(std::function<void(const std::string&)> on_problem) {
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor);
  auto last = std::chrono::steady_clock::now();
  std::string last_problem;
  while (!stopped_) {
    std::string problem;
    try {
      auto read = Read();
      sandbox::ClusterView view = co_await std::move(read);
      if (!view.canary.is_null()) simulator_->SetTopology(sandbox::TopologyFromCluster(view, options_.load_tester_share));
    } catch (const std::exception& e) {
      problem = std::string("traffic simulator: ") + e.what();
    }
    if (!problem.empty() && problem != last_problem && on_problem) on_problem(problem);
    last_problem = problem;
    auto now = std::chrono::steady_clock::now();
    simulator_->Advance(std::chrono::duration_cast<std::chrono::milliseconds>(now - last));
    last = now;
    timer.expires_after(std::chrono::milliseconds(250));
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

}  // namespace sluice::demo
