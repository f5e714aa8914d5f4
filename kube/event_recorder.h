// Records core/v1 Events about objects, as `kubectl describe` and `kubectl get events` show
// them, without ever holding up the reconciler that reports them.
//
// - Record() only queues; one coroutine writes, errors are logged and counted, never thrown.
// - The same (object, reason, message, type) again within the aggregation window PATCHes
//   count and lastTimestamp of the Event already written instead of creating another.
// - A per-object token bucket drops floods (a reconcile loop failing every few ms).
//
// Not thread-safe: call it on the client's executor.
#pragma once

#include "kube/client.h"
#include "core/clock.h"

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>

namespace sluice::kube {

enum class EventType { kNormal, kWarning };

struct EventRecorderOptions {
  std::string component = "sluice";  // source.component and reportingComponent
  std::string instance;              // reportingInstance (e.g. the pod name); also source.host
  std::chrono::seconds aggregation_window{600};
  size_t max_queue = 1000;  // events waiting to be written; more are dropped
  // Per involved object: a burst, then one event per refill interval.
  int per_object_burst = 25;
  std::chrono::seconds per_object_refill{300};
  size_t max_tracked = 4096;  // objects and event series remembered for aggregation
  size_t max_message_bytes = 1024;
  const core::Clock* clock = nullptr;  // nullptr = system clock
};

struct EventRecorderStats {
  uint64_t created = 0;
  uint64_t patched = 0;          // repeats folded into an existing Event
  uint64_t rate_limited = 0;     // dropped by the per-object bucket
  uint64_t queue_full = 0;       // dropped because the writer is far behind
  uint64_t invalid = 0;          // object without a name, or no reason
  uint64_t failed = 0;           // API errors
};

// The core/v1 events resource.
ApiResource EventResource();

class EventRecorder : public std::enable_shared_from_this<EventRecorder> {
 public:
  static std::shared_ptr<EventRecorder> Create(std::shared_ptr<Client> client, EventRecorderOptions options = {});

  // `object` is the involved object as read from the API (kind, apiVersion, metadata).
  // `reason` is UpperCamelCase (e.g. "Promoted"); `message` is for humans.
  void Record(const json& object, EventType type, const std::string& reason, const std::string& message);
  void Normal(const json& object, const std::string& reason, const std::string& message) {
    Record(object, EventType::kNormal, reason, message);
  }
  void Warning(const json& object, const std::string& reason, const std::string& message) {
    Record(object, EventType::kWarning, reason, message);
  }

  // Waits until every queued event was written (or failed). For tests and shutdown.
  asio::awaitable<void> Flush();
  // New events are dropped from now on; queued ones are still written.
  void Shutdown() { shut_down_ = true; }

  size_t pending() const { return queue_.size(); }
  const EventRecorderStats& stats() const { return stats_; }

 private:
  EventRecorder(std::shared_ptr<Client> client, EventRecorderOptions options);

  struct Pending {
    std::string series_key;
    json involved;
    std::string ns;
    EventType type;
    std::string reason;
    std::string message;
    core::TimePoint time;
  };
  struct Series {
    std::string name;
    std::string ns;
    int64_t count = 0;
    core::TimePoint last_seen;
  };
  struct Bucket {
    double tokens;
    core::TimePoint at;
  };

  bool Allow(const std::string& object_key, core::TimePoint now);
  asio::awaitable<void> Drain();
  asio::awaitable<void> Write(const Pending& event);
  json NewEvent(const Pending& event, const std::string& name) const;
  std::string NextName(const std::string& object_name);
  void Prune(core::TimePoint now);

  std::shared_ptr<Client> client_;
  EventRecorderOptions options_;
  const core::Clock& clock_;
  ApiResource events_;

  std::deque<Pending> queue_;
  std::unordered_map<std::string, Series> series_;
  std::unordered_map<std::string, Bucket> buckets_;
  uint64_t last_suffix_ = 0;
  bool draining_ = false;
  bool shut_down_ = false;
  asio::steady_timer idle_signal_;
  EventRecorderStats stats_;
};

}  // namespace sluice::kube
