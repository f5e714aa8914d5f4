#include "tests/kube/raw_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace sluice::testing {
namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool WriteAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Reads one request; false when the peer closed or the server is stopping.
bool ReadRequest(int fd, std::string& buffer, RawRequest& out) {
  char tmp[8192];
  size_t head_end;
  while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
    ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buffer.append(tmp, static_cast<size_t>(n));
  }
  std::string head = buffer.substr(0, head_end);
  buffer.erase(0, head_end + 4);
  size_t line_end = head.find("\r\n");
  std::string request_line = head.substr(0, line_end);
  auto sp1 = request_line.find(' ');
  auto sp2 = request_line.rfind(' ');
  out.method = request_line.substr(0, sp1);
  out.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t end = head.find("\r\n", pos);
    if (end == std::string::npos) end = head.size();
    std::string line = head.substr(pos, end - pos);
    auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      out.headers[Lower(line.substr(0, colon))] = value;
    }
    pos = end + 2;
  }
  size_t length = out.headers.count("content-length") ? std::stoul(out.headers["content-length"]) : 0;
  while (buffer.size() < length) {
    ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buffer.append(tmp, static_cast<size_t>(n));
  }
  out.body = buffer.substr(0, length);
  buffer.erase(0, length);
  return true;
}

}  // namespace

RawReply Respond(int status, const std::string& body, const std::vector<std::string>& extra_headers,
                 const std::string& content_type) {
  std::string head = "HTTP/1.1 " + std::to_string(status) + " Status\r\nContent-Type: " + content_type +
                     "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  for (const auto& h : extra_headers) head += h + "\r\n";
  return RawReply{.parts = {head + "\r\n" + body}};
}

std::string Chunk(const std::string& data) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return size + data + "\r\n";
}

std::string ChunkedHead(int status) {
  return "HTTP/1.1 " + std::to_string(status) +
         " Status\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
}

RawHttpServer::RawHttpServer(Handler handler) : handler_(std::move(handler)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 16) != 0)
    throw std::runtime_error("raw test server: cannot listen on loopback");
  socklen_t len = sizeof addr;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

RawHttpServer::~RawHttpServer() { Stop(); }

void RawHttpServer::Stop() {
  if (stopping_.exchange(true)) return;
  ::shutdown(listen_fd_, SHUT_RDWR);
  ::close(listen_fd_);
  {
    std::lock_guard lock(mu_);
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
  }
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
}

std::vector<RawRequest> RawHttpServer::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

void RawHttpServer::AcceptLoop() {
  while (!stopping_) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (stopping_) return;
      continue;
    }
    std::lock_guard lock(mu_);
    if (stopping_) {
      ::close(fd);
      return;
    }
    open_fds_.push_back(fd);
    int connection = ++connections_;
    threads_.emplace_back([this, fd, connection] { Serve(fd, connection); });
  }
}

void RawHttpServer::Serve(int fd, int connection) {
  std::string buffer;
  while (!stopping_) {
    RawRequest req;
    if (!ReadRequest(fd, buffer, req)) break;
    req.connection = connection;
    {
      std::lock_guard lock(mu_);
      requests_.push_back(req);
    }
    RawReply reply = handler_(req);
    bool ok = true;
    for (size_t i = 0; i < reply.parts.size() && ok && !stopping_; ++i) {
      if (i > 0 && reply.pause.count() > 0) std::this_thread::sleep_for(reply.pause);
      ok = WriteAll(fd, reply.parts[i]);
    }
    if (reply.hang) {
      char tmp[256];
      while (!stopping_ && ::recv(fd, tmp, sizeof tmp, 0) > 0) {
      }
      break;
    }
    if (!ok || reply.close) break;
  }
  ::shutdown(fd, SHUT_RDWR);
  std::lock_guard lock(mu_);
  open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
  ::close(fd);
}

}  // namespace sluice::testing
