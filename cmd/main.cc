// `sluice`: one binary, one subcommand per job.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "cmd/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"Sluice: GitOps and progressive delivery for Kubernetes"};
  app.require_subcommand(1);
  sluice::RegisterCommands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return sluice::RunSelectedCommand(app);
}
