// A real Prometheus for analysis tests: started on 127.0.0.1 with a temp config and data dir,
// either over series backfilled with `promtool tsdb create-blocks-from openmetrics` (exact,
// deterministic values at fixed past timestamps) or scraping a live exporter. Stopped at
// destruction.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "tests/support/ports.h"
#include "tests/support/process.h"

namespace sluice::testing {

// OpenMetrics text for backfilling. Every series gets one sample every `step` from `start`
// for `samples` points.
class OpenMetricsBuilder {
 public:
  OpenMetricsBuilder(core::TimePoint start, std::chrono::seconds step, int samples)
      : start_(start), step_(step), samples_(samples) {}
  // value(i) for sample i; NaN allowed.
  void Gauge(const std::string& name, const std::string& labels, const std::function<double(int)>& value);
  // A counter (name without _total) rising by per_step(i) before sample i (0 at sample 0).
  void Counter(const std::string& name, const std::string& labels, const std::function<double(int)>& per_step);
  // A histogram whose observations each step all fall into the bucket with upper bound
  // `bucket` (one of `bounds`), `per_step` of them.
  void Histogram(const std::string& name, const std::string& labels, const std::vector<double>& bounds,
                 double bucket, double per_step);
  std::string Text() const;

 private:
  std::string Family(const std::string& name, const std::string& type);
  void Sample(const std::string& family, const std::string& series, double value, int i);

  core::TimePoint start_;
  std::chrono::seconds step_;
  int samples_;
  std::map<std::string, std::string> types_;                 // family -> TYPE
  std::map<std::string, std::vector<std::string>> lines_;    // family -> sample lines
};

struct PromOptions {
  std::string openmetrics;         // backfilled before start ("" = none)
  std::string scrape_target;       // host:port scraped at /metrics ("" = none)
  std::chrono::seconds scrape_interval{1};
  std::string basic_auth_user;     // set: the web config requires this user ...
  std::string basic_auth_bcrypt;   // ... with this bcrypt hash
  bool tls = false;                // serve https with a generated certificate
};

class PromServer {
 public:
  explicit PromServer(const PromOptions& options);
  ~PromServer();

  // http(s)://127.0.0.1:PORT
  std::string address() const { return address_; }
  std::string ca_pem() const { return ca_pem_; }
  bool ready() const { return ready_; }
  std::string logs() const;

 private:
  TempDir dir_;
  std::unique_ptr<BackgroundProcess> process_;
  std::string address_;
  std::string ca_pem_;
  bool ready_ = false;
};

bool HavePrometheus();

// The fixed start of all backfilled data: 2026-01-01T00:00:00Z. Data runs 30 minutes, a
// sample every 10 s.
core::TimePoint BackfillStart();
// One Prometheus for the whole test binary over the deterministic data set described in
// prom_harness.cc (started on first use).
PromServer& SharedPrometheus();

// The test password "s3cret-pw" and its bcrypt hash (cost 4, so checks stay fast).
extern const char* const kTestUser;
extern const char* const kTestPassword;
extern const char* const kTestPasswordBcrypt;

// Runs one coroutine on `io` to completion (rethrowing its exception) and returns its value.
template <class T>
T Await(boost::asio::io_context& io, boost::asio::awaitable<T> op) {
  auto future = boost::asio::co_spawn(io, std::move(op), boost::asio::use_future);
  io.restart();
  io.run();
  return future.get();
}

}  // namespace sluice::testing
