// HTTP/1.1 to one API server over Beast and OpenSSL: TLS verified against the configured CA,
// client certificates, bearer/basic/exec auth, a small keep-alive pool, a deadline on every
// call, and chunked responses read line by line for watches. Beast stays in http_transport.cc.
//
// All calls run on the executor given at construction (one thread); the pool is not locked.
#pragma once

#include "kube/api_error.h"
#include "kube/config.h"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sluice::kube {

struct HttpRequest {
  std::string method = "GET";
  std::string target;  // path and query, e.g. /api/v1/namespaces/default/configmaps?limit=500
  std::string body;
  std::string content_type;  // "" = no body
  std::string accept = "application/json";
  // Extra request headers (a metrics provider's custom headers). Host, User-Agent, Accept,
  // Content-Type and the configured credentials' Authorization are set after them and win.
  std::vector<std::pair<std::string, std::string>> headers;
};

struct HttpResponse {
  int status = 0;
  std::string body;
  std::string content_type;
  std::string retry_after;  // the Retry-After header, if any
};

// A failure below HTTP (refused, reset, TLS, deadline). `maybe_sent` is false only when the
// request certainly never reached the server, so even a POST may be sent again.
class TransportError : public ApiError {
 public:
  TransportError(const ApiError& error, bool maybe_sent) : ApiError(error), maybe_sent_(maybe_sent) {}
  bool maybe_sent() const { return maybe_sent_; }

 private:
  bool maybe_sent_;
};

// The body of a streaming response, one line at a time (a watch sends one JSON event per line).
class LineStream {
 public:
  virtual ~LineStream() = default;
  // The next non-empty line without its line break; nullopt once the server ended the body
  // cleanly or after Cancel(). Throws ApiError for a broken stream or an idle deadline.
  virtual boost::asio::awaitable<std::optional<std::string>> NextLine() = 0;
  // Stops the stream; a pending NextLine() returns nullopt. Call on the transport's executor.
  virtual void Cancel() = 0;
};

struct TransportOptions {
  std::chrono::milliseconds connect_timeout{10000};
  size_t max_response_bytes = 256u << 20;
  std::string user_agent = "sluice/0.1";
  std::chrono::milliseconds exec_timeout{60000};  // an exec credential plugin's deadline
  size_t max_idle_connections = 4;
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // One request and its whole response within `timeout` (connect included). Any HTTP status
  // is returned; only transport failures throw (TransportError).
  virtual boost::asio::awaitable<HttpResponse> Send(HttpRequest request, std::chrono::milliseconds timeout) = 0;
  // Sends `request` on a connection of its own and returns the body as a line stream once a
  // 2xx header arrived within `header_timeout`; each later read may wait `idle_timeout`.
  // A non-2xx answer throws ApiError::FromResponse.
  virtual boost::asio::awaitable<std::unique_ptr<LineStream>> Stream(HttpRequest request,
                                                                     std::chrono::milliseconds header_timeout,
                                                                     std::chrono::milliseconds idle_timeout) = 0;
  // Forgets cached credentials (after a 401) so the next call fetches them again.
  virtual void InvalidateCredentials() = 0;
  // True when credentials come from something that may give new ones (exec plugin, token file).
  virtual bool CredentialsRefreshable() const = 0;
};

// Throws ConfigError when the TLS material in `config` is unusable (bad PEM, unreadable file).
std::shared_ptr<HttpTransport> MakeHttpTransport(boost::asio::any_io_executor executor, const RestConfig& config,
                                                 TransportOptions options = {});

}  // namespace sluice::kube
