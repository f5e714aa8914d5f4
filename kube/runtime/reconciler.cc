#include "kube/runtime/reconciler.h"

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
  co_await StartWatches();
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
