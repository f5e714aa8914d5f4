// `sluice faultproxy`: a seeded fault-injecting proxy between a client (`sluice controller`,
// kubectl) and a plain-HTTP API server (`sluice emulator` without --tls), until SIGINT or
// SIGTERM; then it prints how many faults of each kind it injected. SIGUSR1 starts a window
// of refused connections on demand.
#include <CLI/CLI.hpp>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "core/duration.h"
#include "sandbox/faults/fault_proxy.h"

namespace sluice {

namespace {

struct FaultProxyFlags {
  std::string listen = "127.0.0.1:0";
  std::string upstream;
  uint64_t seed = 1;
  double error_rate = 0;
  double conflict_rate = 0;
  std::string max_delay = "0";
  std::string cut_watch_every;  // "" = never
  std::string refuse_for = "5s";
  std::string refuse_every = "0";
  int retry_after = 1;
  bool verbose = false;
};

std::chrono::milliseconds FaultProxyDuration(const std::string& flag, const std::string& text) {
  auto d = core::ParseDuration(text);
  if (!d) throw std::invalid_argument(flag + " \"" + text + "\" is not a duration such as 500ms, 2s or 1m");
  return *d;
}

sandbox::faults::FaultOptions FaultProxyOptionsOf(const FaultProxyFlags& flags) {
  sandbox::faults::FaultOptions o;
  o.seed = flags.seed;
  o.error_rate = flags.error_rate;
  o.conflict_rate = flags.conflict_rate;
  o.max_delay = FaultProxyDuration("--max-delay", flags.max_delay);
  if (!flags.cut_watch_every.empty()) {
    auto range = sandbox::faults::ParseDurationRange(flags.cut_watch_every);
    if (!range)
      throw std::invalid_argument("--cut-watch-every \"" + flags.cut_watch_every + "\" is not MIN-MAX such as 2s-8s");
    o.cut_watch_min = range->first;
    o.cut_watch_max = range->second;
  }
  o.refuse_for = FaultProxyDuration("--refuse-for", flags.refuse_for);
  o.refuse_every = FaultProxyDuration("--refuse-every", flags.refuse_every);
  o.retry_after_seconds = flags.retry_after;
  o.Validate();
  return o;
}

void PrintFaultCounts(const sandbox::faults::FaultCounts& counts) {
  std::printf("sluice faultproxy: %llu faults injected\n", static_cast<unsigned long long>(counts.Injected()));
  for (const auto& [name, value] : counts.Named())
    std::printf("  %s: %llu\n", name.c_str(), static_cast<unsigned long long>(value));
  std::fflush(stdout);
}

// Serves until SIGINT or SIGTERM; each SIGUSR1 starts a refusal window.
void ServeFaultProxyUntilStopped(sandbox::faults::FaultProxy& proxy, const sigset_t& signals) {
  for (;;) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig != SIGUSR1) return;
    proxy.RefuseFor();
  }
}

int RunFaultProxy(const FaultProxyFlags& flags) {
  if (flags.verbose) spdlog::set_level(spdlog::level::debug);
  sandbox::faults::FaultProxyOptions options;
  options.listen = flags.listen;
  options.upstream = flags.upstream;
  try {
    options.faults = FaultProxyOptionsOf(flags);
  } catch (const std::invalid_argument& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  // Signals are taken synchronously below, so block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  for (int sig : {SIGINT, SIGTERM, SIGUSR1}) sigaddset(&signals, sig);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  try {
    sandbox::faults::FaultProxy proxy(options);
    proxy.Start();
    // Scripts read the bound address from this line.
    std::printf("sluice faultproxy listening on %s, forwarding to %s, seed %llu\n", proxy.url().c_str(),
                flags.upstream.c_str(), static_cast<unsigned long long>(flags.seed));
    std::fflush(stdout);
    ServeFaultProxyUntilStopped(proxy, signals);
    proxy.Stop();
    PrintFaultCounts(proxy.counts());
    return 0;
  } catch (const std::exception& e) {
    spdlog::error("faultproxy: {}", e.what());
    return 1;
  }
}

}  // namespace

CLI::App* RegisterFaultProxyCommand(CLI::App& app, std::function<int()>& run) {
  auto flags = std::make_shared<FaultProxyFlags>();
  CLI::App* cmd = app.add_subcommand(
      "faultproxy", "Proxy a plain-HTTP API server, injecting errors, conflicts, delays, cut watches and refusals");
  cmd->add_option("--listen", flags->listen, "HOST:PORT to listen on (port 0 = any free port)")->capture_default_str();
  cmd->add_option("--upstream", flags->upstream, "the API server, http://HOST:PORT (an emulator without --tls)")
      ->required();
  cmd->add_option("--seed", flags->seed, "seed of every random decision")->capture_default_str();
  cmd->add_option("--error-rate", flags->error_rate, "share of requests answered 500, 503 or 429 (0 to 1)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--conflict-rate", flags->conflict_rate, "share of writes answered 409 Conflict (0 to 1)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--max-delay", flags->max_delay, "each request waits a random 0 to this long, e.g. 2s");
  cmd->add_option("--cut-watch-every", flags->cut_watch_every,
                  "cut each watch mid-chunk after a random MIN-MAX of streaming, e.g. 2s-8s");
  cmd->add_option("--refuse-for", flags->refuse_for, "how long a window of refused connections lasts")
      ->capture_default_str();
  cmd->add_option("--refuse-every", flags->refuse_every,
                  "mean time between refusal windows (0: only on SIGUSR1)")
      ->capture_default_str();
  cmd->add_option("--retry-after", flags->retry_after, "Retry-After seconds of 429 and 503 answers")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_flag("-v,--verbose", flags->verbose, "log every injected fault");
  run = [flags] { return RunFaultProxy(*flags); };
  return cmd;
}

}  // namespace sluice
