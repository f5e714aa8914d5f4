// The one translation unit of the HTTP client that includes Beast (each such TU costs ~15 s to build).
#include "net/http_client.h"

#include "core/base64.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>

#include <deque>

namespace sluice::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using asio::use_awaitable;

constexpr auto kTuple = asio::as_tuple(use_awaitable);
constexpr std::chrono::seconds kMaxIdle{90};
constexpr size_t kHeaderLimit = 64 * 1024;
constexpr size_t kMaxErrorBody = 1 << 20;
constexpr size_t kMaxWatchLine = 64u << 20;

struct Endpoint {
  bool tls = true;
  std::string host;  // without IPv6 brackets
  std::string port;
  std::string host_header;
  std::string base_path;  // a path prefix in the server URL, usually ""
};

Endpoint ParseServer(const std::string& server) {
  Endpoint ep;
  std::string rest;
  if (server.starts_with("https://")) {
    rest = server.substr(8);
  } else if (server.starts_with("http://")) {
    ep.tls = false;
    rest = server.substr(7);
  } else {
    throw ConfigError("server \"" + server + "\" is not an http:// or https:// URL");
  }
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) ep.base_path = rest.substr(slash);
  while (!ep.base_path.empty() && ep.base_path.back() == '/') ep.base_path.pop_back();
  if (authority.starts_with("[")) {
    auto close = authority.find(']');
    if (close == std::string::npos) throw ConfigError("server \"" + server + "\": unclosed IPv6 bracket");
    ep.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':') ep.port = authority.substr(close + 2);
  } else {
    auto colon = authority.rfind(':');
    ep.host = authority.substr(0, colon);
    if (colon != std::string::npos) ep.port = authority.substr(colon + 1);
  }
  if (ep.host.empty()) throw ConfigError("server \"" + server + "\" has no host");
  if (ep.port.empty()) ep.port = ep.tls ? "443" : "80";
  bool v6 = ep.host.find(':') != std::string::npos;
  ep.host_header = (v6 ? "[" + ep.host + "]" : ep.host) + ":" + ep.port;
  return ep;
}

bool IsIpLiteral(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

std::string OpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

std::shared_ptr<ssl::context> MakeTlsContext(const TlsOptions& c, const std::optional<std::pair<std::string, std::string>>& dynamic_cert) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  ctx->set_options(ssl::context::no_sslv2 | ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                   ssl::context::no_tlsv1_1);
  auto step = [&](const std::string& field, auto&& fn) {
    try {
      fn();
    } catch (const boost::system::system_error& e) {
      throw ConfigError(field + (c.source.empty() ? "" : " of " + c.source) + " is unusable: " + e.code().message());
    }
  };
  if (c.insecure_skip_verify) {
    ctx->set_verify_mode(ssl::verify_none);
  } else {
    ctx->set_verify_mode(ssl::verify_peer);
    if (!c.ca_data.empty()) {
      step("certificate-authority-data", [&] { ctx->add_certificate_authority(asio::buffer(c.ca_data)); });
    } else if (!c.ca_file.empty()) {
      step("certificate-authority " + c.ca_file, [&] { ctx->load_verify_file(c.ca_file); });
    } else {
      step("system trust store", [&] { ctx->set_default_verify_paths(); });
    }
  }
  if (dynamic_cert) {
    step("the credentials' client certificate", [&] { ctx->use_certificate_chain(asio::buffer(dynamic_cert->first)); });
    step("the credentials' client key",
         [&] { ctx->use_private_key(asio::buffer(dynamic_cert->second), ssl::context::pem); });
  } else if (!c.client_cert_data.empty()) {
    step("client-certificate-data", [&] { ctx->use_certificate_chain(asio::buffer(c.client_cert_data)); });
    step("client-key-data", [&] { ctx->use_private_key(asio::buffer(c.client_key_data), ssl::context::pem); });
  } else if (!c.client_cert_file.empty()) {
    step("client-certificate " + c.client_cert_file, [&] { ctx->use_certificate_chain_file(c.client_cert_file); });
    step("client-key " + c.client_key_file, [&] { ctx->use_private_key_file(c.client_key_file, ssl::context::pem); });
  }
  return ctx;
}

struct Connection {
  std::shared_ptr<ssl::context> tls_context;  // kept alive as long as the stream uses it
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  Clock::time_point idle_since;

  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }

  // A pooled connection the server has closed (or sent something unasked on) reads as ready.
  bool LooksStale() {
    if (buffer.size() > 0 || Clock::now() - idle_since > kMaxIdle) return true;
    pollfd p{lowest().socket().native_handle(), POLLIN, 0};
    return ::poll(&p, 1, 0) != 0;
  }

  void Close() {
    boost::system::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest().socket().close(ec);
  }
};

