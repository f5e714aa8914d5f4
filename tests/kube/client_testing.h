// Running the client's coroutines to completion from a Catch2 test.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <functional>
#include <optional>
#include <stdexcept>

namespace sluice::testing {

// Runs `make()` on `ioc` until it finishes (or `limit` passes) and returns its value or
// rethrows its exception. The io_context outlives the call, so clients keep their connections.
template <class T>
T RunCo(boost::asio::io_context& ioc, std::function<boost::asio::awaitable<T>()> make,
        std::chrono::milliseconds limit = std::chrono::seconds(60)) {
  std::optional<T> result;
  std::exception_ptr error;
  bool finished = false;
  boost::asio::co_spawn(ioc, make(), [&](std::exception_ptr e, T value) {
    finished = true;
    ioc.stop();  // a watch left open elsewhere must not keep run_for() busy
    if (e)
      error = e;
    else
      result.emplace(std::move(value));
  });
  ioc.restart();
  ioc.run_for(limit);
  if (!finished) throw std::runtime_error("coroutine did not finish within the test's limit");
  if (error) std::rethrow_exception(error);
  return std::move(*result);
}

}  // namespace sluice::testing
