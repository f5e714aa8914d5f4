#include "cmd/commands.h"

#include <functional>
#include <map>
#include <string>

namespace sluice {

// Each subcommand lives in its own file (cmd_<name>.cc) and registers itself here.
CLI::App* RegisterEmulatorCommand(CLI::App& app, std::function<int()>& run);
CLI::App* RegisterControllerCommand(CLI::App& app, std::function<int()>& run);
CLI::App* RegisterAnalyzeCommand(CLI::App& app, std::function<int()>& run);
// The user commands (get, status, watch, abort, ...) share flags, so they register together.
void RegisterCliCommands(CLI::App& app, std::map<CLI::App*, std::function<int()>>& runners);
CLI::App* RegisterLoadTesterCommand(CLI::App& app, std::function<int()>& run);
CLI::App* RegisterSandboxCommand(CLI::App& app, std::function<int()>& run);
CLI::App* RegisterFaultProxyCommand(CLI::App& app, std::function<int()>& run);

namespace {
std::map<CLI::App*, std::function<int()>>& Runners() {
  static std::map<CLI::App*, std::function<int()>> runners;
  return runners;
}
}  // namespace

void RegisterCommands(CLI::App& app) {
  for (auto* reg : {&RegisterEmulatorCommand, &RegisterControllerCommand, &RegisterAnalyzeCommand,
                    &RegisterLoadTesterCommand, &RegisterSandboxCommand, &RegisterFaultProxyCommand}) {
    std::function<int()> run;
    CLI::App* sub = reg(app, run);
    Runners()[sub] = run;
  }
  RegisterCliCommands(app, Runners());
}

int RunSelectedCommand(CLI::App& /*app*/) {
  for (auto& [sub, run] : Runners())
    if (sub->parsed()) return run();
  return 2;
}

}  // namespace sluice
