// The only translation unit of the emulator that includes Beast and Asio (they take ~15 s per
// TU to compile); everything else talks to it through http_server.h.
#include "net/http_server.h"

#include <sys/socket.h>

#include <array>
#include <cctype>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <future>
#include <optional>
#include <stdexcept>
#include <thread>

#include <openssl/ssl.h>

namespace sluice::net {

bool HttpRequest::QueryBool(const std::string& name) const {
  auto it = query.find(name);
  if (it == query.end()) return false;
  std::string v;
  for (char c : it->second) v.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return v != "0" && v != "false";
}

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%' && i + 2 < in.size()) {
      int hi = HexValue(in[i + 1]), lo = HexValue(in[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

void SplitTarget(std::string_view target, HttpRequest& req) {
  auto q = target.find('?');
  req.path = PercentDecode(target.substr(0, q), false);
  if (q == std::string_view::npos) return;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    auto eq = pair.find('=');
    std::string key = PercentDecode(pair.substr(0, eq), true);
    std::string value = eq == std::string_view::npos ? "" : PercentDecode(pair.substr(eq + 1), true);
    if (!key.empty()) req.query[key] = value;
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string StatusBody(int code, const std::string& reason, const std::string& message) {
  // Hand-built to keep nlohmann out of this TU; message is escaped minimally.
  std::string esc;
  for (char c : message) {
    if (c == '"' || c == '\\') esc.push_back('\\');
    esc.push_back(c);
  }
  return R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":")" + esc +
         R"(","reason":")" + reason + R"(","code":)" + std::to_string(code) + "}\n";
}

// The peer closed its side: a watcher that went away while nothing was written to it.
bool PeerGone(int fd) {
  char c;
  ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) return true;
  if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
  return false;
}

}  // namespace

void EventStream::Push(std::shared_ptr<const std::string> chunk) {
  std::function<void()> waker;
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    queue_.push_back(std::move(chunk));
    waker = waker_;
  }
  if (waker) waker();
}

void EventStream::Close() {
  std::function<void()> waker;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    waker = waker_;
  }
  if (waker) waker();
}

bool EventStream::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

std::vector<std::shared_ptr<const std::string>> EventStream::Drain() {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<const std::string>> out(queue_.begin(), queue_.end());
  queue_.clear();
  return out;
}

void EventStream::SetWaker(std::function<void()> waker) {
  std::lock_guard lock(mu_);
  waker_ = std::move(waker);
}

struct HttpServer::Impl {
  HttpServerOptions options;
  Handler handler;
  std::unique_ptr<asio::io_context> ioc = std::make_unique<asio::io_context>(1);
  std::optional<asio::ssl::context> ssl;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::thread thread;
  std::thread::id loop_id;
  std::atomic<bool> running{false};
  uint16_t port = 0;

  asio::awaitable<void> Accept();
  template <class Stream>
  asio::awaitable<void> Serve(Stream stream, bool verified);
  template <class Stream>
  asio::awaitable<bool> AwaitRequest(Stream& stream, beast::flat_buffer& buffer);
  template <class Stream>
  asio::awaitable<boost::system::error_code> ReadRequest(Stream& stream, beast::flat_buffer& buffer,
                                                         http::request_parser<http::string_body>& parser);
  template <class Stream>
  asio::awaitable<bool> WriteStream(Stream& stream, const HttpResponse& res);
  HttpResponse Call(HttpRequest& req);
};

HttpResponse HttpServer::Impl::Call(HttpRequest& req) {
  try {
    return handler(req);
  } catch (const std::exception& e) {
    return HttpResponse{500, "application/json", StatusBody(500, "InternalError", e.what()), {}, nullptr};
  } catch (...) {
    return HttpResponse{500, "application/json", StatusBody(500, "InternalError", "unknown error"), {}, nullptr};
  }
}

