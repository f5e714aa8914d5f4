// The user's side of Sluice, also installed as the kubectl plugin `kubectl-sluice`:
//   sluice get canaries|gitrepositories|kustomizations [-A]
//   sluice status NAME            a tree of the rollout
//   sluice watch NAME             the same, redrawn as it changes
//   sluice abort|promote|retry NAME   the request annotations the controller answers in status
//   sluice pause|resume NAME      spec.suspend
//   sluice reconcile canary|source|sync NAME
// Flags like kubectl's: --kubeconfig (else KUBECONFIG, ~/.kube/config), --context, -n, -A.
#include <CLI/CLI.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "cli/commands.h"

namespace sluice {

namespace {

using cli::ClusterFlags;
using cli::Guarded;

void AddClusterFlags(CLI::App* cmd, ClusterFlags& flags, bool all_namespaces) {
  cmd->add_option("--kubeconfig", flags.kubeconfig, "kubeconfig file (default: KUBECONFIG, ~/.kube/config)");
  cmd->add_option("--context", flags.context, "kubeconfig context");
  cmd->add_option("-n,--namespace", flags.ns, "namespace (default: the context's)");
  if (all_namespaces) cmd->add_flag("-A,--all-namespaces", flags.all_namespaces, "list across all namespaces");
}

}  // namespace

void RegisterCliCommands(CLI::App& app, std::map<CLI::App*, std::function<int()>>& runners) {
  auto flags = std::make_shared<ClusterFlags>();
  auto name = std::make_shared<std::string>();
  auto kind = std::make_shared<std::string>();

  CLI::App* get = app.add_subcommand("get", "List canaries, gitrepositories or kustomizations");
  get->add_option("kind", *kind, "canaries | gitrepositories | kustomizations")->required();
  AddClusterFlags(get, *flags, true);
  runners[get] = [=] { return Guarded([&] { return cli::Get(*flags, *kind); }); };

  CLI::App* status = app.add_subcommand("status", "Show a Canary's rollout as a tree");
  status->add_option("name", *name, "Canary name")->required();
  AddClusterFlags(status, *flags, false);
  runners[status] = [=] { return Guarded([&] { return cli::Status(*flags, *name); }); };

  auto timeout = std::make_shared<std::string>();
  CLI::App* watch = app.add_subcommand("watch", "Show a Canary's rollout live until Ctrl-C");
  watch->add_option("name", *name, "Canary name")->required();
  watch->add_option("--timeout", *timeout, "stop after this long (e.g. 5m; default: never)");
  AddClusterFlags(watch, *flags, false);
  runners[watch] = [=] { return Guarded([&] { return cli::Watch(*flags, *name, *timeout); }); };

  auto value = std::make_shared<std::string>();
  auto wait = std::make_shared<bool>(false);
  for (const char* verb : {"abort", "promote", "retry"}) {
    std::string help = std::string("Ask the controller to ") + verb + " a Canary's rollout (annotation sluice.dev/" +
                       verb + ")";
    CLI::App* cmd = app.add_subcommand(verb, help);
    cmd->add_option("name", *name, "Canary name")->required();
    if (std::string(verb) == "abort")
      cmd->add_option("--reason", *value, "why; recorded in the Failed condition and the Event");
    cmd->add_flag("--wait", *wait, "wait for the controller's answer and print it");
    AddClusterFlags(cmd, *flags, false);
    std::string v = verb;
    runners[cmd] = [=] { return Guarded([&] { return cli::Request(*flags, v, *name, *value, *wait); }); };
  }

  for (bool suspend : {true, false}) {
    CLI::App* cmd = app.add_subcommand(suspend ? "pause" : "resume",
                                       suspend ? "Hold a Canary where it is (spec.suspend: true)"
                                               : "Let a paused Canary go on (spec.suspend: false)");
    cmd->add_option("name", *name, "Canary name")->required();
    AddClusterFlags(cmd, *flags, false);
    runners[cmd] = [=] { return Guarded([&] { return cli::Suspend(*flags, *name, suspend); }); };
  }

  CLI::App* reconcile = app.add_subcommand("reconcile", "Reconcile a canary, source (GitRepository) or sync now");
  reconcile->add_option("kind", *kind, "canary | source | sync")->required();
  reconcile->add_option("name", *name, "object name")->required();
  AddClusterFlags(reconcile, *flags, false);
  runners[reconcile] = [=] { return Guarded([&] { return cli::Reconcile(*flags, *kind, *name); }); };
}

}  // namespace sluice
