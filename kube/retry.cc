#include "kube/retry.h"

#include "core/api_error.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <random>

namespace sluice::kube {

boost::asio::awaitable<nlohmann::json> RetryOnConflict(std::function<boost::asio::awaitable<nlohmann::json>()> attempt,
                                                       int max_attempts) {
  thread_local std::mt19937 rng{std::random_device{}()};
  for (int i = 1;; ++i) {
    try {
      co_return co_await attempt();
    } catch (const core::ApiError& e) {
      if (!e.IsConflict() || i >= max_attempts) throw;
    }
    // As client-go's DefaultRetry: ~10 ms with a little jitter, so racing writers drift apart.
    std::uniform_int_distribution<int> jitter(10, 12);
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, std::chrono::milliseconds(jitter(rng)));
    co_await timer.async_wait(boost::asio::use_awaitable);
  }
}

}  // namespace sluice::kube
