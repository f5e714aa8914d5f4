// The cluster of a fault run: the API emulator in this process (its Deployment simulator makes
// pods ready), the seeded fault proxy in front of it, and `sluice controller` as a child
// process whose kubeconfig names the proxy, so every request and watch of the controller
// crosses the faults while the test writes and reads the emulator directly.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "kube/client.h"
#include "sandbox/emulator/emulator.h"
#include "sandbox/faults/fault_proxy.h"
#include "tests/support/process.h"

namespace sluice::testing::faults {

struct ClusterOptions {
  sandbox::faults::FaultOptions faults;
  // How long the simulated Deployment controller takes to make new pods ready.
  std::chrono::milliseconds ready_delay{500};
  std::string fixture_crd_dir;                // holds gateway-api-v1.6.1-httproutes.yaml
  std::string log_dir;                        // each controller process's output goes to controller-<n>.log
  std::string field_manager = "faults-test";  // of the test's own writes
};

class FaultCluster {
 public:
  // Starts the emulator with Sluice's CRDs and the HTTPRoute CRD, and the proxy. Throws
  // std::runtime_error when one of them cannot start.
  explicit FaultCluster(ClusterOptions options);
  ~FaultCluster();
  FaultCluster(const FaultCluster&) = delete;
  FaultCluster& operator=(const FaultCluster&) = delete;

  sandbox::Emulator& emulator() { return emulator_; }
  sandbox::faults::FaultProxy& proxy() { return *proxy_; }

  // `sluice controller` against the proxy: no leader election (one replica at a time).
  void StartController();
  // SIGKILL, as a node failure would: nothing is flushed. The process is reaped and its
  // output kept in the log directory.
  void KillController();
  // SIGTERM at the end of a run.
  void StopController();
  // False when the controller process ended on its own; `exit` then says how.
  bool ControllerAlive(std::string* exit = nullptr);
  int controller_starts() const { return starts_; }
  std::string ControllerLog(int n) const;  // the path of the n-th process's output (1-based)

  // The test's writes, straight to the emulator under its own field manager. Throw on error.
  nlohmann::json Create(const kube::ApiResource& res, const nlohmann::json& object);
  nlohmann::json Patch(const kube::ApiResource& res, const std::string& ns, const std::string& name,
                       kube::PatchType type, const nlohmann::json& patch);

  static kube::ApiResource Deployments();
  static kube::ApiResource Canaries();
  static kube::ApiResource AlertProviders();

 private:
  template <typename T>
  T Sync(boost::asio::awaitable<T> op) {
    return boost::asio::co_spawn(io_, std::move(op), boost::asio::use_future).get();
  }
  void SaveLog();
  void PrepareBinary();

  ClusterOptions options_;
  sandbox::Emulator emulator_;
  std::unique_ptr<sandbox::faults::FaultProxy> proxy_;
  TempDir dir_;
  std::string kubeconfig_;  // names the proxy
  std::string binary_;      // this run's sluice
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread io_thread_;
  std::shared_ptr<kube::Client> client_;  // to the emulator, for the test's writes
  std::unique_ptr<BackgroundProcess> controller_;
  int starts_ = 0;
};

}  // namespace sluice::testing::faults
