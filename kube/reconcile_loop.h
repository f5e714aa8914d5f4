// The worker loop every reconciler shares: take a key from the queue, reconcile it, forget
// its failures on success, back off on failure when retrying can help, and mark it done.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <exception>
#include <functional>
#include <memory>
#include <string>

#include "kube/work_queue.h"

namespace sluice::kube {

// Logs and counts a failed reconcile; returns whether to retry the key with backoff.
using ReconcileErrorHandler = std::function<bool(const std::string& key, const std::exception& error)>;

// Runs until the queue shuts down. An ApiError whose retry advice is kNever (an invalid
// object: retrying the same request fails the same way) is not retried unless `on_error`
// says so; everything else is retried when `on_error` returns true.
boost::asio::awaitable<void> ProcessQueue(std::shared_ptr<WorkQueue> queue,
                                          std::function<boost::asio::awaitable<void>(std::string key)> reconcile,
                                          ReconcileErrorHandler on_error);

// The usual answer for on_error: retry unless the error is an ApiError that retrying cannot fix.
bool RetryHelps(const std::exception& error);

}  // namespace sluice::kube
