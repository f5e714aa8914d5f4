// `sluice emulator`: serves the Kubernetes API emulator until SIGINT or SIGTERM, so kubectl
// and the controller can be pointed at a cluster that needs nothing but this binary.
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <string>

#include "sandbox/emulator/emulator.h"

namespace sluice {

namespace {

struct EmulatorFlags {
  std::string listen = "127.0.0.1:0";
  std::string kubeconfig = "sluice-emulator.kubeconfig";
  bool tls = false;
  std::string auth = "none";
  std::string crds;
  int ready_delay_ms = 1500;
};

int RunEmulator(const EmulatorFlags& flags) {
  // Block the stop signals before any thread starts, so every thread inherits the mask and
  // only sigwait below receives them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  try {
    sandbox::EmulatorOptions options;
    options.listen = flags.listen;
    options.tls = flags.tls;
    options.auth = flags.auth;
    options.kubeconfig_path = flags.kubeconfig;
    options.deployment_ready_delay = std::chrono::milliseconds(flags.ready_delay_ms);
    sandbox::Emulator emulator(options);
    size_t crds = 0;
    if (!flags.crds.empty()) crds = emulator.LoadCrdsFromDirectory(flags.crds);
    emulator.Start();
    std::cout << "sluice emulator: serving the Kubernetes API at " << emulator.server_url() << "\n"
              << "kubeconfig: " << flags.kubeconfig << "\n";
    if (crds) std::cout << "loaded " << crds << " CRDs from " << flags.crds << "\n";
    std::cout << "try: KUBECACHEDIR=$(mktemp -d) kubectl --kubeconfig " << flags.kubeconfig << " get namespaces\n"
              << std::flush;
    int sig = 0;
    sigwait(&stop, &sig);
    std::cout << "sluice emulator: " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << ", stopping\n" << std::flush;
    emulator.Stop();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "sluice emulator: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace

CLI::App* RegisterEmulatorCommand(CLI::App& app, std::function<int()>& run) {
  auto flags = std::make_shared<EmulatorFlags>();
  CLI::App* cmd = app.add_subcommand("emulator", "Serve an in-memory Kubernetes API (for kubectl, tests and demos)");
  cmd->add_option("--listen", flags->listen, "HOST:PORT to listen on; port 0 picks a free port")
      ->capture_default_str();
  cmd->add_option("--kubeconfig", flags->kubeconfig, "Where to write a kubeconfig for this emulator")
      ->capture_default_str();
  cmd->add_flag("--tls", flags->tls, "Serve HTTPS with a generated CA and certificates");
  cmd->add_option("--auth", flags->auth, "Authentication: none, token or cert (cert needs --tls)")
      ->check(CLI::IsMember({"none", "token", "cert"}))
      ->capture_default_str();
  cmd->add_option("--crds", flags->crds, "Preload every CRD YAML file of this directory")->check(CLI::ExistingDirectory);
  cmd->add_option("--ready-delay", flags->ready_delay_ms, "Milliseconds until a Deployment rollout becomes ready")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  run = [flags] { return RunEmulator(*flags); };
  return cmd;
}

}  // namespace sluice
