#include "sandbox/emulator/emulator.h"

#include "core/api_error.h"
#include "sandbox/emulator/api_server.h"
#include "core/base64.h"
#include "sandbox/emulator/certs.h"
#include "net/http_server.h"
#include "core/yaml_json.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace sluice::sandbox {
namespace {

std::string RandomToken() {
  std::random_device rd;
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 40; ++i) s.push_back(kHex[rd() & 15]);
  return s;
}

// Anonymous clients may read these on a real cluster (system:public-info-viewer).
bool PublicPath(const std::string& path) {
  return path == "/version" || path == "/healthz" || path == "/readyz" || path == "/livez";
}

}  // namespace

Emulator::Emulator(EmulatorOptions options) : options_(std::move(options)) {
  if (options_.auth != "none" && options_.auth != "token" && options_.auth != "cert")
    throw std::invalid_argument("emulator: --auth must be none, token or cert, not \"" + options_.auth + "\"");
  if (options_.auth == "cert" && !options_.tls)
    throw std::invalid_argument("emulator: --auth cert needs --tls (client certificates travel over TLS)");
  auto colon = options_.listen.rfind(':');
  if (colon == std::string::npos)
    throw std::invalid_argument("emulator: --listen must be HOST:PORT, got \"" + options_.listen + "\"");
  host_ = options_.listen.substr(0, colon);
  if (host_.size() >= 2 && host_.front() == '[' && host_.back() == ']') host_ = host_.substr(1, host_.size() - 2);
  try {
    size_t used = 0;
    int port = std::stoi(options_.listen.substr(colon + 1), &used);
    if (used != options_.listen.size() - colon - 1 || port < 0 || port > 65535) throw std::out_of_range("port");
    requested_port_ = static_cast<uint16_t>(port);
  } catch (const std::exception&) {
    throw std::invalid_argument("emulator: --listen port must be a number from 0 to 65535, got \"" +
                                options_.listen.substr(colon + 1) + "\"");
  }
  if (options_.auth == "token") token_ = RandomToken();
  ApiServerOptions api_options;
  api_options.deployment_ready_delay = options_.deployment_ready_delay;
  api_options.progress_deadline_scale = options_.progress_deadline_scale;
  api_options.watch_history = options_.watch_history;
  api_options.bookmark_interval = options_.bookmark_interval;
  api_ = std::make_unique<ApiServer>(api_options, [this](std::chrono::milliseconds delay, std::function<void()> fn) {
    if (server_) server_->Schedule(delay, std::move(fn));
  });
}

Emulator::~Emulator() { Stop(); }

void Emulator::Start() {
  if (started_) return;
  net::HttpServerOptions so;
  so.host = host_;
  so.port = requested_port_;
  so.max_body_bytes = options_.max_body_bytes;
  so.read_timeout = options_.read_timeout;
  if (options_.tls) {
    auto certs = GenerateCerts();
    ca_pem_ = certs.ca_pem;
    client_cert_pem_ = certs.client_cert_pem;
    client_key_pem_ = certs.client_key_pem;
    so.tls = std::make_shared<net::TlsMaterial>(
        net::TlsMaterial{certs.ca_pem, certs.server_cert_pem, certs.server_key_pem, options_.auth == "cert"});
  }
  std::string auth = options_.auth;
  std::string token = token_;
  ApiServer* api = api_.get();
  auto observer = options_.request_observer;
  server_ = std::make_unique<net::HttpServer>(so, [api, auth, token, observer](const net::HttpRequest& req) -> net::HttpResponse {
    if (observer) observer(req.method, req.target);
    if (!PublicPath(req.path)) {
      bool ok = auth == "none" || (auth == "token" && req.Header("authorization") == "Bearer " + token) ||
                (auth == "cert" && req.client_cert_verified);
      if (!ok) return api::Error(core::ApiError::Unauthorized("Unauthorized"));
    }
    return api->Handle(req);
  });
  server_->Start();
  started_ = true;
  if (!options_.kubeconfig_path.empty()) WriteKubeconfig(options_.kubeconfig_path);
}

void Emulator::Stop() {
  if (!started_) return;
  started_ = false;
  server_->Stop();
  server_.reset();
}

uint16_t Emulator::port() const { return server_ ? server_->port() : 0; }

std::string Emulator::server_url() const {
  std::string host = host_ == "0.0.0.0" || host_.empty() ? "127.0.0.1" : host_;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return std::string(options_.tls ? "https://" : "http://") + host + ":" + std::to_string(port());
}

std::string Emulator::ca_pem() const { return ca_pem_; }
std::string Emulator::token() const { return token_; }
std::string Emulator::client_cert_pem() const { return client_cert_pem_; }
std::string Emulator::client_key_pem() const { return client_key_pem_; }

std::string Emulator::KubeconfigYaml() const {
  std::ostringstream y;
  y << "apiVersion: v1\nkind: Config\nclusters:\n- name: sluice-emulator\n  cluster:\n    server: " << server_url()
    << "\n";
  if (options_.tls) y << "    certificate-authority-data: " << core::Base64Encode(ca_pem_) << "\n";
  y << "contexts:\n- name: sluice-emulator\n  context:\n    cluster: sluice-emulator\n    user: sluice-admin\n"
       "    namespace: default\ncurrent-context: sluice-emulator\nusers:\n- name: sluice-admin\n  user:";
  if (options_.auth == "token")
    y << "\n    token: " << token_ << "\n";
  else if (options_.auth == "cert")
    y << "\n    client-certificate-data: " << core::Base64Encode(client_cert_pem_)
      << "\n    client-key-data: " << core::Base64Encode(client_key_pem_) << "\n";
  else
    y << " {}\n";
  return y.str();
}

void Emulator::WriteKubeconfig(const std::string& path) const {
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  std::ofstream out(path, std::ios::trunc);
  if (!out) throw std::runtime_error("emulator: cannot write kubeconfig " + path);
  out << KubeconfigYaml();
  out.close();
  if (!out) throw std::runtime_error("emulator: cannot write kubeconfig " + path);
  std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

size_t Emulator::LoadCrdsYaml(const std::string& yaml_text) {
  auto docs = core::ParseYamlDocuments(yaml_text);
  size_t loaded = 0;
  auto load = [&] {
    for (const auto& doc : docs) {
      if (!doc.is_object() || doc.value("kind", "") != "CustomResourceDefinition") continue;
      api_->ApplyCustomResourceDefinition(doc);
      ++loaded;
    }
  };
  if (server_)
    server_->RunSync(load);
  else
    load();
  return loaded;
}

size_t Emulator::LoadCrdsFromDirectory(const std::string& dir) {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    auto ext = entry.path().extension().string();
    if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml")) files.push_back(entry.path());
  }
  if (ec) throw std::runtime_error("emulator: cannot read CRD directory " + dir + ": " + ec.message());
  std::sort(files.begin(), files.end());
  size_t loaded = 0;
  for (const auto& f : files) {
    std::ifstream in(f);
    std::stringstream ss;
    ss << in.rdbuf();
    try {
      loaded += LoadCrdsYaml(ss.str());
    } catch (const core::ApiError& e) {
      throw std::runtime_error("emulator: " + f.string() + ": " + e.message());
    } catch (const std::invalid_argument& e) {
      throw std::runtime_error("emulator: " + f.string() + ": " + e.what());
    }
  }
  return loaded;
}

ApiServer& Emulator::api() { return *api_; }

}  // namespace sluice::sandbox
