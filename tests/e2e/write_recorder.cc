#include "tests/e2e/write_recorder.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <thread>

namespace sluice::testing {

namespace {

constexpr size_t kMaxHead = 1u << 20;

sockaddr_in Loopback(uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

bool SendAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// Follows one connection's request stream: heads, and Content-Length bodies skipped.
class RequestFollower {
 public:
  // Feeds the next bytes; calls `on_head(method, target)` for each complete head. False once
  // the stream cannot be followed any more.
  template <typename OnHead>
  bool Feed(std::string_view data, OnHead&& on_head) {
    buffer_.append(data);
    for (;;) {
      if (body_left_ > 0) {
        size_t k = std::min(body_left_, buffer_.size());
        buffer_.erase(0, k);
        body_left_ -= k;
        if (body_left_ > 0) return true;
      }
      size_t end = buffer_.find("\r\n\r\n");
      if (end == std::string::npos) return buffer_.size() <= kMaxHead;
      std::string_view head(buffer_.data(), end);
      size_t line_end = head.find("\r\n");
      std::string_view line = head.substr(0, line_end);
      size_t sp1 = line.find(' ');
      size_t sp2 = line.find(' ', sp1 == std::string_view::npos ? 0 : sp1 + 1);
      if (sp1 == std::string_view::npos || sp2 == std::string_view::npos) return false;
      std::string method(line.substr(0, sp1));
      std::string target(line.substr(sp1 + 1, sp2 - sp1 - 1));
      size_t length = 0;
      while (line_end != std::string_view::npos) {
        size_t start = line_end + 2;
        line_end = head.find("\r\n", start);
        std::string_view header = head.substr(start, line_end == std::string_view::npos ? head.npos : line_end - start);
        size_t colon = header.find(':');
        if (colon == std::string_view::npos) continue;
        std::string name = Lower(header.substr(0, colon));
        std::string value(header.substr(colon + 1));
        if (name == "content-length") length = std::stoull(value);
        if (name == "transfer-encoding" && Lower(value).find("chunked") != std::string::npos) return false;
      }
      on_head(method, target);
      buffer_.erase(0, end + 4);
      body_left_ = length;
    }
  }

 private:
  std::string buffer_;
  size_t body_left_ = 0;
};

bool IsWriteMethod(const std::string& m) { return m == "POST" || m == "PUT" || m == "PATCH" || m == "DELETE"; }

}  // namespace

struct WriteRecorder::Impl {
  struct Connection {
    int client = -1;
    int upstream = -1;
    std::thread up;
    std::thread down;
  };

  uint16_t upstream_port = 0;
  int listener = -1;
  uint16_t port = 0;
  std::thread acceptor;
  mutable std::mutex mu;
  std::vector<RecordedWrite> writes;
  int unparsed = 0;
  bool stopped = false;
  // Sockets stay open (only shut down) until Stop() has joined their threads, so a number
  // is never reused while another thread may still shut it down.
  std::vector<std::unique_ptr<Connection>> connections;

  static void Sever(Connection* c) {
    ::shutdown(c->client, SHUT_RDWR);
    ::shutdown(c->upstream, SHUT_RDWR);
  }

  void Accept() {
    for (;;) {
      int fd = ::accept(listener, nullptr, nullptr);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return;  // Stop() shut the listener down
      }
      int up = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr = Loopback(upstream_port);
      if (up < 0 || ::connect(up, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        if (up >= 0) ::close(up);
        ::close(fd);
        continue;
      }
      std::lock_guard lock(mu);
      if (stopped) {
        ::close(up);
        ::close(fd);
        return;
      }
      auto c = std::make_unique<Connection>();
      c->client = fd;
      c->upstream = up;
      Connection* raw = c.get();
      c->up = std::thread([this, raw] { Upstream(raw); });
      c->down = std::thread([raw] { Downstream(raw); });
      connections.push_back(std::move(c));
    }
  }

  // Client to API: forwarded as read, each request head noted before it is passed on.
  void Upstream(Connection* c) {
    RequestFollower follower;
    bool following = true;
    char buf[65536];
    for (;;) {
      ssize_t n = ::recv(c->client, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (following) {
        following = follower.Feed(std::string_view(buf, static_cast<size_t>(n)),
                                  [this](const std::string& method, const std::string& target) {
                                    if (!IsWriteMethod(method)) return;
                                    std::lock_guard lock(mu);
                                    writes.push_back({std::chrono::system_clock::now(), method, target});
                                  });
        if (!following) {
          std::lock_guard lock(mu);
          ++unparsed;
        }
      }
      if (!SendAll(c->upstream, buf, static_cast<size_t>(n))) break;
    }
    Sever(c);
  }

  // API to client: passed on untouched (watch streams as they come).
  static void Downstream(Connection* c) {
    char buf[65536];
    for (;;) {
      ssize_t n = ::recv(c->upstream, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 || !SendAll(c->client, buf, static_cast<size_t>(n))) break;
    }
    Sever(c);
  }
};

WriteRecorder::WriteRecorder(uint16_t upstream_port) : impl_(std::make_unique<Impl>()) {
  impl_->upstream_port = upstream_port;
  impl_->listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr = Loopback(0);
  socklen_t len = sizeof addr;
  if (impl_->listener < 0 || ::bind(impl_->listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(impl_->listener, 64) != 0 ||
      ::getsockname(impl_->listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (impl_->listener >= 0) ::close(impl_->listener);
    throw std::runtime_error("write recorder: cannot listen on loopback");
  }
  impl_->port = ntohs(addr.sin_port);
  impl_->acceptor = std::thread([impl = impl_.get()] { impl->Accept(); });
}

WriteRecorder::~WriteRecorder() { Stop(); }

uint16_t WriteRecorder::port() const { return impl_->port; }

std::vector<RecordedWrite> WriteRecorder::Writes() const {
  std::lock_guard lock(impl_->mu);
  return impl_->writes;
}

int WriteRecorder::unparsed() const {
  std::lock_guard lock(impl_->mu);
  return impl_->unparsed;
}

void WriteRecorder::Stop() {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopped) return;
    impl_->stopped = true;
  }
  // On Linux, shutting a listening socket down wakes a thread blocked in accept().
  ::shutdown(impl_->listener, SHUT_RDWR);
  impl_->acceptor.join();
  ::close(impl_->listener);
  for (auto& c : impl_->connections) {
    Impl::Sever(c.get());
    c->up.join();
    c->down.join();
    ::close(c->client);
    ::close(c->upstream);
  }
}

}  // namespace sluice::testing
