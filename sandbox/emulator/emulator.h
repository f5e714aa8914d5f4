// The Kubernetes API emulator: an in-process API server for tests and `sluice emulator`.
// Plain HTTP or TLS with generated certificates, and no auth, bearer token or client-cert
// authentication; writes a kubeconfig the real kubectl and our client can use.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace sluice::net {
class HttpServer;
}  // namespace sluice::net

namespace sluice::sandbox {

class ApiServer;

struct EmulatorOptions {
  std::string listen = "127.0.0.1:0";  // host:port; port 0 picks a free one
  bool tls = false;
  std::string auth = "none";  // none | token | cert (cert needs tls)
  std::string kubeconfig_path;  // written at Start() when set
  std::chrono::milliseconds deployment_ready_delay{1500};
  // spec.progressDeadlineSeconds is multiplied by this for the exceed-deadline annotation.
  double progress_deadline_scale = 1.0;
  size_t max_body_bytes = 3 * 1024 * 1024;
  size_t watch_history = 10000;
  std::chrono::milliseconds bookmark_interval{10000};
  std::chrono::milliseconds read_timeout{30000};
  // Sees every request (method, path and query) before it is served, on the server's
  // thread: benchmarks count a controller's API traffic with it.
  std::function<void(const std::string& method, const std::string& target)> request_observer;
};

class Emulator {
 public:
  explicit Emulator(EmulatorOptions options = {});
  ~Emulator();
  Emulator(const Emulator&) = delete;
  Emulator& operator=(const Emulator&) = delete;

  // Returns once listening; throws std::invalid_argument for bad options and
  // std::runtime_error when the port cannot be bound.
  void Start();
  void Stop();

  uint16_t port() const;
  std::string server_url() const;  // http(s)://127.0.0.1:PORT
  std::string ca_pem() const;
  std::string token() const;
  std::string client_cert_pem() const;
  std::string client_key_pem() const;
  // A kubeconfig naming this server, its CA and the credentials of the auth mode.
  std::string KubeconfigYaml() const;
  void WriteKubeconfig(const std::string& path) const;

  // Creates or replaces CRDs (every document of a YAML stream); throws kube::ApiError when
  // the server refuses one, std::invalid_argument when the text is not YAML.
  // Returns how many CRDs it loaded.
  size_t LoadCrdsYaml(const std::string& yaml_text);
  // Every *.yaml / *.yml file of a directory, in name order; returns how many CRDs loaded.
  size_t LoadCrdsFromDirectory(const std::string& dir);

  // Direct access for tests; call only while no request is in flight or from the loop.
  ApiServer& api();

 private:
  EmulatorOptions options_;
  std::string host_;
  uint16_t requested_port_ = 0;
  std::string token_;
  std::string ca_pem_, client_cert_pem_, client_key_pem_;
  std::unique_ptr<ApiServer> api_;
  std::unique_ptr<net::HttpServer> server_;
  bool started_ = false;
};

}  // namespace sluice::sandbox
