// Waiting in `sluice sandbox`: timers, and the readiness of the processes it starts.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "sandbox/demo/process.h"

namespace sluice::demo {

// A problem that ends the sandbox with a message and exit code 1.
struct SandboxError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

boost::asio::awaitable<void> Sleep(std::chrono::milliseconds d);

// Polls http://host:port/path until it answers 200; throws SandboxError with the child's log
// when the child exits or the deadline passes.
boost::asio::awaitable<void> WaitReady(const std::string& host, uint16_t port, std::string path, ChildProcess& child,
                                       std::chrono::seconds deadline);

// Prometheus applies new scrape targets only every few seconds after it starts: waits until
// `targets` targets were scraped (up == 1), so the scenario's first analysis finds data.
boost::asio::awaitable<void> WaitScraping(const std::string& prometheus_url, size_t targets,
                                          std::chrono::seconds deadline);

}  // namespace sluice::demo
