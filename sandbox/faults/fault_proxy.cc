// The fault proxy's network side; the only translation unit of sandbox/faults/ with Beast.
#include "sandbox/faults/fault_proxy.h"

#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <charconv>
#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

namespace sluice::sandbox::faults {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr size_t kHeaderLimit = 256 * 1024;

struct HostPort {
  std::string host;
  uint16_t port = 0;
};

// "host:port" or "[v6]:port"; `what` names the flag in the error.
HostPort ParseHostPort(std::string_view text, const std::string& what) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) throw std::invalid_argument(what + " \"" + std::string(text) + "\" has no port");
  HostPort hp{std::string(text.substr(0, colon)), 0};
  if (hp.host.size() > 1 && hp.host.front() == '[' && hp.host.back() == ']') hp.host = hp.host.substr(1, hp.host.size() - 2);
  if (hp.host.empty() || hp.host == "localhost") hp.host = "127.0.0.1";
  unsigned port = 0;
  auto digits = text.substr(colon + 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc() || end != digits.data() + digits.size() || port > 65535)
    throw std::invalid_argument(what + " \"" + std::string(text) + "\" has no valid port");
  hp.port = static_cast<uint16_t>(port);
  return hp;
}

// Only plain http: the proxy has to read what it forwards.
HostPort ParseUpstream(const std::string& url) {
  std::string_view rest(url);
  if (!rest.starts_with("http://"))
    throw std::invalid_argument("the upstream \"" + url + "\" must be an http:// URL (run the emulator with tls=false)");
  rest.remove_prefix(7);
  if (rest.ends_with("/")) rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos)
    throw std::invalid_argument("the upstream \"" + url + "\" must have no path");
  return ParseHostPort(rest, "the upstream");
}

std::string Hex(uint64_t n) {
  char buf[20];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n, 16);
  return std::string(buf, end);
}

// Re-encodes the upstream's chunks for the client as the parser meets them (same sizes,
// extensions and trailers dropped), and once the watch's time is up cuts the next chunk in
// the middle: its header and half its bytes go out, then the connection closes.
struct ChunkRelay {
  Clock::time_point cut_at = Clock::time_point::max();
  std::string out;    // bytes for the client, not written yet
  uint64_t keep = 0;  // bytes of the chunk being cut still to pass on
  bool cutting = false;
  bool cut = false;  // the cut is complete in `out`: write it and close

  void Header(uint64_t size) {
    if (cut || size == 0) return;  // the last chunk is written once the parser is done
    out += Hex(size) + "\r\n";
    if (Clock::now() < cut_at) return;
    cutting = true;
    keep = size / 2;
    cut = keep == 0;
  }

  size_t Body(uint64_t remain, std::string_view body) {
    if (cut) return body.size();
    if (!cutting) {
      out.append(body);
      if (remain == body.size()) out += "\r\n";
      return body.size();
    }
    size_t take = std::min<uint64_t>(body.size(), keep);
    out.append(body.substr(0, take));
    keep -= take;
    cut = keep == 0;
    return body.size();
  }
};

bool HopByHop(http::field f) {
  return f == http::field::connection || f == http::field::keep_alive || f == http::field::transfer_encoding ||
         f == http::field::content_length || f == http::field::proxy_connection;
}

// The upstream's response head as the proxy sends it on: chunked, and closing after.
http::response<http::empty_body> StreamHead(const http::response<http::empty_body>& in) {
  http::response<http::empty_body> out{in.result(), in.version()};
  out.reason(in.reason());
  for (const auto& f : in)
    if (!HopByHop(f.name())) out.insert(f.name(), f.name_string(), f.value());
  out.chunked(true);
  out.keep_alive(false);
  return out;
}

}  // namespace

struct Session;

