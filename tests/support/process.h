// Running real programs from tests (kubectl, git, prometheus, the sluice binary itself):
// captured output, an exit code, and a deadline so a hung tool fails the test instead of CI.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace sluice::testing {

struct ProcessResult {
  int exit_code = -1;  // -1 when killed at the deadline
  std::string out;
  std::string err;
  bool timed_out = false;
  std::string Describe() const;  // for failure messages
};

// Runs argv[0] (looked up on PATH) to completion with extra environment variables and an
// optional stdin text.
ProcessResult Run(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {},
                  std::chrono::milliseconds deadline = std::chrono::seconds(60), const std::string& input = "");

// A long-running child (a server, `kubectl get -w`). Its stdout and stderr go to files so a
// test can poll them; the destructor kills the whole process group.
class BackgroundProcess {
 public:
  BackgroundProcess(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {});
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  std::string Stdout() const;
  std::string Stderr() const;
  bool Running();
  // Polls stdout until it contains `text`; false at the deadline.
  bool WaitForOutput(const std::string& text, std::chrono::milliseconds deadline);
  void Stop();  // SIGTERM, then SIGKILL after 3 s
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  std::string out_path_;
  std::string err_path_;
};

// A fresh temporary directory removed (recursively) at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  void Write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

std::string ReadFile(const std::string& path);
bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds deadline);

}  // namespace sluice::testing
