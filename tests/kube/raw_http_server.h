// A scripted HTTP/1.1 server for transport tests: it answers with whatever bytes a test
// gives it, so it can misbehave as no real API server would (broken chunks, silence, 503s,
// oversize bodies, non-Status errors). Blocking sockets, one thread per connection, loopback.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sluice::testing {

struct RawRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  int connection = 0;  // which accepted connection it came on (1-based)
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

struct RawReply {
  std::vector<std::string> parts;  // written in order, `pause` apart
  std::chrono::milliseconds pause{0};
  bool close = false;  // close the connection after the last part
  bool hang = false;   // after the parts, say nothing more until the server stops
};

// A complete response with Content-Length.
RawReply Respond(int status, const std::string& body, const std::vector<std::string>& extra_headers = {},
                 const std::string& content_type = "application/json");
// A chunk of a chunked body, framed.
std::string Chunk(const std::string& data);
// The head of a chunked 200 response (a watch).
std::string ChunkedHead(int status = 200);

class RawHttpServer {
 public:
  using Handler = std::function<RawReply(const RawRequest&)>;
  explicit RawHttpServer(Handler handler);
  ~RawHttpServer();
  RawHttpServer(const RawHttpServer&) = delete;
  RawHttpServer& operator=(const RawHttpServer&) = delete;

  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<RawRequest> requests() const;
  int connections() const { return connections_; }
  void Stop();

 private:
  struct Impl;
  void AcceptLoop();
  void Serve(int fd, int connection);

  Handler handler_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  mutable std::mutex mu_;
  std::vector<RawRequest> requests_;
  std::vector<int> open_fds_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

}  // namespace sluice::testing
