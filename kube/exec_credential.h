// Exec credential plugins (client.authentication.k8s.io): kubeconfig names a command that
// prints an ExecCredential; the token or client certificate it gives is cached until it expires.
#pragma once

#include "core/clock.h"
#include "kube/config.h"

#include <chrono>
#include <mutex>
#include <optional>
#include <string>

namespace sluice::kube {

struct ExecCredential {
  std::string token;
  std::string client_cert_data;  // PEM
  std::string client_key_data;   // PEM
  std::optional<core::TimePoint> expiry;
};

// Runs the plugin once and parses what it prints. A plugin that fails, hangs past `deadline`,
// or prints something that is not an ExecCredential is a ConfigError carrying its stderr.
ExecCredential RunExecPlugin(const ExecConfig& config, std::chrono::milliseconds deadline);

// Parses a plugin's stdout; `command` only names the plugin in errors.
ExecCredential ParseExecCredential(const std::string& stdout_text, const std::string& expected_api_version,
                                   const std::string& command);

// Caches a plugin's credential until it is about to expire. Thread-safe: the plugin runs off
// the event loop.
class ExecCredentialCache {
 public:
  ExecCredentialCache(ExecConfig config, std::chrono::milliseconds deadline, const core::Clock& clock = core::SystemClock::Instance())
      : config_(std::move(config)), deadline_(deadline), clock_(clock) {}

  // The cached credential if still fresh, else runs the plugin.
  ExecCredential Get();
  // The cached credential without running anything, if still fresh.
  std::optional<ExecCredential> Cached() const;
  // Drops the cached credential (the server answered 401 with it).
  void Invalidate();

 private:
  bool FreshLocked() const;

  ExecConfig config_;
  std::chrono::milliseconds deadline_;
  const core::Clock& clock_;
  mutable std::mutex mu_;
  std::optional<ExecCredential> cached_;
};

}  // namespace sluice::kube