struct FaultProxy::Impl {
  FaultProxyOptions options;
  HostPort listen;
  HostPort upstream_address;
  tcp::endpoint upstream;
  FaultPlan plan;
  std::unique_ptr<asio::io_context> ioc = std::make_unique<asio::io_context>(1);
  std::unique_ptr<tcp::acceptor> acceptor;
  std::thread thread;
  std::thread::id loop_id;
  std::atomic<bool> running{false};
  uint16_t port = 0;
  std::set<Session*> sessions;  // loop thread only
  std::atomic<Clock::rep> refusing_until{0};
  mutable std::mutex counts_mu;
  FaultCounts counts;

  explicit Impl(FaultProxyOptions o)
      : options(std::move(o)), listen(ParseHostPort(options.listen, "the listen address")),
        upstream_address(ParseUpstream(options.upstream)), plan(options.faults) {}

  template <class F>
  void Count(F&& f) {
    std::lock_guard lock(counts_mu);
    f(counts);
  }
  bool Refusing() const { return Clock::now().time_since_epoch().count() < refusing_until.load(); }
  void StartRefusal(Millis duration);
  void RunOnLoop(const std::function<void()>& fn);

  asio::awaitable<void> Accept();
  asio::awaitable<void> RefuseAtRandom();
  asio::awaitable<void> Serve(std::shared_ptr<Session> s);
  asio::awaitable<bool> Answer(Session& s, const http::request<http::string_body>& req, const FaultAnswer& a);
  asio::awaitable<bool> Forward(Session& s, http::request<http::string_body>& req);
  asio::awaitable<bool> SendUpstream(Session& s, http::request<http::string_body>& req,
                                     http::response_parser<http::empty_body>& head);
  asio::awaitable<bool> Relay(Session& s, http::response_parser<http::empty_body>& head, bool head_request,
                              bool keep_alive);
  asio::awaitable<bool> Stream(Session& s, http::response_parser<http::empty_body>& head, bool watch);
  asio::awaitable<void> EndWatchWhenClientLeaves(std::shared_ptr<Session> s);
};

