// Child processes of `sluice sandbox` (Prometheus, the controller): each in a process group of
// its own, output to a log file, killed with its parent (PR_SET_PDEATHSIG) even if the
// sandbox dies without cleaning up, and stopped group-wide (SIGTERM, then SIGKILL).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sluice::demo {

class ChildProcess {
 public:
  // Starts argv (argv[0] an absolute path) with stdout and stderr appended to log_path.
  // Throws std::runtime_error naming the program when it cannot be started.
  static std::unique_ptr<ChildProcess> Start(const std::string& name, const std::vector<std::string>& argv,
                                             const std::string& log_path);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  const std::string& name() const { return name_; }
  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }
  // False once the process has exited (it is reaped here).
  bool Running();
  // The exit status once it has exited: the code, or 128 + the signal.
  int exit_status() const { return exit_status_; }
  // SIGTERM to the whole group, SIGKILL after `grace`; returns once the process is reaped.
  void Stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));
  // The last `max_bytes` of its log, for error messages.
  std::string LogTail(size_t max_bytes = 2000) const;

 private:
  ChildProcess(std::string name, pid_t pid, std::string log_path);
  std::string name_;
  pid_t pid_;
  std::string log_path_;
  bool exited_ = false;
  int exit_status_ = -1;
};

// Runs argv (argv[0] looked up on PATH) to completion within `deadline` (killed after it);
// returns the exit status (124 on the deadline, 127 when not found) and puts stdout and
// stderr together in `output`.
int RunCommand(const std::vector<std::string>& argv, std::chrono::milliseconds deadline, std::string& output);

// A port on `host` that was free a moment ago (the kernel's choice for port 0).
uint16_t PickFreePort(const std::string& host);
// True when `host:port` can be bound now.
bool PortFree(const std::string& host, uint16_t port);
// The absolute path of `program` on PATH, or "" when it is not there.
std::string FindOnPath(const std::string& program);
// This binary, for starting `sluice controller` beside the sandbox.
std::string SelfExecutable();

}  // namespace sluice::demo
