// Re-read-and-retry for optimistic concurrency: the client never retries a 409 Conflict
// itself, because only the caller can re-read the object and re-apply its change.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <functional>

namespace sluice::kube {

// Runs `attempt` (which must GET the object afresh, change it and write it) until it does not
// end in a Conflict, at most `max_attempts` times, with a short jittered pause between tries.
// The last Conflict, or any other error, propagates.
boost::asio::awaitable<nlohmann::json> RetryOnConflict(std::function<boost::asio::awaitable<nlohmann::json>()> attempt,
                                                       int max_attempts = 5);

}  // namespace sluice::kube
