// `sluice sandbox`: a whole canary rollout on one machine. Starts on loopback the API
// emulator (in process), the traffic simulator (in process), Prometheus and the controller
// (child processes in their own process groups), delivers the example app's versions of a
// scenario, and shows each rollout live. SIGINT/SIGTERM stop everything it started.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace sluice::demo {

struct SandboxOptions {
  std::string scenario = "default";
  bool keep = false;      // stay up at the end until SIGINT/SIGTERM; keep the work dir
  bool headless = false;  // plain lines, no colours (also when stdout is not a terminal)
  std::string listen_host = "127.0.0.1";
  uint16_t api_port = 0;  // 0: any free port
  uint16_t prometheus_port = 0;
  uint16_t traffic_port = 0;
  std::string examples_dir;    // default: examples/podinfo of the checkout this binary was built in
  std::string crds_dir;        // default: crds/ of that checkout
  std::string fixture_crds_dir;  // Gateway API / Istio CRDs: $SLUICE_CRD_DIR, else ../shared/fixtures/crds
  std::chrono::seconds step_timeout{120};
  int deployment_ready_delay_ms = 300;
};

// Returns 0 when the scenario reached every expected outcome (or after SIGINT/SIGTERM with
// --keep once it had), 1 when a step failed or something could not start, 2 for bad options.
int RunSandbox(const SandboxOptions& options);

}  // namespace sluice::demo
