// What the user commands do, apart from their flags (cmd/cli.cc): each runs against the
// cluster the flags name and returns the process exit code. Output goes to stdout, errors
// to stderr in kubectl's words.
#pragma once

#include <functional>
#include <string>

namespace sluice::cli {

// --kubeconfig (else KUBECONFIG, ~/.kube/config), --context, -n, -A, as kubectl reads them.
struct ClusterFlags {
  std::string kubeconfig;
  std::string context;
  std::string ns;
  bool all_namespaces = false;
};

// Runs a command body, turning API and config errors into kubectl-like messages and exit 1.
int Guarded(const std::function<int()>& body);

// sluice get canaries|gitrepositories|kustomizations
int Get(const ClusterFlags& flags, const std::string& kind_name);
// sluice status NAME: the rollout as a tree.
int Status(const ClusterFlags& flags, const std::string& name);
// sluice watch NAME: the tree redrawn as it changes, until `timeout_text` ("" = never).
int Watch(const ClusterFlags& flags, const std::string& name, const std::string& timeout_text);
// sluice abort|promote|retry NAME: the request annotation; with `wait`, the controller's answer.
int Request(const ClusterFlags& flags, const std::string& verb, const std::string& name, const std::string& value,
            bool wait);
// sluice pause|resume NAME: spec.suspend.
int Suspend(const ClusterFlags& flags, const std::string& name, bool suspend);
// sluice reconcile canary|source|sync NAME
int Reconcile(const ClusterFlags& flags, const std::string& kind_name, const std::string& name);

}  // namespace sluice::cli
