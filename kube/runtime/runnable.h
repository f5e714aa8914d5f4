// What the Manager runs: reconcilers, receivers, anything with a life of Run() until Stop().
#pragma once

#include <boost/asio/awaitable.hpp>

#include <string>

namespace sluice::kube::runtime {

class Runnable {
 public:
  virtual ~Runnable() = default;
  // For logs: "canaries", "gitrepositories", ...
  virtual const std::string& Name() const = 0;
  // Runs until Stop(). Throws when it cannot run at all (a CRD that is not installed).
  virtual boost::asio::awaitable<void> Run() = 0;
  // Called on the Manager's executor; Run() returns soon after.
  virtual void Stop() = 0;
  // Part of /readyz: true once its caches are synced. Read from the ops server's thread.
  virtual bool Ready() const { return true; }
};

}  // namespace sluice::kube::runtime
