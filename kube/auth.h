// Who we are to the API server on each request: a bearer token (static, from a file that
// rotates, or from an exec plugin) or basic auth. Client certificates are TLS business and
// live in the transport; an exec plugin's certificate is handed over from here.
#pragma once

#include "kube/config.h"
#include "kube/exec_credential.h"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace sluice::kube {

class Authenticator {
 public:
  Authenticator(const RestConfig& config, std::chrono::milliseconds exec_timeout);

  // True when AuthorizationHeader() needs the exec plugin to run first: RunExec() blocks, so
  // the caller runs it off the event loop.
  bool NeedsExec() const;
  void RunExec();
  // "Bearer ...", "Basic ..." or "" (anonymous, or client certificate only). Re-reads a token
  // file every token_file_refresh; a read failure keeps the last good token.
  std::string AuthorizationHeader();
  // The exec plugin's client certificate and key (PEM), when it gives one.
  std::optional<std::pair<std::string, std::string>> ExecClientCert() const;
  // After a 401: the next call re-reads the token file and re-runs the plugin.
  void Invalidate();
  bool Refreshable() const { return exec_ != nullptr || !token_file_.empty(); }

 private:
  std::string TokenFromFile();

  std::string token_;
  std::string token_file_;
  std::chrono::seconds token_file_refresh_;
  std::string file_token_;
  std::optional<std::chrono::steady_clock::time_point> file_read_at_;
  std::string basic_;
  std::unique_ptr<ExecCredentialCache> exec_;
};

}  // namespace sluice::kube
