#include "kube/exec_credential.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace sluice::kube {
namespace {

// A credential that expires within this margin is refreshed now, so it does not expire in flight.
constexpr std::chrono::seconds kExpiryMargin{5};
constexpr size_t kMaxPluginOutput = 1 << 20;

std::string Truncate(const std::string& s, size_t n) { return s.size() <= n ? s : s.substr(0, n) + "..."; }

std::string ExecInfo(const ExecConfig& config) {
  nlohmann::json info = {{"kind", "ExecCredential"},
                         {"apiVersion", config.api_version},
                         {"spec", {{"interactive", false}}}};
  return info.dump();
}

std::vector<std::string> BuildEnv(const ExecConfig& config) {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : config.env) env[k] = v;
  env["KUBERNETES_EXEC_INFO"] = ExecInfo(config);
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

struct ChildResult {
  int status = 0;
  std::string out;
  std::string err;
};

void Drain(int& fd, std::string& into, const std::string& command) {
  char buf[4096];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n > 0) {
    into.append(buf, static_cast<size_t>(n));
    if (into.size() > kMaxPluginOutput)
      throw ConfigError("exec plugin \"" + command + "\" printed more than 1 MiB; it is not an ExecCredential");
  } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
    close(fd);
    fd = -1;
  }
}

// Runs the child to completion or kills it at the deadline. Both pipes are read together so a
// plugin that fills stderr cannot deadlock us.
ChildResult RunChild(const ExecConfig& config, std::chrono::milliseconds deadline) {
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) throw ConfigError("exec plugin: pipe: " + std::string(strerror(errno)));
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    throw ConfigError("exec plugin: pipe: " + std::string(strerror(errno)));
  }
  std::vector<std::string> args{config.command};
  args.insert(args.end(), config.args.begin(), config.args.end());
  std::vector<std::string> env = BuildEnv(config);
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = fork();
  if (pid < 0) throw ConfigError("exec plugin: fork: " + std::string(strerror(errno)));
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    execvpe(argv[0], argv.data(), envp.data());
    dprintf(2, "cannot run %s: %s", argv[0], strerror(errno));
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  ChildResult result;
  int fds[2] = {out_pipe[0], err_pipe[0]};
  auto end = std::chrono::steady_clock::now() + deadline;
  try {
    while (fds[0] >= 0 || fds[1] >= 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        throw ConfigError("exec plugin \"" + config.command + "\" did not finish within " +
                          std::to_string(deadline.count()) + " ms; stderr: " + Truncate(result.err, 2000));
      pollfd p[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
      int n = poll(p, 2, static_cast<int>(left.count()));
      if (n < 0 && errno != EINTR) throw ConfigError("exec plugin: poll: " + std::string(strerror(errno)));
      if (n <= 0) continue;
      if (fds[0] >= 0 && p[0].revents) Drain(fds[0], result.out, config.command);
      if (fds[1] >= 0 && p[1].revents) Drain(fds[1], result.err, config.command);
    }
  } catch (...) {
    for (int fd : fds)
      if (fd >= 0) close(fd);
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    throw;
  }
  while (waitpid(pid, &result.status, 0) < 0 && errno == EINTR) {
  }
  return result;
}

std::string DescribeExit(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "ended abnormally";
}

}  // namespace

ExecCredential ParseExecCredential(const std::string& stdout_text, const std::string& expected_api_version,
                                   const std::string& command) {
  auto fail = [&](const std::string& why) -> ConfigError {
    return ConfigError("exec plugin \"" + command + "\" printed an invalid ExecCredential: " + why);
  };
  auto doc = nlohmann::json::parse(stdout_text, nullptr, false);
  if (!doc.is_object()) throw fail("not a JSON object: " + Truncate(stdout_text, 200));
  if (doc.value("kind", "") != "ExecCredential") throw fail("kind is not ExecCredential");
  if (!expected_api_version.empty() && doc.value("apiVersion", "") != expected_api_version)
    throw fail("apiVersion is \"" + doc.value("apiVersion", "") + "\", the kubeconfig asked for \"" +
               expected_api_version + "\"");
  if (!doc.contains("status") || !doc["status"].is_object()) throw fail("status is missing");
  const auto& status = doc["status"];
  auto str = [&](const char* key) -> std::string {
    if (!status.contains(key) || status[key].is_null()) return "";
    if (!status[key].is_string()) throw fail(std::string("status.") + key + " is not a string");
    return status[key].get<std::string>();
  };
  ExecCredential cred;
  cred.token = str("token");
  cred.client_cert_data = str("clientCertificateData");
  cred.client_key_data = str("clientKeyData");
  std::string expiry = str("expirationTimestamp");
  if (!expiry.empty()) {
    cred.expiry = core::ParseTime(expiry);
    if (!cred.expiry) throw fail("status.expirationTimestamp \"" + expiry + "\" is not an RFC 3339 time");
  }
  if (cred.client_cert_data.empty() != cred.client_key_data.empty())
    throw fail("status.clientCertificateData and status.clientKeyData must be given together");
  if (cred.token.empty() && cred.client_cert_data.empty())
    throw fail("status has neither token nor clientCertificateData/clientKeyData");
  return cred;
}

ExecCredential RunExecPlugin(const ExecConfig& config, std::chrono::milliseconds deadline) {
  if (config.command.empty()) throw ConfigError("exec plugin: command is empty");
  if (config.interactive_mode == "Always")
    throw ConfigError("exec plugin \"" + config.command +
                      "\" has interactiveMode Always, but a controller has no terminal to answer it");
  ChildResult r = RunChild(config, deadline);
  if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0)
    throw ConfigError("exec plugin \"" + config.command + "\" " + DescribeExit(r.status) +
                      "; stderr: " + Truncate(r.err, 2000));
  return ParseExecCredential(r.out, config.api_version, config.command);
}

bool ExecCredentialCache::FreshLocked() const {
  if (!cached_) return false;
  if (!cached_->expiry) return true;
  return clock_.Now() + kExpiryMargin < *cached_->expiry;
}

ExecCredential ExecCredentialCache::Get() {
  std::lock_guard lock(mu_);
  if (!FreshLocked()) cached_ = RunExecPlugin(config_, deadline_);
  return *cached_;
}

std::optional<ExecCredential> ExecCredentialCache::Cached() const {
  std::lock_guard lock(mu_);
  if (!FreshLocked()) return std::nullopt;
  return cached_;
}

void ExecCredentialCache::Invalidate() {
  std::lock_guard lock(mu_);
  cached_.reset();
}

}  // namespace sluice::kube