// Calls fn with whichever stream the connection has.
template <class Fn>
auto WithStream(Connection& c, Fn&& fn) {
  if (c.tls) return fn(*c.tls);
  return fn(*c.plain);
}

std::string Describe(const boost::system::error_code& ec) {
  std::string m = ec.message();
  if (ec.category() == asio::error::get_ssl_category()) {
    std::string more = OpenSslErrors();
    if (!more.empty() && more != m) m += " (" + more + ")";
  }
  return m;
}

bool IsTimeout(const boost::system::error_code& ec) { return ec == beast::error::timeout; }

class ChunkedLineStream;

class BeastTransport final : public HttpClient, public std::enable_shared_from_this<BeastTransport> {
 public:
  BeastTransport(asio::any_io_executor ex, ClientConfig config, ClientOptions options)
      : ex_(std::move(ex)), config_(std::move(config)), options_(std::move(options)), endpoint_(ParseServer(config_.server)) {
    if (!config_.credentials) config_.credentials = StaticCredentials("");
    if (endpoint_.tls) tls_context_ = MakeTlsContext(config_.tls, std::nullopt);
  }

  ~BeastTransport() override {
    for (auto& c : idle_) c->Close();
  }

  asio::awaitable<ClientResponse> Send(ClientRequest request, std::chrono::milliseconds timeout) override;
  asio::awaitable<std::unique_ptr<LineStream>> Stream(ClientRequest request, std::chrono::milliseconds header_timeout,
                                                      std::chrono::milliseconds idle_timeout) override;
  void InvalidateCredentials() override { config_.credentials->Invalidate(); }
  bool CredentialsRefreshable() const override { return config_.credentials->Refreshable(); }

  const Endpoint& endpoint() const { return endpoint_; }
  size_t max_response_bytes() const { return options_.max_response_bytes; }

 private:
  asio::awaitable<void> PrepareCredentials();
  asio::awaitable<std::unique_ptr<Connection>> Connect(Clock::time_point deadline);
  std::unique_ptr<Connection> TakeIdle();
  void Release(std::unique_ptr<Connection> c);
  http::request<http::string_body> BuildRequest(const ClientRequest& r);
  std::string Where() const { return endpoint_.host_header; }

  asio::any_io_executor ex_;
  ClientConfig config_;
  ClientOptions options_;
  Endpoint endpoint_;
  std::shared_ptr<ssl::context> tls_context_;
  std::optional<std::pair<std::string, std::string>> dynamic_cert_in_context_;
  std::deque<std::unique_ptr<Connection>> idle_;
};

// Blocking credential refreshes (exec plugins) run on this pool so the event loop never waits
// for a child process.
asio::thread_pool& ExecPool() {
  static asio::thread_pool pool(1);
  return pool;
}

asio::awaitable<void> BeastTransport::PrepareCredentials() {
  auto credentials = config_.credentials;
  if (credentials->NeedsBlockingRefresh()) {
    // Built as named values, then awaited: g++ 12 destroys the argument temporaries of an
    // awaited call twice (kube/client.h), which freed a lambda's captured shared_ptr early
    // ("Owner died" from the credentials' mutex). The credentials live in the frame.
    auto refresh = [](std::shared_ptr<Credentials> c) -> asio::awaitable<void> {
      c->BlockingRefresh();
      co_return;
    };
    auto on_pool = asio::co_spawn(ExecPool(), refresh(credentials), use_awaitable);
    co_await std::move(on_pool);
  }
  if (!endpoint_.tls) co_return;
  auto cert = credentials->ClientCertificate();
  if (cert != dynamic_cert_in_context_) {
    // A new client certificate from the plugin: connections made with the old one are dropped.
    tls_context_ = MakeTlsContext(config_.tls, cert);
    dynamic_cert_in_context_ = cert;
    for (auto& c : idle_) c->Close();
    idle_.clear();
  }
}

