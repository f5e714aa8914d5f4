// A local HTTP receiver for webhook and alert tests: records every request and answers with
// the statuses a test scripts per path. Also a listener that accepts connections and never
// answers, and a helper that runs one coroutine to completion.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_future.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "net/http_server.h"

namespace sluice::testing::hooks {

struct Received {
  std::string method;
  std::string path;
  std::string content_type;
  nlohmann::json body;  // discarded when the body was not JSON
  std::chrono::steady_clock::time_point at;  // when it came
};

class WebhookReceiver {
 public:
  WebhookReceiver() {
    server_ = std::make_unique<net::HttpServer>(net::HttpServerOptions{},
                                                    [this](const net::HttpRequest& r) { return Handle(r); });
    server_->Start();
  }
  ~WebhookReceiver() { server_->Stop(); }

  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + path;
  }
  // Answers to `path` in order; the last one repeats. Unscripted paths answer 200.
  void Script(const std::string& path, std::vector<int> statuses) {
    std::lock_guard lock(mu_);
    scripts_[path] = std::deque<int>(statuses.begin(), statuses.end());
  }
  std::vector<Received> Got(const std::string& path) const {
    std::lock_guard lock(mu_);
    std::vector<Received> out;
    for (const auto& r : got_)
      if (r.path == path) out.push_back(r);
    return out;
  }

 private:
  net::HttpResponse Handle(const net::HttpRequest& req) {
    std::lock_guard lock(mu_);
    got_.push_back({req.method, req.path, req.Header("content-type"), nlohmann::json::parse(req.body, nullptr, false),
                    std::chrono::steady_clock::now()});
    net::HttpResponse res;
    res.content_type = "text/plain";
    auto it = scripts_.find(req.path);
    if (it != scripts_.end() && !it->second.empty()) {
      res.status = it->second.front();
      if (it->second.size() > 1) it->second.pop_front();
    }
    res.body = "status " + std::to_string(res.status) + " from the receiver";
    return res;
  }

  mutable std::mutex mu_;
  std::map<std::string, std::deque<int>> scripts_;
  std::vector<Received> got_;
  std::unique_ptr<net::HttpServer> server_;
};

// Listens and never accepts: the kernel completes the TCP handshake into the backlog, the
// request is written, and no answer ever comes.
class SilentListener {
 public:
  SilentListener() : acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) { acceptor_.listen(16); }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + path;
  }

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
};

// Runs `op` on a fresh io_context until it completes; rethrows what it threw.
template <typename T>
T RunCoroutine(boost::asio::io_context& io, boost::asio::awaitable<T> op) {
  auto future = boost::asio::co_spawn(io, std::move(op), boost::asio::use_future);
  io.restart();
  io.run();
  return future.get();
}

inline void RunCoroutine(boost::asio::io_context& io, boost::asio::awaitable<void> op) {
  auto future = boost::asio::co_spawn(io, std::move(op), boost::asio::use_future);
  io.restart();
  io.run();
  future.get();
}

}  // namespace sluice::testing::hooks
