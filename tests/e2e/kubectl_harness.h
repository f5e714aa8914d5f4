// The real kubectl against `sluice emulator` started as a child process on a free loopback
// port: the same pairing a user gets from the README's first command.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace sluice::testing {

class EmulatorProcess {
 public:
  // extra_args e.g. {"--tls"} or {"--ready-delay","300"}.
  explicit EmulatorProcess(const std::vector<std::string>& extra_args = {});
  const std::string& kubeconfig() const { return kubeconfig_; }
  std::string Logs() const { return process_->Stdout() + process_->Stderr(); }

 private:
  TempDir dir_;
  std::string kubeconfig_;
  std::unique_ptr<BackgroundProcess> process_;
};

// kubectl with its own discovery cache (kubectl caches discovery for hours per host:port).
class Kubectl {
 public:
  // `binary` is "kubectl" from PATH unless a test runs one of KubectlBinaries().
  explicit Kubectl(const EmulatorProcess& emulator, std::string binary = "kubectl");
  explicit Kubectl(std::string kubeconfig);
  ProcessResult operator()(const std::vector<std::string>& args, const std::string& stdin_text = "") const;
  // Runs and requires exit 0; returns stdout.
  std::string Ok(const std::vector<std::string>& args, const std::string& stdin_text = "") const;
  std::unique_ptr<BackgroundProcess> Background(const std::vector<std::string>& args) const;
  std::map<std::string, std::string> Env() const;

 private:
  std::string kubeconfig_;
  std::string binary_ = "kubectl";
  TempDir cache_;
};

// `sluice emulator` as a process with the fixture CRDs loaded and Sluice's own CRDs applied
// by kubectl and Established: the cluster a `sluice controller` subprocess runs against.
class SluiceCrdCluster {
 public:
  SluiceCrdCluster(const std::string& fixture_crd_dir, const std::string& ready_delay_ms);
  const EmulatorProcess& emulator() const { return emulator_; }
  const Kubectl& kubectl() const { return kubectl_; }

 private:
  EmulatorProcess emulator_;
  Kubectl kubectl_;
};

// The port of /metrics, /healthz and /readyz that `sluice controller --listen 127.0.0.1:0` logs
// once it serves them; 0 when it has not within `deadline`.
uint16_t WaitForOpsPort(const BackgroundProcess& controller, std::chrono::milliseconds deadline);

std::string TestData(const std::string& name);  // path of tests/e2e/testdata/<name>
bool HaveKubectl();
// Every kubectl the suite should be known to work with on this machine: the one on PATH, and
// Debian 12's kubernetes-client (1.20) where scripts/install-deps.sh unpacked it beside a newer
// one ($SLUICE_KUBECTL_DEBIAN, else ~/.cache/sluice/kubectl-debian/usr/bin/kubectl).
std::vector<std::string> KubectlBinaries();
// "v1.20.2": the client's own GitVersion.
std::string KubectlVersion(const std::string& binary);

}  // namespace sluice::testing
