// Where metric values come from. One implementation per provider (prometheus.cc first); the
// checks, the canary-versus-primary judge and `sluice analyze` use only this interface, so
// they are tested against a real Prometheus and unit-tested with a fake.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/clock.h"

namespace sluice::analysis {

// A query that did not give a usable answer: the message carries the query and the
// provider's own words. `retryable` is true when asking again later may help (unreachable,
// deadline, 5xx), false when the query itself is wrong (bad PromQL, a matrix where a scalar
// is expected).
class MetricError : public std::runtime_error {
 public:
  MetricError(const std::string& message, bool retryable) : std::runtime_error(message), retryable_(retryable) {}
  bool retryable() const { return retryable_; }

 private:
  bool retryable_;
};

struct Sample {
  core::TimePoint time{};
  double value = 0;
};

class MetricProvider {
 public:
  virtual ~MetricProvider() = default;
  // One number at `at` (instant query). nullopt is "no data": an empty result or NaN, a state
  // of its own that never passes a check. Throws MetricError.
  virtual boost::asio::awaitable<std::optional<double>> QueryScalar(std::string query, core::TimePoint at) = 0;
  // The samples of a single series from `start` to `end` every `step` (range query); empty
  // when there is no data. More than one series is a MetricError. Throws MetricError.
  virtual boost::asio::awaitable<std::vector<Sample>> QueryRange(std::string query, core::TimePoint start,
                                                                 core::TimePoint end,
                                                                 std::chrono::milliseconds step) = 0;
};

}  // namespace sluice::analysis
