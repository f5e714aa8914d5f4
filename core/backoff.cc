#include "core/backoff.h"

#include <algorithm>

namespace sluice::core {

std::chrono::milliseconds Backoff::Ceiling(int attempt) const {
  auto ceiling = initial_;
  for (int i = 0; i < attempt && ceiling < max_; ++i) ceiling *= 2;
  return std::min(ceiling, max_);
}

std::chrono::milliseconds Backoff::Delay(int attempt, std::chrono::milliseconds retry_after) {
  auto ceiling = Ceiling(attempt).count();
  std::uniform_int_distribution<int64_t> dist(0, std::max<int64_t>(0, ceiling));
  return std::max(std::chrono::milliseconds(dist(rng_)), retry_after);
}

}  // namespace sluice::core
