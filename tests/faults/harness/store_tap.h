// Feeds the invariant checker every change the in-process emulator commits, straight from its
// store (never through the fault proxy, so the checker sees what the cluster holds, not what a
// faulty network lets through).
//
// The store calls its watchers under its own lock, in resourceVersion order across all
// kinds; the tap only copies each change into a queue there, and one thread of its own
// applies them to the checker. Readers (the driver) take the tap's lock through With() and
// WaitUntil().
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "sandbox/emulator/emulator.h"
#include "tests/faults/harness/invariants.h"

namespace sluice::testing::faults {

using SteadyTime = std::chrono::steady_clock::time_point;

class StoreTap {
 public:
  // Subscribes to every kind the checker reads. `start` is time zero of Change::at.
  StoreTap(sandbox::Emulator& emulator, InvariantChecker& checker, SteadyTime start);
  ~StoreTap();
  StoreTap(const StoreTap&) = delete;
  StoreTap& operator=(const StoreTap&) = delete;

  // Unsubscribes, applies what is queued, and joins the thread. Idempotent.
  void Stop();

  template <typename F>
  auto With(F&& f) {
    std::lock_guard lock(mu_);
    return f(checker_);
  }
  // Waits until `pred` holds, re-checking after every change and every 100 ms; false at the
  // deadline.
  bool WaitUntil(const std::function<bool(InvariantChecker&)>& pred, std::chrono::milliseconds deadline);
  uint64_t changes();

 private:
  void Loop();

  sandbox::Emulator& emulator_;
  InvariantChecker& checker_;
  SteadyTime start_;
  std::vector<uint64_t> watches_;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Change> queue_;
  bool stopping_ = false;

  std::mutex mu_;  // the checker
  std::condition_variable changed_;
  uint64_t changes_ = 0;
  size_t printed_ = 0;
  std::thread thread_;
};

}  // namespace sluice::testing::faults
