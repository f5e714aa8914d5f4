#include "sandbox/demo/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace sluice::demo {

namespace {

int ExitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// A socket bound to host:port, or -1.
int Bind(const std::string& host, uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1 ||
      bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

ChildProcess::ChildProcess(std::string name, pid_t pid, std::string log_path)
    : name_(std::move(name)), pid_(pid), log_path_(std::move(log_path)) {}

ChildProcess::~ChildProcess() { Stop(); }

std::unique_ptr<ChildProcess> ChildProcess::Start(const std::string& name, const std::vector<std::string>& argv,
                                                  const std::string& log_path) {
  if (argv.empty() || access(argv[0].c_str(), X_OK) != 0)
    throw std::runtime_error(name + ": cannot run " + (argv.empty() ? std::string("<nothing>") : argv[0]));
  int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) throw std::runtime_error(name + ": cannot open its log " + log_path + ": " + std::strerror(errno));
  // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    close(log);
    throw std::runtime_error(name + ": fork failed: " + std::strerror(errno));
  }
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);  // the sandbox died before prctl took effect
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(log, 1);
    dup2(log, 2);
    execv(args[0], args.data());
    _exit(127);
  }
  setpgid(pid, pid);  // also from here, so the group exists before we ever signal it
  close(log);
  return std::unique_ptr<ChildProcess>(new ChildProcess(name, pid, log_path));
}

bool ChildProcess::Running() {
  if (exited_) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_ || (r < 0 && errno == ECHILD)) {
    exited_ = true;
    exit_status_ = r == pid_ ? ExitStatus(status) : -1;
    // Whatever it started in its group goes with it.
    kill(-pid_, SIGKILL);
    return false;
  }
  return true;
}

void ChildProcess::Stop(std::chrono::milliseconds grace) {
  if (!Running()) return;
  kill(-pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (Running() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (!Running()) return;
  kill(-pid_, SIGKILL);
  int status = 0;
  if (waitpid(pid_, &status, 0) == pid_) exit_status_ = ExitStatus(status);
  exited_ = true;
}

std::string ChildProcess::LogTail(size_t max_bytes) const {
  std::ifstream in(log_path_, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  return text.size() > max_bytes ? text.substr(text.size() - max_bytes) : text;
}

int RunCommand(const std::vector<std::string>& argv, std::chrono::milliseconds deadline, std::string& output) {
  std::string program = argv.empty() ? "" : FindOnPath(argv[0]);
  if (program.empty()) {
    output = (argv.empty() ? std::string("<nothing>") : argv[0]) + ": not found on PATH";
    return 127;
  }
  char tmpl[] = "/tmp/sluice-sandbox-cmd-XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0) throw std::runtime_error(std::string("cannot create a temporary file: ") + std::strerror(errno));
  close(fd);
  std::vector<std::string> full = argv;
  full[0] = program;
  int status = 0;
  {
    auto child = ChildProcess::Start(argv[0], full, tmpl);
    auto end = std::chrono::steady_clock::now() + deadline;
    while (child->Running() && std::chrono::steady_clock::now() < end)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    bool late = child->Running();
    child->Stop(std::chrono::milliseconds(1000));
    status = late ? 124 : child->exit_status();
    output = child->LogTail(1 << 20);
  }
  unlink(tmpl);
  return status;
}

uint16_t PickFreePort(const std::string& host) {
  int fd = Bind(host, 0);
  if (fd < 0) throw std::runtime_error("cannot bind a free port on " + host + ": " + std::strerror(errno));
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

bool PortFree(const std::string& host, uint16_t port) {
  int fd = Bind(host, port);
  if (fd < 0) return false;
  close(fd);
  return true;
}

std::string FindOnPath(const std::string& program) {
  if (program.find('/') != std::string::npos) return access(program.c_str(), X_OK) == 0 ? program : "";
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + program;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

std::string SelfExecutable() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) throw std::runtime_error("cannot find this program's path (/proc/self/exe)");
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace sluice::demo