asio::awaitable<std::unique_ptr<Connection>> BeastTransport::Connect(Clock::time_point deadline) {
  auto conn = std::make_unique<Connection>();
  // getaddrinfo has no deadline of its own; the timer cancels it. The timer's handler may
  // already be queued when the resolve completes, so it holds the resolver itself.
  auto resolver = std::make_shared<tcp::resolver>(ex_);
  asio::steady_timer resolve_timer(ex_);
  resolve_timer.expires_at(std::min(deadline, Clock::now() + options_.connect_timeout));
  resolve_timer.async_wait([resolver](boost::system::error_code ec) {
    if (!ec) resolver->cancel();
  });
  auto [rec, results] = co_await resolver->async_resolve(endpoint_.host, endpoint_.port, kTuple);
  resolve_timer.cancel();
  if (rec) {
    if (rec == asio::error::operation_aborted)
      throw TransportError(core::ApiError::Timeout("resolving " + endpoint_.host + " timed out"), false);
    throw TransportError(core::ApiError::Unavailable("cannot resolve " + endpoint_.host + ": " + rec.message()), false);
  }
  if (endpoint_.tls) {
    conn->tls_context = tls_context_;
    conn->tls.emplace(ex_, *tls_context_);
  } else {
    conn->plain.emplace(ex_);
  }
  auto connect_deadline = std::min(deadline, Clock::now() + options_.connect_timeout);
  conn->lowest().expires_at(connect_deadline);
  auto [cec, ep] = co_await conn->lowest().async_connect(results, kTuple);
  if (cec) {
    if (IsTimeout(cec))
      throw TransportError(core::ApiError::Timeout("connecting to " + Where() + " timed out"), false);
    throw TransportError(core::ApiError::Unavailable("cannot connect to " + Where() + ": " + cec.message()), false);
  }
  if (conn->tls) {
    SSL* native = conn->tls->native_handle();
    std::string name = config_.tls.server_name.empty() ? endpoint_.host : config_.tls.server_name;
    if (!IsIpLiteral(name)) SSL_set_tlsext_host_name(native, name.c_str());
    if (!config_.tls.insecure_skip_verify) {
      X509_VERIFY_PARAM* param = SSL_get0_param(native);
      int ok = IsIpLiteral(name) ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str())
                                 : X509_VERIFY_PARAM_set1_host(param, name.c_str(), 0);
      if (ok != 1) throw TransportError(core::ApiError::Unavailable("cannot verify server name \"" + name + "\""), false);
    }
    auto [hec] = co_await conn->tls->async_handshake(ssl::stream_base::client, kTuple);
    if (hec) {
      if (IsTimeout(hec))
        throw TransportError(core::ApiError::Timeout("TLS handshake with " + Where() + " timed out"), false);
      throw TransportError(core::ApiError::Unavailable("TLS handshake with " + Where() + " failed: " + Describe(hec)),
                           false);
    }
  }
  co_return conn;
}

std::unique_ptr<Connection> BeastTransport::TakeIdle() {
  while (!idle_.empty()) {
    auto c = std::move(idle_.back());
    idle_.pop_back();
    if (!c->LooksStale()) return c;
    c->Close();
  }
  return nullptr;
}

void BeastTransport::Release(std::unique_ptr<Connection> c) {
  c->idle_since = Clock::now();
  idle_.push_back(std::move(c));
  while (idle_.size() > options_.max_idle_connections) {
    idle_.front()->Close();
    idle_.pop_front();
  }
}

http::request<http::string_body> BeastTransport::BuildRequest(const ClientRequest& r) {
  http::verb verb = http::string_to_verb(r.method);
  if (verb == http::verb::unknown) throw core::ApiError::BadRequest("unknown HTTP method " + r.method);
  http::request<http::string_body> req{verb, endpoint_.base_path + r.target, 11};
  for (const auto& [name, value] : r.headers) req.set(name, value);
  req.set(http::field::host, endpoint_.host_header);
  req.set(http::field::user_agent, options_.user_agent);
  req.set(http::field::accept, r.accept);
  std::string authz = config_.credentials->AuthorizationHeader();
  if (!authz.empty()) req.set(http::field::authorization, authz);
  if (!r.content_type.empty()) req.set(http::field::content_type, r.content_type);
  req.body() = r.body;
  req.keep_alive(true);
  req.prepare_payload();
  return req;
}

ClientResponse ToResponse(http::response<http::string_body>& res) {
  ClientResponse out;
  out.status = static_cast<int>(res.result_int());
  out.content_type = std::string(res[http::field::content_type]);
  out.retry_after = std::string(res[http::field::retry_after]);
  out.body = std::move(res.body());
  return out;
}

bool NothingReceived(const boost::system::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::connection_reset || ec == asio::error::eof ||
         ec == asio::error::broken_pipe || ec == ssl::error::stream_truncated;
}