// One client connection and the upstream connection that serves it.
struct Session : std::enable_shared_from_this<Session> {
  // `registry` lists the open sessions, for a refusal window to drop them.
  Session(std::set<Session*>& registry, tcp::socket socket)
      : registry(registry), client(std::move(socket)), upstream(client.get_executor()) {
    registry.insert(this);
  }
  ~Session() { registry.erase(this); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void CloseUpstream() {
    upstream.close();
    upstream_buffer.clear();
  }
  void Drop() {
    dropped = true;
    client.close();
    CloseUpstream();
  }

  std::set<Session*>& registry;
  beast::tcp_stream client;
  beast::tcp_stream upstream;
  beast::flat_buffer upstream_buffer;
  bool dropped = false;
};

void FaultProxy::Impl::StartRefusal(Millis duration) {
  auto until = (Clock::now() + duration).time_since_epoch().count();
  if (until > refusing_until.load()) refusing_until = until;
  // A copy, without those an earlier window dropped that have not ended yet.
  std::vector<Session*> open;
  for (Session* s : sessions)
    if (!s->dropped) open.push_back(s);
  for (Session* s : open) s->Drop();
  Count([&](FaultCounts& c) {
    ++c.refusal_windows;
    c.connections_dropped += open.size();
  });
  spdlog::info("fault proxy: refusing connections for {} ms, dropped {} open", duration.count(), open.size());
}

void FaultProxy::Impl::RunOnLoop(const std::function<void()>& fn) {
  if (!running || std::this_thread::get_id() == loop_id) {
    fn();
    return;
  }
  std::promise<void> done;
  asio::post(*ioc, [&] {
    fn();
    done.set_value();
  });
  done.get_future().wait();
}

asio::awaitable<void> FaultProxy::Impl::Accept() {
  for (;;) {
    auto [ec, socket] = co_await acceptor->async_accept(kTuple);
    if (ec) {
      if (!acceptor->is_open()) co_return;
      // Out of descriptors, most likely: let connections end before accepting again.
      asio::steady_timer pause(*ioc, std::chrono::milliseconds(50));
      co_await pause.async_wait(kTuple);
      continue;
    }
    boost::system::error_code ignored;
    if (Refusing()) {
      // A reset, not a polite close: the client sees its connection fail, as against a
      // server that is going away.
      socket.set_option(tcp::socket::linger(true, 0), ignored);
      socket.close(ignored);
      Count([](FaultCounts& c) { ++c.connections_refused; });
      continue;
    }
    socket.set_option(tcp::no_delay(true), ignored);
    asio::co_spawn(*ioc, Serve(std::make_shared<Session>(sessions, std::move(socket))), asio::detached);
  }
}

asio::awaitable<void> FaultProxy::Impl::RefuseAtRandom() {
  asio::steady_timer timer(*ioc);
  while (auto wait = plan.NextRefusal()) {
    timer.expires_after(*wait);
    auto [ec] = co_await timer.async_wait(kTuple);
    if (ec) co_return;
    StartRefusal(options.faults.refuse_for);
  }
}

asio::awaitable<void> FaultProxy::Impl::Serve(std::shared_ptr<Session> s) {
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(kHeaderLimit);
    parser.body_limit(options.max_request_bytes);
    s->client.expires_after(options.idle_timeout);
    auto [hec, hn] = co_await http::async_read_header(s->client, buffer, parser, kTuple);
    if (hec) co_return;
    s->client.expires_after(options.io_timeout);
    auto [bec, bn] = co_await http::async_read(s->client, buffer, parser, kTuple);
    if (bec) co_return;
    auto req = parser.release();
    Count([](FaultCounts& c) { ++c.requests; });
    auto decision = plan.Decide(req.method_string(), req.target());
    if (decision.delay.count() > 0) {
      Count([&](FaultCounts& c) {
        ++c.delayed;
        c.delay_ms += static_cast<uint64_t>(decision.delay.count());
      });
      asio::steady_timer hold(*ioc, decision.delay);
      co_await hold.async_wait(kTuple);
      // Dropped meanwhile (a refusal window): the request must not reach the upstream.
      if (s->dropped) co_return;
    }
    bool more = false;
    if (decision.answer) {
      more = co_await Answer(*s, req, *decision.answer);
    } else {
      more = co_await Forward(*s, req);
    }
    if (!more) co_return;
  }
}

asio::awaitable<bool> FaultProxy::Impl::Answer(Session& s, const http::request<http::string_body>& req,
                                               const FaultAnswer& a) {
  Count([&](FaultCounts& c) {
    if (a.status == 500) ++c.errors_500;
    if (a.status == 503) ++c.errors_503;
    if (a.status == 429) ++c.errors_429;
    if (a.status == 409) ++c.conflicts;
  });
  spdlog::debug("fault proxy: {} {} answered {}", std::string(req.method_string()), std::string(req.target()),
                a.status);
  http::response<http::string_body> res{static_cast<http::status>(a.status), req.version()};
  res.set(http::field::content_type, "application/json");
  if (!a.retry_after.empty()) res.set(http::field::retry_after, a.retry_after);
  res.body() = a.body;
  res.keep_alive(req.keep_alive());
  res.prepare_payload();
  s.client.expires_after(options.io_timeout);
  auto [ec, n] = co_await http::async_write(s.client, res, kTuple);
  co_return !ec && req.keep_alive();
}

// Sends the request on the session's upstream connection and reads the response head. A
// kept-alive upstream connection that fails before any answer is retried once on a fresh
// one: the upstream closed it while idle, so it never saw the request.
asio::awaitable<bool> FaultProxy::Impl::SendUpstream(Session& s, http::request<http::string_body>& req,
                                                     http::response_parser<http::empty_body>& head) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool reused = s.upstream.socket().is_open();
    if (!reused) {
      s.upstream.expires_after(options.io_timeout);
      auto [cec] = co_await s.upstream.async_connect(upstream, kTuple);
      if (cec) co_return false;
    }
    s.upstream.expires_after(options.io_timeout);
    auto [wec, wn] = co_await http::async_write(s.upstream, req, kTuple);
    boost::system::error_code ec = wec;
    if (!ec) {
      s.upstream.expires_after(options.io_timeout);
      auto [hec, hn] = co_await http::async_read_header(s.upstream, s.upstream_buffer, head, kTuple);
      if (!hec) co_return true;
      ec = hec;
    }
    // A slow upstream (timeout) may be working on the request: sending it again could
    // apply a write twice.
    bool stale = reused && !head.got_some() && ec != beast::error::timeout;
    s.CloseUpstream();
    if (!stale || s.dropped) co_return false;
  }
  co_return false;
}

