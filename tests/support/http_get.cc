#include "tests/support/http_get.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace sluice::testing {

HttpGetResult HttpGet(uint16_t port, const std::string& path, std::chrono::milliseconds deadline) {
  HttpGetResult result;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return result;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  auto end = std::chrono::steady_clock::now() + deadline;
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
      char buf[16384];
      while (true) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) {
          if (n == 0) {
            auto space = response.find(' ');
            auto header_end = response.find("\r\n\r\n");
            if (space != std::string::npos && header_end != std::string::npos) {
              result.status = std::atoi(response.c_str() + space + 1);
              result.body = response.substr(header_end + 4);
            }
          }
          break;
        }
        response.append(buf, static_cast<size_t>(n));
      }
    }
  }
  ::close(fd);
  return result;
}

}  // namespace sluice::testing
