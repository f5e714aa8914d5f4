// Loopback ports for servers a test starts (git daemon, sshd, Prometheus, receivers).
#pragma once

#include <cstdint>

namespace sluice::testing {

// A port free at the time of asking; another process may take it before the server binds,
// so callers that start a server on it retry on failure.
uint16_t FreeLoopbackPort();
// Whether something accepts TCP connections on 127.0.0.1:port right now.
bool LoopbackPortAccepts(uint16_t port);

}  // namespace sluice::testing
