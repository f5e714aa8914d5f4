// Exponential backoff with full jitter: a random wait in [0, min(max, initial * 2^attempt)],
// which spreads retries of many clients apart, and never less than the server asked for.
#pragma once

#include <chrono>
#include <random>

namespace sluice::core {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max, uint64_t seed = std::random_device{}())
      : initial_(initial), max_(max), rng_(seed) {}

  // The wait before retry number `attempt` (0 for the first retry); `retry_after` is what the
  // server asked for (Retry-After or retryAfterSeconds), honoured even above `max`.
  std::chrono::milliseconds Delay(int attempt, std::chrono::milliseconds retry_after = std::chrono::milliseconds(0));
  // The upper bound of Delay's jitter for `attempt`.
  std::chrono::milliseconds Ceiling(int attempt) const;

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  std::mt19937_64 rng_;
};

}  // namespace sluice::core
