#include "kube/rate_limiter.h"

#include <algorithm>

namespace sluice::kube {

RateLimiter::RateLimiter(double qps, int burst) : qps_(qps), burst_(std::max(1, burst)), tokens_(burst_) {}

std::chrono::nanoseconds RateLimiter::Reserve(TimePoint now) {
  if (qps_ <= 0) return std::chrono::nanoseconds(0);
  if (!started_) {
    started_ = true;
    last_ = now;
  }
  if (now > last_) {
    double elapsed = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min(burst_, tokens_ + elapsed * qps_);
    last_ = now;
  }
  tokens_ -= 1;
  if (tokens_ >= 0) return std::chrono::nanoseconds(0);
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(-tokens_ / qps_));
}

}  // namespace sluice::kube
