// Where metric values come from. One implementation per provider (prometheus.cc first), each
// registered under the name MetricTemplates give in spec.provider.type
// (metric_providers.cc); the checks, the canary-versus-primary judge and `sluice analyze` use
// only this interface, so they are tested against a real Prometheus and with fakes.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <memory>
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

// A MetricTemplate's spec.provider, with what a provider type needs to connect.
struct ProviderRequest {
  const nlohmann::json& spec;           // spec.provider of the MetricTemplate
  const nlohmann::json* secret;         // the Secret spec.provider.secretRef names, or nullptr
  std::string fallback_address;         // spec.metricsServer, else --prometheus-address
  std::chrono::milliseconds timeout;    // per query, connecting included
  std::string where;                    // names the template in errors: "MetricTemplate shop/p99"
};

// A provider ready to be made: equal keys share one provider and its connections.
struct ProviderHandle {
  std::string cache_key;
  std::function<std::shared_ptr<MetricProvider>(boost::asio::any_io_executor)> make;
};

// Provider types by spec.provider.type. Registered explicitly (metric_providers.cc); an
// unknown type is refused with the list of known ones, never replaced by a default.
class MetricProviderRegistry {
 public:
  // Reads the request (throws std::invalid_argument naming the field) and says how to connect.
  using Factory = std::function<ProviderHandle(const ProviderRequest&)>;

  static const MetricProviderRegistry& Builtin();
  void Register(std::string type, Factory factory);
  // Throws std::invalid_argument: `spec.provider.type "x" is not supported; supported: prometheus`.
  ProviderHandle Resolve(const ProviderRequest& request) const;
  std::vector<std::string> Types() const;

 private:
  std::vector<std::pair<std::string, Factory>> types_;
};

}  // namespace sluice::analysis