// Upstream unreachable or broken: the client's connection is closed without an answer, as
// it would be against the API server itself.
asio::awaitable<bool> FaultProxy::Impl::Forward(Session& s, http::request<http::string_body>& req) {
  bool keep_alive = req.keep_alive();
  bool head_request = req.method() == http::verb::head;
  req.keep_alive(true);
  req.prepare_payload();
  http::response_parser<http::empty_body> head;
  head.header_limit(kHeaderLimit);
  head.body_limit(options.max_response_bytes);
  if (head_request) head.skip(true);
  if (!co_await SendUpstream(s, req, head)) co_return false;
  Count([](FaultCounts& c) { ++c.forwarded; });
  bool watch = IsWatchTarget(req.target());
  if (head.chunked() && !head.is_done()) co_return co_await Stream(s, head, watch);
  co_return co_await Relay(s, head, head_request, keep_alive);
}

asio::awaitable<bool> FaultProxy::Impl::Relay(Session& s, http::response_parser<http::empty_body>& head,
                                              bool head_request, bool keep_alive) {
  http::response_parser<http::string_body> full(std::move(head));
  full.body_limit(options.max_response_bytes);
  if (!full.is_done()) {
    s.upstream.expires_after(options.io_timeout);
    auto [ec, n] = co_await http::async_read(s.upstream, s.upstream_buffer, full, kTuple);
    if (ec) {
      s.CloseUpstream();
      co_return false;
    }
  }
  auto res = full.release();
  if (!res.keep_alive()) s.CloseUpstream();
  res.keep_alive(keep_alive);
  // A HEAD answer keeps the length of the body it did not send.
  if (!head_request) res.prepare_payload();
  s.client.expires_after(options.io_timeout);
  auto [wec, wn] = co_await http::async_write(s.client, res, kTuple);
  co_return !wec && keep_alive;
}

// Passes a chunked response on chunk by chunk. The connection closes after it: a watch
// lasts as long as either side wants, so neither is reused.
asio::awaitable<bool> FaultProxy::Impl::Stream(Session& s, http::response_parser<http::empty_body>& head,
                                               bool watch) {
  auto out = StreamHead(head.get());
  http::response_serializer<http::empty_body> serializer{out};
  s.client.expires_after(options.io_timeout);
  auto [hec, hn] = co_await http::async_write_header(s.client, serializer, kTuple);
  if (hec) co_return false;

  ChunkRelay relay;
  if (watch) {
    // The body limit counts every chunk: a watch may pass any amount over its life.
    head.body_limit(boost::none);
    Count([](FaultCounts& c) { ++c.watches; });
    if (auto cut = plan.NextWatchCut()) relay.cut_at = Clock::now() + *cut;
    asio::co_spawn(*ioc, EndWatchWhenClientLeaves(s.shared_from_this()), asio::detached);
  }
  // The parser keeps references to these two: they live as long as this frame.
  auto on_header = [&relay](uint64_t size, beast::string_view, boost::system::error_code&) { relay.Header(size); };
  auto on_body = [&relay](uint64_t remain, beast::string_view body, boost::system::error_code&) {
    return relay.Body(remain, std::string_view(body.data(), body.size()));
  };
  head.on_chunk_header(on_header);
  head.on_chunk_body(on_body);

  for (;;) {
    if (watch) {
      s.upstream.expires_never();
    } else {
      s.upstream.expires_after(options.io_timeout);
    }
    auto [rec, rn] = co_await http::async_read_some(s.upstream, s.upstream_buffer, head, kTuple);
    bool done = !rec && head.is_done();
    if (done) relay.out += "0\r\n\r\n";
    if (!relay.out.empty()) {
      s.client.expires_after(options.io_timeout);
      auto bytes = asio::buffer(relay.out);
      auto write = asio::async_write(s.client, bytes, kTuple);
      auto [wec, wn] = co_await std::move(write);
      relay.out.clear();
      if (wec) break;
    }
    if (relay.cut) {
      Count([](FaultCounts& c) { ++c.watch_cuts; });
      spdlog::debug("fault proxy: cut a watch in the middle of a chunk");
      break;
    }
    if (rec || done) break;
  }
  s.CloseUpstream();
  s.client.close();
  co_return false;
}

