// A plain HTTP/1.1 client over Beast and OpenSSL for one origin: TLS verified against a CA
// (or not, when asked), client certificates, an Authorization header from pluggable
// credentials, a small keep-alive pool, a deadline on every call, and chunked responses read
// line by line for streams. It knows nothing of Kubernetes: kube's transport builds on it,
// and so do the Prometheus provider, webhooks, alerts and the loadtester. Beast stays in
// http_client.cc.
//
// All calls run on the executor given at construction (one thread); the pool is not locked.
#pragma once

#include "core/api_error.h"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace sluice::net {

struct ClientRequest {
  std::string method = "GET";
  std::string target;  // path and query, e.g. /api/v1/query?query=up
  std::string body;
  std::string content_type;  // "" = no body
  std::string accept = "application/json";
  // Extra request headers (a metrics provider's custom headers). Host, User-Agent, Accept,
  // Content-Type and the credentials' Authorization are set after them and win.
  std::vector<std::pair<std::string, std::string>> headers;
};

struct ClientResponse {
  int status = 0;
  std::string body;
  std::string content_type;
  std::string retry_after;  // the Retry-After header, if any
};

// A failure below HTTP (refused, reset, TLS, deadline). `maybe_sent` is false only when the
// request certainly never reached the server, so even a POST may be sent again.
class TransportError : public core::ApiError {
 public:
  TransportError(const core::ApiError& error, bool maybe_sent) : core::ApiError(error), maybe_sent_(maybe_sent) {}
  bool maybe_sent() const { return maybe_sent_; }

 private:
  bool maybe_sent_;
};

// The client's settings are unusable (a server that is not an http(s) URL, bad PEM, an
// unreadable file): retrying cannot help, the configuration must change.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The body of a streaming response, one line at a time (a watch sends one JSON event per line).
class LineStream {
 public:
  virtual ~LineStream() = default;
  // The next non-empty line without its line break; nullopt once the server ended the body
  // cleanly or after Cancel(). Throws ApiError for a broken stream or an idle deadline.
  virtual boost::asio::awaitable<std::optional<std::string>> NextLine() = 0;
  // Stops the stream; a pending NextLine() returns nullopt. Call on the client's executor.
  virtual void Cancel() = 0;
};

// How the server's certificate is checked and which client certificate is shown. Data
// fields hold PEM text; file fields are read when the client is made.
struct TlsOptions {
  std::string server_name;  // SNI and the name verified; the URL's host when empty
  bool insecure_skip_verify = false;
  std::string ca_data;
  std::string ca_file;  // the system trust store when both are empty
  std::string client_cert_data;
  std::string client_cert_file;
  std::string client_key_data;
  std::string client_key_file;
  std::string source;  // named in errors, e.g. `context "kind-dev"`
};

// Who the client is on each request.
class Credentials {
 public:
  virtual ~Credentials() = default;
  // True when AuthorizationHeader() needs BlockingRefresh() first (an exec plugin): the
  // client runs it on a thread of its own so the event loop never blocks.
  virtual bool NeedsBlockingRefresh() const { return false; }
  virtual void BlockingRefresh() {}
  // "Bearer ...", "Basic ..." or "" (anonymous, or a client certificate only).
  virtual std::string AuthorizationHeader() = 0;
  // A client certificate and key (PEM) the credentials supply, in place of TlsOptions'.
  virtual std::optional<std::pair<std::string, std::string>> ClientCertificate() const { return std::nullopt; }
  // After a 401: the next call fetches fresh credentials where they can change.
  virtual void Invalidate() {}
  virtual bool Refreshable() const { return false; }
};

// A fixed Authorization header value ("" for none).
std::shared_ptr<Credentials> StaticCredentials(std::string authorization);
std::string BasicAuthorization(const std::string& username, const std::string& password);
std::string BearerAuthorization(const std::string& token);

struct ClientConfig {
  std::string server;  // https://host:port or http://host:port[/prefix], IPv6 in brackets
  TlsOptions tls;
  std::shared_ptr<Credentials> credentials;  // none: anonymous
};

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{10000};
  size_t max_response_bytes = 256u << 20;
  std::string user_agent = "sluice/0.1";
  size_t max_idle_connections = 4;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // One request and its whole response within `timeout` (connect included). Any HTTP status
  // is returned; only transport failures throw (TransportError).
  virtual boost::asio::awaitable<ClientResponse> Send(ClientRequest request, std::chrono::milliseconds timeout) = 0;
  // Sends `request` on a connection of its own and returns the body as a line stream once a
  // 2xx header arrived within `header_timeout`; each later read may wait `idle_timeout`.
  // A non-2xx answer throws ApiError::FromResponse.
  virtual boost::asio::awaitable<std::unique_ptr<LineStream>> Stream(ClientRequest request,
                                                                     std::chrono::milliseconds header_timeout,
                                                                     std::chrono::milliseconds idle_timeout) = 0;
  // Forgets cached credentials (after a 401) so the next call fetches them again.
  virtual void InvalidateCredentials() = 0;
  // True when the credentials may give new ones (exec plugin, token file).
  virtual bool CredentialsRefreshable() const = 0;
};

// Throws ConfigError when the server URL or the TLS material is unusable.
std::shared_ptr<HttpClient> MakeHttpClient(boost::asio::any_io_executor executor, ClientConfig config,
                                           ClientOptions options = {});

}  // namespace sluice::net
