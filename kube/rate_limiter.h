// A client-side token bucket (QPS with a burst), as client-go's default limiter. It only
// computes how long a caller must wait; the caller waits on a timer, never blocking the loop.
#pragma once

#include <chrono>

namespace sluice::kube {

class RateLimiter {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // qps <= 0 disables the limit. burst < 1 is taken as 1.
  RateLimiter(double qps, int burst);

  // Takes one token and returns how long to wait before using it (zero if one was in the
  // bucket). Tokens may be owed: callers queue up in the order they reserved.
  std::chrono::nanoseconds Reserve(TimePoint now);

 private:
  double qps_;
  double burst_;
  double tokens_;
  TimePoint last_{};
  bool started_ = false;
};

}  // namespace sluice::kube