template <class Stream>
asio::awaitable<bool> HttpServer::Impl::WriteStream(Stream& stream, const HttpResponse& res) {
  auto& lowest = beast::get_lowest_layer(stream);
  http::response<http::empty_body> head{static_cast<http::status>(res.status), 11};
  head.set(http::field::content_type, res.content_type);
  for (const auto& [k, v] : res.headers) head.set(k, v);
  head.chunked(true);
  http::response_serializer<http::empty_body> sr{head};
  lowest.expires_after(options.write_timeout);
  auto [ec, n] = co_await http::async_write_header(stream, sr, kTuple);
  if (ec) co_return false;

  auto es = res.stream;
  auto executor = co_await asio::this_coro::executor;
  auto wake = std::make_shared<asio::steady_timer>(executor);
  es->SetWaker([wake, executor] { asio::post(executor, [wake] { wake->cancel(); }); });
  struct Finish {
    std::shared_ptr<EventStream> es;
    ~Finish() {
      es->SetWaker(nullptr);
      if (es->on_finish) es->on_finish();
    }
  } finish{es};

  using Clock = std::chrono::steady_clock;
  auto next_tick = es->tick_interval.count() > 0 ? Clock::now() + es->tick_interval : Clock::time_point::max();
  for (;;) {
    for (const auto& chunk : es->Drain()) {
      lowest.expires_after(options.write_timeout);
      // GCC 12 mishandles temporaries inside co_await expressions: keep the chunk a local.
      auto body = http::make_chunk(asio::buffer(*chunk));
      auto [wec, wn] = co_await asio::async_write(stream, body, kTuple);
      if (wec) co_return false;
    }
    if (es->closed()) {
      lowest.expires_after(options.write_timeout);
      auto last = http::make_chunk_last();
      auto [lec, ln] = co_await asio::async_write(stream, last, kTuple);
      co_return !lec;
    }
    auto now = Clock::now();
    if (now >= es->deadline) {
      es->deadline = Clock::time_point::max();
      if (es->on_timeout) es->on_timeout();
      es->Close();
      continue;
    }
    if (now >= next_tick) {
      next_tick = now + es->tick_interval;
      if (es->on_tick) es->on_tick();
      continue;
    }
    if (PeerGone(lowest.socket().native_handle())) co_return false;
    lowest.expires_never();
    wake->expires_at(std::min({es->deadline, next_tick, now + std::chrono::seconds(1)}));
    co_await wake->async_wait(kTuple);
  }
}

// Waits up to idle_timeout for the first byte of the next request. False when the
// connection idled out or the peer left: a plain close, as nothing was asked yet.
template <class Stream>
asio::awaitable<bool> HttpServer::Impl::AwaitRequest(Stream& stream, beast::flat_buffer& buffer) {
  if (buffer.size() > 0) co_return true;  // pipelined: the next request is already here
  beast::get_lowest_layer(stream).expires_after(options.idle_timeout);
  auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), kTuple);
  if (ec) co_return false;
  buffer.commit(n);
  co_return true;
}

// Reads a whole request, headers and body, under one deadline set once at its first byte:
// a client trickling a byte at a time cannot extend it. When it passes, the stream closes
// the socket and the read ends with error::timeout.
template <class Stream>
asio::awaitable<boost::system::error_code> HttpServer::Impl::ReadRequest(
    Stream& stream, beast::flat_buffer& buffer, http::request_parser<http::string_body>& parser) {
  beast::get_lowest_layer(stream).expires_after(options.read_timeout);
  auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, kTuple);
  if (hec) co_return hec;
  auto [bec, bn] = co_await http::async_read(stream, buffer, parser, kTuple);
  co_return bec;
}

template <class Stream>
asio::awaitable<void> HttpServer::Impl::Serve(Stream stream, bool verified) {
  auto& lowest = beast::get_lowest_layer(stream);
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(options.max_body_bytes);
    parser.header_limit(256 * 1024);
    if (!co_await AwaitRequest(stream, buffer)) co_return;
    boost::system::error_code ec = co_await ReadRequest(stream, buffer, parser);
    HttpResponse res;
    bool keep_alive = false;
    if (ec == http::error::body_limit) {
      res = HttpResponse{413, "application/json",
                         StatusBody(413, "RequestEntityTooLarge",
                                    "the request body is larger than the limit of " +
                                        std::to_string(options.max_body_bytes) + " bytes"),
                         {}, nullptr};
    } else if (ec) {
      co_return;
    } else {
      auto& msg = parser.get();
      HttpRequest req;
      req.method = std::string(msg.method_string());
      req.target = std::string(msg.target());
      SplitTarget(req.target, req);
      for (const auto& f : msg) req.headers[Lower(f.name_string())] = std::string(f.value());
      req.body = std::move(msg.body());
      req.client_cert_verified = verified;
      keep_alive = msg.keep_alive();
      res = Call(req);
    }
    if (res.stream) {
      co_await WriteStream(stream, res);
      co_return;
    }
    http::response<http::string_body> out{static_cast<http::status>(res.status), 11};
    out.set(http::field::content_type, res.content_type);
    for (const auto& [k, v] : res.headers) out.insert(k, v);
    out.body() = std::move(res.body);
    out.keep_alive(keep_alive);
    out.prepare_payload();
    lowest.expires_after(options.write_timeout);
    auto [wec, wn] = co_await http::async_write(stream, out, kTuple);
    if (wec) co_return;
    if (!keep_alive) {
      // Closing with unread request bytes would reset the connection and could destroy the
      // answer in flight (413): half-close, then drain briefly.
      boost::system::error_code ignored;
      lowest.socket().shutdown(tcp::socket::shutdown_send, ignored);
      lowest.expires_after(std::chrono::seconds(2));
      std::array<char, 16384> sink;
      for (;;) {
        auto [rec, rn] = co_await lowest.async_read_some(asio::buffer(sink), kTuple);
        if (rec) break;
      }
      co_return;
    }
  }
}

