#include "kube/http_transport.h"

#include "kube/auth.h"

namespace sluice::kube {
namespace {

// A kubeconfig's user as net credentials: tokens that rotate, exec plugins that run off the
// event loop and may hand over a client certificate.
class AuthenticatorCredentials final : public net::Credentials {
 public:
  AuthenticatorCredentials(const RestConfig& config, std::chrono::milliseconds exec_timeout)
      : auth_(config, exec_timeout) {}
  bool NeedsBlockingRefresh() const override { return auth_.NeedsExec(); }
  void BlockingRefresh() override { auth_.RunExec(); }
  std::string AuthorizationHeader() override { return auth_.AuthorizationHeader(); }
  std::optional<std::pair<std::string, std::string>> ClientCertificate() const override {
    return auth_.ExecClientCert();
  }
  void Invalidate() override { auth_.Invalidate(); }
  bool Refreshable() const override { return auth_.Refreshable(); }

 private:
  Authenticator auth_;
};

}  // namespace

std::shared_ptr<net::HttpClient> MakeHttpTransport(boost::asio::any_io_executor executor, const RestConfig& config,
                                                   TransportOptions options) {
  net::ClientConfig client;
  client.server = config.server;
  client.tls = {.server_name = config.tls_server_name,
                .insecure_skip_verify = config.insecure_skip_tls_verify,
                .ca_data = config.ca_data,
                .ca_file = config.ca_file,
                .client_cert_data = config.client_cert_data,
                .client_cert_file = config.client_cert_file,
                .client_key_data = config.client_key_data,
                .client_key_file = config.client_key_file,
                .source = "context \"" + config.context_name + "\""};
  client.credentials = std::make_shared<AuthenticatorCredentials>(config, options.exec_timeout);
  try {
    return net::MakeHttpClient(std::move(executor), std::move(client), options.client);
  } catch (const net::ConfigError& e) {
    throw ConfigError(e.what());
  }
}

}  // namespace sluice::kube
