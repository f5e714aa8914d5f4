// A plain HTTP/1.0 GET to a loopback port, for tests that read a server's endpoints
// (/metrics, /healthz) without a client library. Fails (status 0) after `deadline`.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace sluice::testing {

struct HttpGetResult {
  int status = 0;  // 0: no answer (refused, reset, deadline)
  std::string body;
};

HttpGetResult HttpGet(uint16_t port, const std::string& path,
                      std::chrono::milliseconds deadline = std::chrono::milliseconds(5000));

}  // namespace sluice::testing