asio::awaitable<ClientResponse> BeastTransport::Send(ClientRequest request, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  co_await PrepareCredentials();
  auto self = shared_from_this();
  bool idempotent = request.method != "POST" && request.method != "PATCH";
  for (int attempt = 0;; ++attempt) {
    auto conn = TakeIdle();
    bool reused = conn != nullptr;
    if (!conn) conn = co_await Connect(deadline);
    auto req = BuildRequest(request);
    conn->lowest().expires_at(deadline);
    auto [wec, written] = co_await WithStream(*conn, [&](auto& s) { return http::async_write(s, req, kTuple); });
    boost::system::error_code rec;
    http::response_parser<http::string_body> parser;
    if (!wec) {
      parser.header_limit(kHeaderLimit);
      parser.body_limit(options_.max_response_bytes);
      std::tie(rec, std::ignore) =
          co_await WithStream(*conn, [&](auto& s) { return http::async_read(s, conn->buffer, parser, kTuple); });
    }
    if (!wec && !rec) {
      auto res = parser.release();
      bool keep = res.keep_alive();
      ClientResponse out = ToResponse(res);
      if (keep) {
        Release(std::move(conn));
      } else {
        conn->Close();
      }
      co_return out;
    }
    conn->Close();
    auto ec = wec ? wec : rec;
    std::string what = request.method + " " + request.target + " on " + Where();
    if (IsTimeout(ec))
      throw TransportError(core::ApiError::Timeout(what + ": no answer within " + std::to_string(timeout.count()) + " ms"),
                           !wec);
    if (ec == http::error::body_limit)
      throw TransportError(core::ApiError(0, "ResponseTooLarge",
                                    what + ": the response is larger than the limit of " +
                                        std::to_string(options_.max_response_bytes) + " bytes"),
                           true);
    // A pooled connection the server closed while idle: try once more on a fresh one. A
    // request that may have been read is sent again only when repeating it is harmless.
    if (reused && attempt == 0 && NothingReceived(ec) && (wec || idempotent)) continue;
    // A write that failed left the server an incomplete request, which it never acts on.
    throw TransportError(core::ApiError::Unavailable(what + ": " + Describe(ec)), !wec);
  }
}

// The body of a streaming response read chunk by chunk; lines are cut out as they complete.
class ChunkedLineStream final : public LineStream {
 public:
  ChunkedLineStream(std::unique_ptr<Connection> conn, std::unique_ptr<http::response_parser<http::buffer_body>> parser,
                    std::chrono::milliseconds idle_timeout, std::string what)
      : conn_(std::move(conn)), parser_(std::move(parser)), idle_timeout_(idle_timeout), what_(std::move(what)) {
    done_ = parser_->is_done();
  }
  ~ChunkedLineStream() override { conn_->Close(); }

  asio::awaitable<std::optional<std::string>> NextLine() override {
    for (;;) {
      if (auto line = CutLine()) co_return line;
      if (cancelled_) co_return std::nullopt;
      // Whole lines that arrived before the stream broke are delivered first.
      if (failure_) throw *failure_;
      if (done_) {
        if (pending_.empty()) co_return std::nullopt;
        std::string last = std::move(pending_);
        pending_.clear();
        co_return last;
      }
      co_await ReadSome();
    }
  }

  void Cancel() override {
    cancelled_ = true;
    boost::system::error_code ec;
    conn_->lowest().socket().cancel(ec);
  }

  // Reads whatever the server sends until the body ends (for error bodies), bounded.
  asio::awaitable<std::string> ReadAll(size_t limit) {
    while (!done_ && !cancelled_ && !failure_ && pending_.size() < limit) co_await ReadSome();
    co_return std::move(pending_);
  }

