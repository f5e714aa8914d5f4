// A small HTTP/1.1 server (Boost.Beast coroutines behind this header) for the API emulator,
// the ops port, the receivers and the loadtester: plain or TLS, keep-alive, a body limit,
// deadlines for reading a whole request and for idle connections, and chunked streams for
// watches. Handlers run on the server's single event-loop thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace sluice::net {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query as sent
  std::string path;    // percent-decoded path without the query
  std::map<std::string, std::string> query;  // decoded; the last value wins
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  bool client_cert_verified = false;  // TLS: the peer presented a certificate our CA signed

  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
  std::string Query(const std::string& name) const {
    auto it = query.find(name);
    return it == query.end() ? std::string() : it->second;
  }
  // A boolean query parameter as the API server reads one: absent, "0" and "false" in any
  // case are false; anything else, "True" (Python's clients) and "" included, is true.
  bool QueryBool(const std::string& name) const;
};

// A stream of chunks the emulator pushes and the server writes out as they come (a watch).
// Thread-safe: pushes may come from any thread.
class EventStream {
 public:
  void Push(std::shared_ptr<const std::string> chunk);
  // No more chunks: the server ends the response after writing what is queued.
  void Close();
  bool closed() const;

  // Server side.
  std::vector<std::shared_ptr<const std::string>> Drain();
  void SetWaker(std::function<void()> waker);

  // When the stream ends on its own (timeoutSeconds); the server then calls on_timeout,
  // which may push a last chunk and must Close().
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  std::function<void()> on_timeout;
  // Called every tick_interval while the stream is open (periodic bookmarks).
  std::chrono::milliseconds tick_interval{0};
  std::function<void()> on_tick;
  // Called once when the stream ends for any reason (client gone, timeout, server stop).
  std::function<void()> on_finish;

 private:
  mutable std::mutex mu_;
  std::deque<std::shared_ptr<const std::string>> queue_;
  bool closed_ = false;
  std::function<void()> waker_;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::shared_ptr<EventStream> stream;  // set: a chunked stream follows instead of body

  // A one-line plain-text answer (receivers, the loadtester's gates): `text` plus a newline.
  static HttpResponse Text(int status, const std::string& text) {
    HttpResponse r;
    r.status = status;
    r.content_type = "text/plain; charset=utf-8";
    r.body = text + "\n";
    return r;
  }
};

struct TlsMaterial {
  std::string ca_pem;
  std::string cert_pem;
  std::string key_pem;
  bool require_client_cert = false;
};

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  size_t max_body_bytes = 3 * 1024 * 1024;
  // From a request's first byte to its last (headers and body, one deadline, never
  // extended by a trickle): a client slower than this, or one that holds a partial request
  // open, gets 408 and the connection is closed, so slow clients cannot pile up. Also the
  // TLS handshake's deadline.
  std::chrono::milliseconds read_timeout{15000};
  // A keep-alive connection waiting for its next request's first byte is closed after this.
  std::chrono::milliseconds idle_timeout{120000};
  // Each write of a response (or of a watch chunk) to a client that stopped reading.
  std::chrono::milliseconds write_timeout{30000};
  std::shared_ptr<TlsMaterial> tls;  // null: plain HTTP
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  HttpServer(HttpServerOptions options, Handler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts the event-loop thread; throws std::runtime_error when binding fails.
  void Start();
  // Ends open streams and connections and joins the thread. Idempotent.
  void Stop();
  uint16_t port() const;

  // Runs fn on the event-loop thread after delay (timers of the simulators and the collector).
  void Schedule(std::chrono::milliseconds delay, std::function<void()> fn);
  // Runs fn on the event-loop thread and waits for it (callers from other threads).
  void RunSync(const std::function<void()>& fn);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::net
