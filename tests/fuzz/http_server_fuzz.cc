// The HTTP server itself (net/http_server.h), which the emulator, the controller's port with
// the receivers, and the loadtester all run: one server on loopback for the whole run, and
// per input one connection that sends the raw bytes, closes its sending side, and reads the
// answer to the end. Beyond Beast's parser (http_request) this covers what the server makes
// of a request: the percent-decoded path and query, the headers, the 413 and keep-alive paths.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "net/http_server.h"
#include "tests/fuzz/fuzz_support.h"

using namespace sluice;

namespace {

net::HttpServer& Server() {
  static net::HttpServer* server = [] {
    net::HttpServerOptions options;
    options.port = 0;
    // A small body limit reaches the 413 path with inputs of a fuzzer's size; short deadlines
    // keep a connection the input leaves half-open from stalling the run.
    options.max_body_bytes = 4096;
    options.read_timeout = std::chrono::milliseconds(2000);
    options.idle_timeout = std::chrono::milliseconds(2000);
    auto* s = new net::HttpServer(options, [](const net::HttpRequest& req) {
      // Everything the server decoded, as a handler reads it.
      std::string seen = req.method + " " + req.path + " " + std::to_string(req.query.size()) + " " +
                         std::to_string(req.headers.size()) + " " + std::to_string(req.body.size());
      for (const auto& [k, v] : req.query) seen += (req.QueryBool(k) ? " +" : " -") + k;
      seen += " " + req.Header("content-type");
      return net::HttpResponse::Text(req.path == "/fail" ? 500 : 200, seen);
    });
    s->Start();
    return s;
  }();
  return *server;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  uint16_t port = Server().port();
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  SLUICE_FUZZ_CHECK(fd >= 0);
  // Closing first leaves each connection in TIME_WAIT on this side for a minute; at thousands
  // a second one source address runs out of ports. Every address of 127/8 is loopback, so
  // connections come from a new one each time, not seen again for hours; the port is chosen
  // at connect(), knowing the destination.
  static uint32_t next_source = 0;
  sockaddr_in source{};
  source.sin_family = AF_INET;
  source.sin_addr.s_addr = htonl(0x7F000001u + next_source++ % 0xFFFFFDu);
  int late_port = 1;
  setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &late_port, sizeof late_port);
  SLUICE_FUZZ_CHECK(bind(fd, reinterpret_cast<sockaddr*>(&source), sizeof source) == 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::fprintf(stderr, "connect to 127.0.0.1:%u: %s\n", port, std::strerror(errno));
    SLUICE_FUZZ_CHECK(false);
  }
  for (size_t sent = 0; sent < size;) {
    ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server answered early (413) and closed
    sent += static_cast<size_t>(n);
  }
  shutdown(fd, SHUT_WR);
  // Read until the server closes; it must, once the client has nothing more to send (its
  // deadlines are 2 s; the rest is room for a loaded machine).
  char buf[16384];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    int ready = poll(&p, 1, 20000);
    SLUICE_FUZZ_CHECK(ready == 1);  // the server neither answered nor closed in 20 s
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
  }
  close(fd);
  return 0;
}
