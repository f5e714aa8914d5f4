// `sluice analyze CANARY --from T1 --to T2`: replays a Canary's metric analysis against the
// data Prometheus stored for a past window, one step per analysis interval, and prints each
// metric's value and verdict, so thresholds can be tuned before a rollout depends on them.
// It runs the controller's own checker with the evaluation time set to each step.
#include <CLI/CLI.hpp>

#include <functional>
#include <memory>

#include "cli/analyze.h"

namespace sluice {

CLI::App* RegisterAnalyzeCommand(CLI::App& app, std::function<int()>& run) {
  auto flags = std::make_shared<cli::AnalyzeFlags>();
  CLI::App* cmd = app.add_subcommand("analyze", "Replay a Canary's metric analysis over a past window of Prometheus data");
  cmd->add_option("canary", flags->canary, "name of the Canary")->required();
  cmd->add_option("--from", flags->from, "start: RFC 3339 time, or -DURATION before now (e.g. -1h)")->required();
  cmd->add_option("--to", flags->to, "end: RFC 3339 time, -DURATION, or now (default)");
  cmd->add_option("--step", flags->step, "time between replayed steps (default: the Canary's analysis interval)");
  cmd->add_option("-n,--namespace", flags->ns, "namespace of the Canary (default: the context's)");
  cmd->add_option("--kubeconfig", flags->kubeconfig, "kubeconfig file (default: KUBECONFIG, ~/.kube/config or in-cluster)");
  cmd->add_option("--context", flags->context, "kubeconfig context");
  cmd->add_option("--prometheus-address", flags->prometheus_address,
                  "Prometheus for builtin metrics, inline queries and templates without an address");
  cmd->add_option("--query-timeout", flags->query_timeout_seconds, "seconds each query may take")
      ->check(CLI::Range(1, 600));
  run = [flags] { return cli::Analyze(*flags); };
  return cmd;
}

}  // namespace sluice
