// `sluice loadtester`: serves the gate endpoints and the load/command task runner
// (controller/loadtester.h) until SIGINT or SIGTERM.
#include <CLI/CLI.hpp>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <string>

#include "loadtester/loadtester.h"

namespace sluice {

namespace {

struct LoadTesterFlags {
  std::string listen = "0.0.0.0:8080";
  int max_rps = 1000;
};

int RunLoadTester(const LoadTesterFlags& flags) {
  auto colon = flags.listen.rfind(':');
  loadtester::LoadTesterOptions o;
  o.max_rps = flags.max_rps;
  try {
    if (colon == std::string::npos) throw std::invalid_argument("no port");
    o.host = flags.listen.substr(0, colon);
    if (o.host.starts_with("[") && o.host.ends_with("]")) o.host = o.host.substr(1, o.host.size() - 2);
    if (o.host.empty()) o.host = "0.0.0.0";
    int port = std::stoi(flags.listen.substr(colon + 1));
    if (port < 0 || port > 65535) throw std::out_of_range("port");
    o.port = static_cast<uint16_t>(port);
  } catch (const std::exception&) {
    spdlog::error("--listen \"{}\" is not HOST:PORT (port 0 = any free port)", flags.listen);
    return 2;
  }
  // Signals are taken synchronously below, so block them before any thread starts.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  loadtester::LoadTester tester(o);
  try {
    tester.Start();
  } catch (const std::exception& e) {
    spdlog::error("cannot serve {}: {}", flags.listen, e.what());
    return 1;
  }
  // Tests and scripts read the bound port from this line.
  std::printf("sluice loadtester listening on %s:%u\n", o.host.c_str(), static_cast<unsigned>(tester.port()));
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  spdlog::info("stopping on signal {}", sig);
  tester.Stop();
  return 0;
}

}  // namespace

CLI::App* RegisterLoadTesterCommand(CLI::App& app, std::function<int()>& run) {
  auto flags = std::make_shared<LoadTesterFlags>();
  CLI::App* cmd = app.add_subcommand("loadtester", "Serve rollout gates and run load tests for webhooks");
  cmd->add_option("--listen", flags->listen, "address to serve (port 0 = any free port)");
  cmd->add_option("--max-rps", flags->max_rps, "highest request rate a load task may ask for")
      ->check(CLI::Range(1, 100000));
  run = [flags] { return RunLoadTester(*flags); };
  return cmd;
}

}  // namespace sluice
