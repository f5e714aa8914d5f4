#include "kube/runtime/reconciler.h"

#include "core/backoff.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <optional>

#include "core/api_error.h"

namespace sluice::kube::runtime {

namespace asio = boost::asio;

bool RetryHelps(const std::exception& error) {
  const auto* api = dynamic_cast<const core::ApiError*>(&error);
  return !api || api->retry_advice() != core::RetryAdvice::kNever;
}

Reconciler::Reconciler(asio::any_io_executor executor, ReconcilerOptions options)
    : executor_(std::move(executor)), options_(std::move(options)) {
  WorkQueueOptions q;
  q.name = options_.name;
  q.base_delay = options_.retry.base_delay;
  q.max_delay = options_.retry.max_delay;
  queue_ = WorkQueue::Create(executor_, *options_.clock, q);
}

asio::awaitable<void> Reconciler::Run() {
  co_await StartWatchesRetrying();
  synced_ = true;
  spdlog::info("{} synced; {} worker(s)", options_.name, options_.workers);
  for (int i = 0; i < options_.workers; ++i)
    asio::co_spawn(executor_, [self = shared_from_this()]() { return self->Worker(); }, asio::detached);
  // Workers end when the queue shuts down; Run returns once Stop() was called.
  asio::steady_timer idle(executor_);
  while (!stopped_) {
    idle.expires_after(std::chrono::milliseconds(200));
    co_await idle.async_wait(asio::use_awaitable);
    OnTick();
  }
}

// The Manager checked the API before starting us, so an API error that backing off can help
// with (a reset, a 5xx, a 429) is a blip: start again for up to a minute rather than stop
// the whole process over it. Anything else ends the runnable as before.
asio::awaitable<void> Reconciler::StartWatchesRetrying() {
  core::Backoff backoff(std::chrono::milliseconds(500), std::chrono::seconds(5));
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (int attempt = 0;; ++attempt) {
    std::chrono::milliseconds wait{0};
    try {
      co_await StartWatches();
      co_return;
    } catch (const core::ApiError& e) {
      if (e.retry_advice() != core::RetryAdvice::kBackoff || stopped_ || std::chrono::steady_clock::now() > give_up)
        throw;
      wait = backoff.Delay(attempt);
      spdlog::warn("{}: starting its watches failed: {}; again in {} ms", options_.name, e.what(), wait.count());
    }
    StopWatches();  // informers a half-done start created
    asio::steady_timer timer(executor_, wait);
    co_await timer.async_wait(asio::use_awaitable);
  }
}

void Reconciler::Stop() {
  stopped_ = true;
  queue_->ShutDown();
  StopWatches();
}

bool Reconciler::HandleError(const std::string& key, const std::exception& error) {
  bool retry = options_.retry.retry_invalid || RetryHelps(error);
  spdlog::warn("reconcile of {} {} failed ({}): {}", options_.kind, key, retry ? "will retry" : "retrying cannot help",
               error.what());
  OnReconcileError(key, error, retry);
  return retry;
}

asio::awaitable<void> Reconciler::Worker() {
  auto self = shared_from_this();
  for (;;) {
    auto next = queue_->Get();
    std::optional<std::string> key = co_await std::move(next);
    if (!key) co_return;
    bool retry = false;
    try {
      auto run = Reconcile(*key);
      co_await std::move(run);
      queue_->Forget(*key);
    } catch (const std::exception& e) {
      retry = HandleError(*key, e);
    }
    if (retry) queue_->AddRateLimited(*key);
    queue_->Done(*key);
  }
}

}  // namespace sluice::kube::runtime
