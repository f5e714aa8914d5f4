// Where the API server is and who we are to it: from kubeconfig files or from inside a Pod.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sluice::kube {

// An exec credential plugin (client.authentication.k8s.io/v1).
struct ExecConfig {
  std::string api_version = "client.authentication.k8s.io/v1";
  std::string command;
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  std::string interactive_mode;  // Never | IfAvailable | Always
};

// Everything a client needs to talk to one API server. Data fields hold PEM text; file
// fields are read when the client connects (token_file again as it rotates).
struct RestConfig {
  std::string server;  // https://host:port or http://host:port, IPv6 in brackets
  std::string tls_server_name;
  bool insecure_skip_tls_verify = false;
  std::string ca_data;
  std::string ca_file;
  std::string client_cert_data;
  std::string client_cert_file;
  std::string client_key_data;
  std::string client_key_file;
  std::string token;
  std::string token_file;
  std::string username;
  std::string password;
  std::optional<ExecConfig> exec;
  std::string ns = "default";  // the context's namespace (or the pod's, in cluster)
  std::string context_name;
  // How often a token file is re-read: in-cluster tokens are bound and rotate.
  std::chrono::seconds token_file_refresh{60};
};

struct KubeconfigOptions {
  std::string explicit_path;  // --kubeconfig; wins over KUBECONFIG
  std::string context;        // --context; else current-context
  std::string ns;             // -n; else the context's namespace
};

// Loads kubeconfig: --kubeconfig, else KUBECONFIG (colon-separated, merged, first wins),
// else ~/.kube/config. Throws ConfigError naming the file and the field on bad input.
RestConfig LoadKubeconfig(const KubeconfigOptions& options = {});
// Parses one kubeconfig document (for tests and for the emulator's own output).
RestConfig ParseKubeconfig(const std::string& yaml_text, const KubeconfigOptions& options = {},
                           const std::string& source_name = "<inline>");
// In-cluster config from the service-account mount and KUBERNETES_SERVICE_HOST/PORT.
// `mount_dir` defaults to /var/run/secrets/kubernetes.io/serviceaccount.
RestConfig InClusterConfig(const std::string& mount_dir = "");
// In-cluster when KUBERNETES_SERVICE_HOST is set and no kubeconfig was named, else kubeconfig.
RestConfig LoadDefaultConfig(const KubeconfigOptions& options = {});

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace sluice::kube
