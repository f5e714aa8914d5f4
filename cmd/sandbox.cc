// `sluice sandbox`: a whole canary rollout on one machine (controller/sandbox_run.h).
#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <string>

#include "sandbox/demo/run.h"
#include "sandbox/demo/scenario.h"

namespace sluice {

CLI::App* RegisterSandboxCommand(CLI::App& app, std::function<int()>& run) {
  auto o = std::make_shared<demo::SandboxOptions>();
  auto timeout = std::make_shared<int>(120);
  CLI::App* cmd = app.add_subcommand(
      "sandbox", "Run a whole canary rollout on this machine: API emulator, Prometheus, traffic, controller");
  std::string names;
  for (const auto& n : demo::ScenarioNames()) names += (names.empty() ? "" : ", ") + n;
  // Checked in RunSandbox, so an unknown name gets the list of scenarios and exit code 2.
  cmd->add_option("--scenario", o->scenario, "what to show: " + names)->capture_default_str();
  cmd->add_flag("--keep", o->keep, "stay up at the end (until Ctrl-C) to explore with kubectl and Prometheus");
  cmd->add_flag("--headless", o->headless, "plain output without colours (for CI and logs)");
  cmd->add_option("--listen-host", o->listen_host, "loopback address every part listens on")->capture_default_str();
  cmd->add_option("--api-port", o->api_port, "port of the Kubernetes API emulator (0: any free port)");
  cmd->add_option("--prometheus-port", o->prometheus_port, "port of Prometheus (0: any free port)");
  cmd->add_option("--traffic-port", o->traffic_port, "port of the traffic simulator's /metrics (0: any free port)");
  cmd->add_option("--examples", o->examples_dir, "the example app (default: examples/podinfo of this checkout)");
  cmd->add_option("--crds", o->crds_dir, "Sluice's CRDs (default: crds/ of this checkout)");
  cmd->add_option("--fixture-crds", o->fixture_crds_dir,
                  "Gateway API and Istio CRDs (default: $SLUICE_CRD_DIR, else ../shared/fixtures/crds)");
  cmd->add_option("--step-timeout", *timeout, "seconds each scenario step may take")
      ->check(CLI::Range(5, 3600))
      ->capture_default_str();
  run = [o, timeout] {
    o->step_timeout = std::chrono::seconds(*timeout);
    return demo::RunSandbox(*o);
  };
  return cmd;
}

}  // namespace sluice