 private:
  std::optional<std::string> CutLine() {
    for (;;) {
      auto nl = pending_.find('\n', scanned_);
      if (nl == std::string::npos) {
        scanned_ = pending_.size();
        return std::nullopt;
      }
      std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      scanned_ = 0;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty()) return line;
    }
  }

  asio::awaitable<void> ReadSome() {
    auto& body = parser_->get().body();
    body.data = buf_;
    body.size = sizeof buf_;
    conn_->lowest().expires_after(idle_timeout_);
    // read_some, not read: read would wait until the 16 KiB buffer fills or the stream ends,
    // holding back watch events that arrive one small chunk at a time.
    auto [ec, n] =
        co_await WithStream(*conn_, [&](auto& s) { return http::async_read_some(s, conn_->buffer, *parser_, kTuple); });
    pending_.append(buf_, sizeof buf_ - body.size);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
      if (cancelled_ || ec == asio::error::operation_aborted) {
        cancelled_ = true;
        co_return;
      }
      if (IsTimeout(ec))
        failure_ = core::ApiError::Timeout(what_ + ": nothing received for " + std::to_string(idle_timeout_.count()) + " ms");
      else if (ec == http::error::partial_message || ec == asio::error::eof || ec == http::error::end_of_stream)
        failure_ = core::ApiError::Unavailable(what_ + ": the server closed the stream in the middle of a chunk");
      else if (ec == http::error::bad_chunk || ec == http::error::bad_chunk_extension)
        failure_ = core::ApiError::Unavailable(what_ + ": broken chunked encoding from the server");
      else
        failure_ = core::ApiError::Unavailable(what_ + ": " + Describe(ec));
      co_return;
    }
    if (parser_->is_done()) done_ = true;
    if (pending_.size() > kMaxWatchLine)
      throw core::ApiError(0, "ResponseTooLarge", what_ + ": a line of the stream is longer than 64 MiB");
  }

  std::unique_ptr<Connection> conn_;
  std::unique_ptr<http::response_parser<http::buffer_body>> parser_;
  std::chrono::milliseconds idle_timeout_;
  std::string what_;
  char buf_[16384];
  std::string pending_;
  size_t scanned_ = 0;
  bool done_ = false;
  bool cancelled_ = false;
  std::optional<core::ApiError> failure_;
};

asio::awaitable<std::unique_ptr<LineStream>> BeastTransport::Stream(ClientRequest request,
                                                                    std::chrono::milliseconds header_timeout,
                                                                    std::chrono::milliseconds idle_timeout) {
  auto deadline = Clock::now() + header_timeout;
  co_await PrepareCredentials();
  auto self = shared_from_this();
  auto conn = co_await Connect(deadline);
  auto req = BuildRequest(request);
  std::string what = request.method + " " + request.target + " on " + Where();
  conn->lowest().expires_at(deadline);
  auto [wec, written] = co_await WithStream(*conn, [&](auto& s) { return http::async_write(s, req, kTuple); });
  if (wec) {
    conn->Close();
    if (IsTimeout(wec)) throw TransportError(core::ApiError::Timeout(what + ": sending timed out"), true);
    throw TransportError(core::ApiError::Unavailable(what + ": " + Describe(wec)), true);
  }
  auto parser = std::make_unique<http::response_parser<http::buffer_body>>();
  parser->header_limit(kHeaderLimit);
  parser->body_limit(boost::none);  // a watch runs for minutes; its lines are bounded instead
  auto [hec, n] = co_await WithStream(
      *conn, [&](auto& s) { return http::async_read_header(s, conn->buffer, *parser, kTuple); });
  if (hec) {
    conn->Close();
    if (IsTimeout(hec))
      throw TransportError(
          core::ApiError::Timeout(what + ": no answer within " + std::to_string(header_timeout.count()) + " ms"), true);
    throw TransportError(core::ApiError::Unavailable(what + ": " + Describe(hec)), true);
  }
  int status = static_cast<int>(parser->get().result_int());
  std::string retry_after(parser->get()[http::field::retry_after]);
  auto stream = std::make_unique<ChunkedLineStream>(std::move(conn), std::move(parser), idle_timeout, what);
  if (status < 200 || status > 299) {
    std::string body = co_await stream->ReadAll(kMaxErrorBody);
    core::ApiError e = core::ApiError::FromResponse(status, body);
    if (!retry_after.empty() && e.retry_after_seconds() == 0) {
      auto details = e.details().is_object() ? e.details() : nlohmann::json::object();
      details["retryAfterSeconds"] = std::atoi(retry_after.c_str());
      throw core::ApiError(e.code(), e.reason(), e.message(), details);
    }
    throw e;
  }
  co_return stream;
}

}  // namespace

std::shared_ptr<HttpClient> MakeHttpClient(asio::any_io_executor executor, ClientConfig config, ClientOptions options) {
  return std::make_shared<BeastTransport>(std::move(executor), std::move(config), std::move(options));
}

namespace {

class FixedCredentials final : public Credentials {
 public:
  explicit FixedCredentials(std::string authorization) : authorization_(std::move(authorization)) {}
  std::string AuthorizationHeader() override { return authorization_; }

 private:
  std::string authorization_;
};

}  // namespace

std::shared_ptr<Credentials> StaticCredentials(std::string authorization) {
  return std::make_shared<FixedCredentials>(std::move(authorization));
}

std::string BasicAuthorization(const std::string& username, const std::string& password) {
  return "Basic " + core::Base64Encode(username + ":" + password);
}

std::string BearerAuthorization(const std::string& token) { return "Bearer " + token; }

}  // namespace sluice::net
