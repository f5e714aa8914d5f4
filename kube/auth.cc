#include "kube/auth.h"

#include "core/base64.h"

#include <fstream>
#include <sstream>

namespace sluice::kube {
namespace {

std::string TrimSpace(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

}  // namespace

Authenticator::Authenticator(const RestConfig& config, std::chrono::milliseconds exec_timeout)
    : token_(config.token), token_file_(config.token_file), token_file_refresh_(config.token_file_refresh) {
  if (!config.username.empty() || !config.password.empty())
    basic_ = "Basic " + core::Base64Encode(config.username + ":" + config.password);
  if (config.exec) exec_ = std::make_unique<ExecCredentialCache>(*config.exec, exec_timeout);
  if (!token_file_.empty()) {
    // A file that cannot be read at start is a configuration error, not something to retry.
    std::ifstream in(token_file_);
    if (!in) throw ConfigError("cannot read token file " + token_file_);
  }
}

bool Authenticator::NeedsExec() const { return exec_ && !exec_->Cached(); }

void Authenticator::RunExec() {
  if (exec_) exec_->Get();
}

std::string Authenticator::TokenFromFile() {
  auto now = std::chrono::steady_clock::now();
  if (file_read_at_ && now - *file_read_at_ < token_file_refresh_) return file_token_;
  std::ifstream in(token_file_);
  if (in) {
    std::ostringstream ss;
    ss << in.rdbuf();
    std::string t = TrimSpace(ss.str());
    if (!t.empty()) file_token_ = t;
  }
  file_read_at_ = now;
  return file_token_;
}

std::string Authenticator::AuthorizationHeader() {
  if (exec_) {
    auto cred = exec_->Cached();
    if (cred && !cred->token.empty()) return "Bearer " + cred->token;
  }
  // The file's last good value wins over a static token, as in client-go.
  if (!token_file_.empty()) {
    std::string t = TokenFromFile();
    if (!t.empty()) return "Bearer " + t;
  }
  if (!token_.empty()) return "Bearer " + token_;
  return basic_;
}

std::optional<std::pair<std::string, std::string>> Authenticator::ExecClientCert() const {
  if (!exec_) return std::nullopt;
  auto cred = exec_->Cached();
  if (!cred || cred->client_cert_data.empty()) return std::nullopt;
  return std::make_pair(cred->client_cert_data, cred->client_key_data);
}

void Authenticator::Invalidate() {
  file_read_at_.reset();
  if (exec_) exec_->Invalidate();
}

}  // namespace sluice::kube
