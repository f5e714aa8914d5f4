#include "sandbox/demo/wait.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "net/http_client.h"

namespace sluice::demo {

namespace asio = boost::asio;
using nlohmann::json;

asio::awaitable<void> Sleep(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  t.expires_after(d);
  boost::system::error_code ec;
  co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

asio::awaitable<void> WaitReady(const std::string& host, uint16_t port, std::string path, ChildProcess& child,
                                std::chrono::seconds deadline) {
  auto executor = co_await asio::this_coro::executor;
  auto transport = net::MakeHttpClient(executor, {.server = "http://" + host + ":" + std::to_string(port)});
  auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (!child.Running())
      throw SandboxError(child.name() + " exited with status " + std::to_string(child.exit_status()) +
                         "; its log (" + child.log_path() + ") ends:\n" + child.LogTail());
    try {
      net::ClientRequest req;
      req.target = path;
      req.accept = "*/*";
      auto timeout = std::chrono::milliseconds(2000);
      auto send = transport->Send(req, timeout);
      net::ClientResponse r = co_await std::move(send);
      if (r.status == 200) co_return;
    } catch (const std::exception&) {
      // not listening yet
    }
    co_await Sleep(std::chrono::milliseconds(200));
  }
  throw SandboxError(child.name() + " did not answer " + path + " within " + std::to_string(deadline.count()) +
                     "s; its log (" + child.log_path() + ") ends:\n" + child.LogTail());
}

asio::awaitable<void> WaitScraping(const std::string& prometheus_url, size_t targets, std::chrono::seconds deadline) {
  auto executor = co_await asio::this_coro::executor;
  auto transport = net::MakeHttpClient(executor, {.server = prometheus_url});
  auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    try {
      net::ClientRequest req;
      req.target = "/api/v1/query?query=up%3D%3D1";  // up==1
      auto timeout = std::chrono::milliseconds(2000);
      auto send = transport->Send(req, timeout);
      net::ClientResponse r = co_await std::move(send);
      json body = json::parse(r.body, nullptr, false);
      if (!body.is_discarded() && body["data"]["result"].is_array() && body["data"]["result"].size() >= targets)
        co_return;
    } catch (const std::exception&) {
      // not answering yet
    }
    co_await Sleep(std::chrono::milliseconds(250));
  }
  throw SandboxError("Prometheus (" + prometheus_url + ") did not scrape the controller and the traffic simulator within " +
                     std::to_string(deadline.count()) + "s; see prometheus.log in the work dir");
}

}  // namespace sluice::demo
