#include "kube/reconcile_loop.h"

#include <optional>

#include "kube/api_error.h"

namespace sluice::kube {

bool RetryHelps(const std::exception& error) {
  const auto* api = dynamic_cast<const ApiError*>(&error);
  return !api || api->retry_advice() != RetryAdvice::kNever;
}

boost::asio::awaitable<void> ProcessQueue(std::shared_ptr<WorkQueue> queue,
                                          std::function<boost::asio::awaitable<void>(std::string key)> reconcile,
                                          ReconcileErrorHandler on_error) {
  for (;;) {
    auto next = queue->Get();
    std::optional<std::string> key = co_await std::move(next);
    if (!key) co_return;
    bool retry = false;
    try {
      auto run = reconcile(*key);
      co_await std::move(run);
      queue->Forget(*key);
    } catch (const std::exception& e) {
      retry = on_error(*key, e);
    }
    if (retry) queue->AddRateLimited(*key);
    queue->Done(*key);
  }
}

}  // namespace sluice::kube
