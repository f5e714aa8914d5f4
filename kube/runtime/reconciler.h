// The base every reconciler stands on: a work queue of object keys, N workers that take a
// key, reconcile it, forget its failures on success and back off on failure as the
// reconciler's stated RetryPolicy says, and a Run()/Stop() life the Manager drives.
//
// A reconciler says only what differs: which caches it watches (StartWatches), what one
// reconcile does (Reconcile), and how it counts a failure (OnReconcileError).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <string>

#include "core/clock.h"
#include "kube/runtime/runnable.h"
#include "kube/work_queue.h"

namespace sluice::kube::runtime {

// How a reconciler answers a failed reconcile. Each reconciler states its own, with why.
struct RetryPolicy {
  std::chrono::milliseconds base_delay{200};  // the first retry's backoff, doubling per failure
  std::chrono::milliseconds max_delay{60000};
  // An ApiError whose advice is kNever (the request itself is invalid) fails the same way
  // again: it is not retried unless this is set, and the next change of the object retries.
  bool retry_invalid = false;
};

// True unless the error is an ApiError that retrying cannot fix.
bool RetryHelps(const std::exception& error);

struct ReconcilerOptions {
  std::string name;  // the queue's and the logs' name: "canaries"
  std::string kind;  // what a key names, for logs: "Canary"
  int workers = 1;
  RetryPolicy retry;
  const core::Clock* clock = &core::SystemClock::Instance();
};

class Reconciler : public Runnable, public std::enable_shared_from_this<Reconciler> {
 public:
  ~Reconciler() override = default;

  const std::string& Name() const override { return options_.name; }
  // StartWatches(), then the workers until Stop().
  boost::asio::awaitable<void> Run() final;
  void Stop() final;
  bool Ready() const final { return synced_; }

  // One reconcile of a key ("namespace/name"); workers call it, tests may too.
  virtual boost::asio::awaitable<void> Reconcile(std::string key) = 0;

  void Enqueue(const std::string& key) { queue_->Add(key); }
  void EnqueueAfter(const std::string& key, std::chrono::nanoseconds delay) { queue_->AddAfter(key, delay); }
  size_t QueueDepth() const { return queue_->Len(); }

 protected:
  Reconciler(boost::asio::any_io_executor executor, ReconcilerOptions options);

  // Resolves kinds, starts informers and waits for their caches; throws when it cannot run.
  virtual boost::asio::awaitable<void> StartWatches() = 0;
  virtual void StopWatches() = 0;
  // A failed reconcile, after the base logged it; `will_retry` is the policy's answer.
  virtual void OnReconcileError(const std::string& /*key*/, const std::exception& /*error*/, bool /*will_retry*/) {}
  // Every 200 ms while running, on the executor (for gauges such as the queue depth).
  virtual void OnTick() {}

  const boost::asio::any_io_executor& executor() const { return executor_; }
  // True once Stop() was called: long waits inside a reconcile end early.
  bool Stopping() const { return stopped_; }

 private:
  boost::asio::awaitable<void> StartWatchesRetrying();
  boost::asio::awaitable<void> Worker();
  bool HandleError(const std::string& key, const std::exception& error);

  boost::asio::any_io_executor executor_;
  ReconcilerOptions options_;
  std::shared_ptr<WorkQueue> queue_;
  std::atomic<bool> synced_{false};  // read by /readyz on the ops server's thread
  bool stopped_ = false;
};

}  // namespace sluice::kube::runtime