asio::awaitable<void> HttpServer::Impl::Accept() {
  for (;;) {
    auto [ec, socket] = co_await acceptor->async_accept(kTuple);
    if (ec) {
      if (!acceptor->is_open()) co_return;
      continue;
    }
    socket.set_option(tcp::no_delay(true));
    if (!ssl) {
      beast::tcp_stream plain(std::move(socket));
      asio::co_spawn(*ioc, Serve(std::move(plain), false), asio::detached);
      continue;
    }
    asio::co_spawn(
        *ioc,
        [this, socket = std::move(socket)]() mutable -> asio::awaitable<void> {
          beast::tcp_stream tcp(std::move(socket));
          beast::ssl_stream<beast::tcp_stream> stream(std::move(tcp), *ssl);
          beast::get_lowest_layer(stream).expires_after(options.read_timeout);
          auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kTuple);
          if (hec) co_return;
          bool verified = false;
          if (X509* peer = SSL_get1_peer_certificate(stream.native_handle())) {
            verified = SSL_get_verify_result(stream.native_handle()) == X509_V_OK;
            X509_free(peer);
          }
          co_await Serve(std::move(stream), verified);
        },
        asio::detached);
  }
}

HttpServer::HttpServer(HttpServerOptions options, Handler handler) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->handler = std::move(handler);
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Start() {
  auto& im = *impl_;
  if (im.options.tls) {
    im.ssl.emplace(asio::ssl::context::tls_server);
    im.ssl->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    im.ssl->use_certificate_chain(asio::buffer(im.options.tls->cert_pem));
    im.ssl->use_private_key(asio::buffer(im.options.tls->key_pem), asio::ssl::context::pem);
    im.ssl->add_certificate_authority(asio::buffer(im.options.tls->ca_pem));
    auto mode = asio::ssl::verify_peer;
    if (im.options.tls->require_client_cert) mode |= asio::ssl::verify_fail_if_no_peer_cert;
    im.ssl->set_verify_mode(mode);
  }
  std::string host = im.options.host == "localhost" ? "127.0.0.1" : im.options.host;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) throw std::runtime_error("emulator: cannot listen on host \"" + im.options.host + "\": not an IP address");
  tcp::endpoint endpoint(address, im.options.port);
  im.acceptor = std::make_unique<tcp::acceptor>(*im.ioc);
  im.acceptor->open(endpoint.protocol(), ec);
  if (!ec) im.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) im.acceptor->bind(endpoint, ec);
  if (!ec) im.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error("emulator: cannot listen on " + host + ":" + std::to_string(im.options.port) + ": " +
                             ec.message());
  im.port = im.acceptor->local_endpoint().port();
  asio::co_spawn(*im.ioc, im.Accept(), asio::detached);
  im.running = true;
  std::promise<void> started;
  auto started_future = started.get_future();
  im.thread = std::thread([&im, &started] {
    im.loop_id = std::this_thread::get_id();
    started.set_value();
    im.ioc->run();
  });
  started_future.wait();
}

void HttpServer::Stop() {
  auto& im = *impl_;
  if (!im.running.exchange(false)) return;
  im.ioc->stop();
  if (im.thread.joinable()) im.thread.join();
  // Destroying the context destroys suspended sessions, which unregister their watchers now,
  // while the store they point to is still alive.
  im.acceptor.reset();
  im.ioc.reset();
}

uint16_t HttpServer::port() const { return impl_->port; }

void HttpServer::Schedule(std::chrono::milliseconds delay, std::function<void()> fn) {
  if (!impl_->running) return;
  auto timer = std::make_shared<asio::steady_timer>(*impl_->ioc, delay);
  timer->async_wait([timer, fn = std::move(fn)](boost::system::error_code ec) {
    if (!ec) fn();
  });
}

void HttpServer::RunSync(const std::function<void()>& fn) {
  if (!impl_->running || std::this_thread::get_id() == impl_->loop_id) {
    fn();
    return;
  }
  std::promise<void> done;
  auto fut = done.get_future();
  asio::post(*impl_->ioc, [&] {
    try {
      fn();
      done.set_value();
    } catch (...) {
      done.set_exception(std::current_exception());
    }
  });
  fut.get();
}

}  // namespace sluice::net
