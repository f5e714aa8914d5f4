// Subcommands of the sluice binary. Each registers its flags and runs when selected.
#pragma once

#include <CLI/CLI.hpp>

namespace sluice {

void RegisterCommands(CLI::App& app);
// Runs the subcommand the user chose; returns the process exit code.
int RunSelectedCommand(CLI::App& app);

}  // namespace sluice
