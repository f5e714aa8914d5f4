#include "tests/faults/harness/store_tap.h"

#include <cstdlib>
#include <iostream>
#include <string>

#include "sandbox/emulator/api_server.h"
#include "sandbox/emulator/store.h"

namespace sluice::testing::faults {

StoreTap::StoreTap(sandbox::Emulator& emulator, InvariantChecker& checker, SteadyTime start)
    : emulator_(emulator), checker_(checker), start_(start) {
  thread_ = std::thread([this] { Loop(); });
  sandbox::Store& store = emulator_.api().store();
  for (const char* key : {kDeployments, kServices, kEvents, kRoutes, kCanaries}) {
    // After the current RV: the checker starts from an empty cluster, created by the test.
    uint64_t id = store.Watch(key, store.CurrentRv(), [this](const sandbox::EventPtr& ev) {
      // Under the store's lock: copy and hand over, nothing more.
      Change c{ev->rv,
               ev->key,
               ev->type,
               *ev->object,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(),
               std::chrono::system_clock::now()};
      std::lock_guard lock(queue_mu_);
      queue_.push_back(std::move(c));
      queue_cv_.notify_one();
    });
    watches_.push_back(id);
  }
}

StoreTap::~StoreTap() { Stop(); }

void StoreTap::Stop() {
  if (!thread_.joinable()) return;
  for (uint64_t id : watches_) emulator_.api().store().Unwatch(id);
  watches_.clear();
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
    queue_cv_.notify_one();
  }
  thread_.join();
}

void StoreTap::Loop() {
  // Every change of the tracked apps, for reading a violation's sequence afterwards.
  const char* trace_env = std::getenv("SLUICE_FAULTS_TRACE");
  bool trace = trace_env && *trace_env && std::string(trace_env) != "0";
  for (;;) {
    std::deque<Change> batch;
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) return;
      batch.swap(queue_);
    }
    std::lock_guard lock(mu_);
    for (const auto& c : batch) {
      checker_.Apply(c);
      if (trace && checker_.Tracks(c)) std::cerr << "fault run: trace " << Digest(c) << "\n";
    }
    changes_ += batch.size();
    // Violations as they are found, so a long run shows them when they happen.
    const auto& found = checker_.violations();
    for (; printed_ < found.size(); ++printed_)
      std::cerr << "fault run: violation " << found[printed_].Describe() << "\n";
    changed_.notify_all();
  }
}

bool StoreTap::WaitUntil(const std::function<bool(InvariantChecker&)>& pred, std::chrono::milliseconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  std::unique_lock lock(mu_);
  while (!pred(checker_)) {
    if (std::chrono::steady_clock::now() >= until) return false;
    changed_.wait_for(lock, std::chrono::milliseconds(100));
  }
  return true;
}

uint64_t StoreTap::changes() {
  std::lock_guard lock(mu_);
  return changes_;
}

}  // namespace sluice::testing::faults
