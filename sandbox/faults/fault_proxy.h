// A plain-HTTP proxy between a client (`sluice controller`, kubectl) and an API server (the
// emulator with tls=false) that injects the faults of a FaultPlan: error and conflict
// answers in place of the upstream's, delays, watch streams cut in the middle of a chunk,
// and windows in which connections are reset. Chunked responses (watches) are passed on as
// they arrive, chunk by chunk, with the upstream's chunk sizes.
//
// One event-loop thread; Beast stays in fault_proxy.cc. Each client connection gets its own
// upstream connection, so the upstream sees the client's keep-alive pattern.
#pragma once

#include "sandbox/faults/fault_plan.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace sluice::sandbox::faults {

struct FaultProxyOptions {
  std::string listen = "127.0.0.1:0";  // host:port; port 0 picks a free one
  std::string upstream;                // http://host:port of the API server
  FaultOptions faults;
  // The deadline of every network step (connect, a request, a response head, a body, a
  // write), except the wait for the next chunk of a watch, which may be long.
  Millis io_timeout{30000};
  // How long a client connection may sit idle between requests. Shorter than the upstream's
  // (the emulator's is 120 s), so the upstream never closes a connection we still hand out.
  Millis idle_timeout{90000};
  size_t max_request_bytes = 64u << 20;
  size_t max_response_bytes = 256u << 20;
};

class FaultProxy {
 public:
  // Throws std::invalid_argument for an unusable listen address, upstream or fault option.
  explicit FaultProxy(FaultProxyOptions options);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  // Binds and starts the event-loop thread; throws std::runtime_error when binding fails.
  void Start();
  // Closes every connection and joins the thread. Idempotent.
  void Stop();
  uint16_t port() const;
  std::string url() const;  // http://host:port

  // A snapshot of the counters; safe from any thread.
  FaultCounts counts() const;
  // Starts a window of refused connections now (open connections are dropped), lasting
  // `duration`, or the options' refuse_for when zero. Safe from any thread.
  void RefuseFor(Millis duration = Millis(0));
  bool refusing() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::sandbox::faults
