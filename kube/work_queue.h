// A rate-limited, de-duplicating work queue of object keys for reconcile workers on one
// Asio event loop.
//
// Semantics reconcilers depend on (the same as client-go's workqueue):
// - a key added while already queued is queued once;
// - a key added while a worker processes it is not handed to a second worker; it is queued
//   again when that worker calls Done(), so no change is lost and no key is reconciled twice
//   at the same time;
// - AddRateLimited() delays a key by max(per-key exponential backoff, overall token bucket);
//   Forget() resets the key's backoff after a success;
// - AddAfter() holds a key until the clock reaches its time; the earliest request wins.
//
// Not thread-safe: call everything on the queue's executor.
#pragma once

#include "core/clock.h"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace sluice::kube {

struct WorkQueueOptions {
  std::string name = "workqueue";  // for logs
  // Per-key backoff: base_delay * 2^(failures), capped at max_delay.
  std::chrono::milliseconds base_delay{5};
  std::chrono::milliseconds max_delay{1000 * 1000};
  // Overall token bucket shared by every rate-limited add: it bounds the retry rate when
  // many keys fail at once (an API outage), whatever their own backoff says.
  double qps = 10;
  int burst = 100;
};

struct WorkQueueStats {
  uint64_t adds = 0;           // keys that entered the queue (after de-duplication)
  uint64_t retries = 0;        // AddRateLimited calls
  uint64_t delayed_adds = 0;   // AddAfter/AddRateLimited calls that had to wait
};

class WorkQueue : public std::enable_shared_from_this<WorkQueue> {
 public:
  using Duration = std::chrono::nanoseconds;

  // `clock` must outlive the queue; it decides when delayed keys are due and refills the
  // token bucket. Throws std::invalid_argument on nonsensical options.
  static std::shared_ptr<WorkQueue> Create(boost::asio::any_io_executor executor, const core::Clock& clock,
                                           WorkQueueOptions options = {});

  void Add(const std::string& key);
  void AddAfter(const std::string& key, Duration delay);
  void AddRateLimited(const std::string& key);
  // The key succeeded: its backoff starts over.
  void Forget(const std::string& key);
  int NumRequeues(const std::string& key) const;
  // The delay AddRateLimited would use for `key` now, without consuming anything.
  Duration PeekBackoff(const std::string& key) const;

  // Waits for a key; nullopt once the queue is shut down and drained of ready keys.
  boost::asio::awaitable<std::optional<std::string>> Get();
  // Non-waiting Get for loops that poll; nullopt when nothing is ready.
  std::optional<std::string> TryGet();
  void Done(const std::string& key);

  // Moves every delayed key whose time has come (by the clock) into the queue; returns how
  // many. A timer calls it; tests with a FakeClock call it after advancing the clock.
  size_t ReleaseDue();

  // Stops accepting keys and wakes every waiting Get(). Keys already queued are still
  // handed out so workers can finish; delayed keys are dropped.
  void ShutDown();
  bool ShuttingDown() const { return shutting_down_; }

  // Ready keys waiting for a worker (the depth metric).
  size_t Len() const { return queue_.size(); }
  // Keys held by AddAfter/AddRateLimited.
  size_t DelayedLen() const { return delayed_by_key_.size(); }
  size_t Processing() const { return processing_.size(); }
  const WorkQueueStats& stats() const { return stats_; }

 private:
  WorkQueue(boost::asio::any_io_executor executor, const core::Clock& clock, WorkQueueOptions options);

  Duration ItemBackoff(const std::string& key) const;
  Duration ReserveToken();
  void ArmDelayTimer();

  boost::asio::any_io_executor executor_;
  const core::Clock& clock_;
  WorkQueueOptions options_;

  std::deque<std::string> queue_;
  std::unordered_set<std::string> dirty_;       // queued or to be re-queued on Done
  std::unordered_set<std::string> processing_;  // handed to a worker, not Done yet

  // Delayed keys, ordered by due time; one entry per key (the earliest).
  std::set<std::pair<core::TimePoint, std::string>> delayed_;
  std::unordered_map<std::string, core::TimePoint> delayed_by_key_;
  std::optional<core::TimePoint> armed_for_;

  std::unordered_map<std::string, int> failures_;
  double tokens_;
  core::TimePoint tokens_at_;

  boost::asio::steady_timer ready_signal_;  // cancelled to wake waiting Get()s
  boost::asio::steady_timer delay_timer_;
  bool shutting_down_ = false;
  WorkQueueStats stats_;
};

}  // namespace sluice::kube
