// The HTTP server's deadlines against raw sockets: a client that holds a partial request
// (a slow-loris) or trickles it is closed at the whole-request deadline, an idle keep-alive
// connection at the idle deadline, and normal requests are served meanwhile.
#include "net/http_server.h"
#include "tests/support/http_get.h"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace sluice::net {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;
using sluice::testing::HttpGet;

// A connected loopback socket, closed at destruction.
class RawConnection {
 public:
  explicit RawConnection(uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return connected_; }
  bool Send(const std::string& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }
  // Reads until the server closes (true, with what it sent) or `deadline` passes (false).
  bool ReadUntilClosed(std::chrono::milliseconds deadline, std::string* got = nullptr) {
    auto end = Steady::now() + deadline;
    char buf[4096];
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Steady::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return true;  // EOF or reset: closed by the server
      if (got) got->append(buf, static_cast<size_t>(n));
    }
  }
  // Reads until `text` arrived; false at the deadline or on close.
  bool ReadUntil(const std::string& text, std::chrono::milliseconds deadline, std::string* got) {
    auto end = Steady::now() + deadline;
    char buf[4096];
    while (got->find(text) == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Steady::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return false;
      got->append(buf, static_cast<size_t>(n));
    }
    return true;
  }

 private:
  int fd_;
  bool connected_ = false;
};

std::unique_ptr<HttpServer> StartServer(std::chrono::milliseconds read_timeout, std::chrono::milliseconds idle_timeout) {
  HttpServerOptions o;
  o.read_timeout = read_timeout;
  o.idle_timeout = idle_timeout;
  auto server = std::make_unique<HttpServer>(o, [](const HttpRequest& req) {
    return HttpResponse::Text(200, "hello " + req.path);
  });
  server->Start();
  return server;
}

const std::string kRequest = "GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

TEST_CASE("http server: connections holding a partial request header are closed at the read deadline",
          "[net][http_server]") {
  // The idle deadline is long, so only the whole-request deadline can close them.
  auto server = StartServer(500ms, 30s);
  std::vector<std::unique_ptr<RawConnection>> slow;
  for (int i = 0; i < 20; ++i) {
    slow.push_back(std::make_unique<RawConnection>(server->port()));
    REQUIRE(slow.back()->connected());
    REQUIRE(slow.back()->Send("GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: "));
  }
  // Meanwhile the server answers others.
  auto ok = HttpGet(server->port(), "/fine", 2000ms);
  CHECK(ok.status == 200);
  CHECK(ok.body == "hello /fine\n");
  auto start = Steady::now();
  int closed = 0;
  for (auto& c : slow) closed += c->ReadUntilClosed(3000ms) ? 1 : 0;
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - start);
  CHECK(closed == 20);
  CHECK(took < 2500ms);
  CHECK(HttpGet(server->port(), "/after", 2000ms).status == 200);
}

TEST_CASE("http server: a request trickled a byte at a time does not extend its deadline", "[net][http_server]") {
  auto server = StartServer(600ms, 30s);
  RawConnection c(server->port());
  REQUIRE(c.connected());
  const std::string header = "GET /trickle HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: " + std::string(200, 'a');
  auto start = Steady::now();
  bool closed = false;
  for (size_t i = 0; i < header.size() && !closed; ++i) {
    if (!c.Send(header.substr(i, 1))) closed = true;
    else closed = c.ReadUntilClosed(50ms);
  }
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - start);
  CHECK(closed);
  CHECK(took < 3000ms);  // 200 bytes at 50 ms each would take 10 s
}

TEST_CASE("http server: the read deadline starts at a request's first byte, and idle keep-alive connections close",
          "[net][http_server]") {
  auto server = StartServer(400ms, 1500ms);
  RawConnection c(server->port());
  REQUIRE(c.connected());
  // Longer than the read deadline but shorter than the idle one: still served.
  std::this_thread::sleep_for(800ms);
  REQUIRE(c.Send(kRequest));
  std::string got;
  REQUIRE(c.ReadUntil("hello /x\n", 2000ms, &got));
  CHECK(got.rfind("HTTP/1.1 200", 0) == 0);
  // Kept alive: a second request on the same connection.
  got.clear();
  REQUIRE(c.Send(kRequest));
  REQUIRE(c.ReadUntil("hello /x\n", 2000ms, &got));
  // Then idle: closed after the idle deadline, not before the read deadline would have.
  auto start = Steady::now();
  CHECK(c.ReadUntilClosed(4000ms));
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - start);
  CHECK(took >= 1000ms);
  CHECK(took < 3500ms);
}

}  // namespace
}  // namespace sluice::net