// A watching client sends nothing: any read completing means it closed (or the session
// ended the stream itself), and the upstream watch must end too.
asio::awaitable<void> FaultProxy::Impl::EndWatchWhenClientLeaves(std::shared_ptr<Session> s) {
  std::array<char, 256> sink;
  auto bytes = asio::buffer(sink);
  s->client.expires_never();
  auto read = s->client.async_read_some(bytes, kTuple);
  co_await std::move(read);
  s->CloseUpstream();
}

FaultProxy::FaultProxy(FaultProxyOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

FaultProxy::~FaultProxy() { Stop(); }

void FaultProxy::Start() {
  auto& im = *impl_;
  boost::system::error_code ec;
  tcp::resolver resolver(*im.ioc);
  auto found = resolver.resolve(im.upstream_address.host, std::to_string(im.upstream_address.port), ec);
  if (ec || found.empty())
    throw std::runtime_error("fault proxy: cannot resolve the upstream " + im.options.upstream + ": " + ec.message());
  im.upstream = *found.begin();
  auto address = asio::ip::make_address(im.listen.host, ec);
  if (ec) throw std::runtime_error("fault proxy: cannot listen on \"" + im.listen.host + "\": not an IP address");
  tcp::endpoint endpoint(address, im.listen.port);
  im.acceptor = std::make_unique<tcp::acceptor>(*im.ioc);
  im.acceptor->open(endpoint.protocol(), ec);
  if (!ec) im.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) im.acceptor->bind(endpoint, ec);
  if (!ec) im.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("fault proxy: cannot listen on " + im.options.listen + ": " + ec.message());
  im.port = im.acceptor->local_endpoint().port();
  asio::co_spawn(*im.ioc, im.Accept(), asio::detached);
  asio::co_spawn(*im.ioc, im.RefuseAtRandom(), asio::detached);
  std::promise<void> started;
  im.thread = std::thread([&im, &started] {
    im.loop_id = std::this_thread::get_id();
    started.set_value();
    im.ioc->run();
  });
  started.get_future().wait();
  im.running = true;
}

void FaultProxy::Stop() {
  auto& im = *impl_;
  if (!im.running.exchange(false)) return;
  im.ioc->stop();
  if (im.thread.joinable()) im.thread.join();
  // Destroying the context destroys the suspended sessions while the set they leave exists.
  im.acceptor.reset();
  im.ioc.reset();
}

uint16_t FaultProxy::port() const { return impl_->port; }

std::string FaultProxy::url() const { return "http://" + impl_->listen.host + ":" + std::to_string(impl_->port); }

FaultCounts FaultProxy::counts() const {
  std::lock_guard lock(impl_->counts_mu);
  return impl_->counts;
}

void FaultProxy::RefuseFor(Millis duration) {
  Millis d = duration.count() > 0 ? duration : impl_->options.faults.refuse_for;
  impl_->RunOnLoop([this, d] { impl_->StartRefusal(d); });
}

bool FaultProxy::refusing() const { return impl_->Refusing(); }

}  // namespace sluice::sandbox::faults
