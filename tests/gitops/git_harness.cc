#include "tests/gitops/git_harness.h"

#include <arpa/inet.h>
#include <pwd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>
#include <spdlog/spdlog.h>

#include <future>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "core/base64.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/event_recorder.h"
#include "sandbox/emulator/emulator.h"
#include "net/http_server.h"

namespace sluice::testing {

namespace fs = std::filesystem;
namespace asio = boost::asio;

namespace {

constexpr const char* kHttpBackend = "/usr/lib/git-core/git-http-backend";

// A fixed identity and no user or system config, so the host's git setup cannot change
// what the tests build.
std::map<std::string, std::string> GitEnv() {
  return {{"GIT_CONFIG_NOSYSTEM", "1"},          {"GIT_CONFIG_GLOBAL", "/dev/null"},
          {"GIT_AUTHOR_NAME", "Sluice Test"},    {"GIT_AUTHOR_EMAIL", "test@sluice.dev"},
          {"GIT_COMMITTER_NAME", "Sluice Test"}, {"GIT_COMMITTER_EMAIL", "test@sluice.dev"}};
}

uint16_t BoundPort(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

int ListenLoopback(int backlog) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, backlog) != 0) {
    close(fd);
    throw std::runtime_error("cannot listen on a loopback port");
  }
  return fd;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  return s.substr(i);
}

// Splits CGI output into the response: header lines up to the first blank line, then body.
net::HttpResponse CgiResponse(const std::string& out) {
  net::HttpResponse r;
  r.content_type = "text/plain";
  size_t end = out.find("\r\n\r\n");
  size_t body_at = end == std::string::npos ? std::string::npos : end + 4;
  if (end == std::string::npos) {
    end = out.find("\n\n");
    body_at = end == std::string::npos ? std::string::npos : end + 2;
  }
  if (end == std::string::npos) {
    r.status = 502;
    r.body = "git-http-backend wrote no headers";
    return r;
  }
  std::string head = out.substr(0, end);
  size_t pos = 0;
  while (pos <= head.size()) {
    size_t nl = head.find('\n', pos);
    std::string line = Trim(head.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos));
    pos = nl == std::string::npos ? head.size() + 1 : nl + 1;
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon), value = Trim(line.substr(colon + 1));
    std::string lower = name;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "status")
      r.status = std::stoi(value.substr(0, 3));
    else if (lower == "content-type")
      r.content_type = value;
    else
      r.headers.emplace_back(name, value);
  }
  r.body = out.substr(body_at);
  return r;
}

}  // namespace

bool GitHttpBackendAvailable() { return fs::exists(kHttpBackend); }

GitRepo::GitRepo() : owned_(std::make_unique<TempDir>()), path_(owned_->path()) {
  Git({"init", "-q", "-b", "main"});
}

GitRepo::GitRepo(const std::string& dir) : path_(dir) {
  fs::create_directories(dir);
  Git({"init", "-q", "-b", "main"});
}

std::string GitRepo::Git(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {"git", "-C", path()};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessResult r = Run(argv, GitEnv(), std::chrono::seconds(30));
  if (r.exit_code != 0) FAIL("git " << args.front() << " failed: " << r.Describe());
  return Trim(r.out.substr(0, r.out.find_last_not_of('\n') + 1));
}

std::string GitRepo::Commit(const std::map<std::string, std::string>& files, const std::string& message) {
  for (const auto& [name, content] : files) {
    fs::path p = fs::path(path()) / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
  }
  Git({"add", "-A"});
  Git({"commit", "-q", "--allow-empty", "-m", message});
  return Head();
}

std::string GitRepo::Remove(const std::vector<std::string>& files, const std::string& message) {
  std::vector<std::string> args = {"rm", "-q", "-r", "--"};
  args.insert(args.end(), files.begin(), files.end());
  Git(args);
  Git({"commit", "-q", "-m", message});
  return Head();
}

void GitRepo::Tag(const std::string& name, bool annotated) {
  if (annotated)
    Git({"tag", "-a", name, "-m", "release " + name});
  else
    Git({"tag", name});
}

void GitRepo::Branch(const std::string& name) { Git({"branch", name}); }
void GitRepo::Checkout(const std::string& name) { Git({"checkout", "-q", name}); }
std::string GitRepo::Head() const { return Git({"rev-parse", "HEAD"}); }

GitDaemon::GitDaemon(const std::string& base_dir) : base_dir_(base_dir) {
  // Another process may take the port between our probe and the daemon's bind: try again.
  for (int attempt = 0; attempt < 5 && !process_; ++attempt) {
    port_ = FreeLoopbackPort();
    auto p = std::make_unique<BackgroundProcess>(std::vector<std::string>{
        "git", "daemon", "--reuseaddr", "--export-all", "--listen=127.0.0.1", "--port=" + std::to_string(port_),
        "--base-path=" + base_dir_, base_dir_});
    bool up = WaitFor(
        [&] { return LoopbackPortAccepts(port_) || !p->Running(); },
        std::chrono::seconds(5));
    if (up && p->Running()) process_ = std::move(p);
  }
  if (!process_) throw std::runtime_error("git daemon did not start");
}

GitDaemon::~GitDaemon() = default;

std::string GitDaemon::UrlFor(const std::string& repo_path) const {
  return "git://127.0.0.1:" + std::to_string(port_) + "/" + fs::relative(repo_path, base_dir_).string();
}

GitHttpServer::GitHttpServer(const std::string& base_dir, std::string username, std::string password)
    : base_dir_(base_dir), username_(std::move(username)), password_(std::move(password)) {
  net::HttpServerOptions o;
  o.max_body_bytes = 64u << 20;
  server_ = std::make_unique<net::HttpServer>(o, [this](const net::HttpRequest& req) {
    std::string bearer;
    {
      std::lock_guard lock(mu_);
      bearer = bearer_;
    }
    if (!username_.empty() || !bearer.empty()) {
      std::string expected = bearer.empty() ? "Basic " + core::Base64Encode(username_ + ":" + password_)
                                            : "Bearer " + bearer;
      if (req.Header("authorization") != expected) {
        counters_.unauthorized++;
        net::HttpResponse r;
        r.status = 401;
        r.content_type = "text/plain";
        r.body = "authentication required";
        r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"git\"");
        return r;
      }
    }
    if (req.method == "GET" && req.path.ends_with("/info/refs")) counters_.ref_advertisements++;
    if (req.method == "POST" && req.path.ends_with("/git-upload-pack")) counters_.upload_packs++;
    std::string query = req.target.find('?') == std::string::npos ? "" : req.target.substr(req.target.find('?') + 1);
    std::map<std::string, std::string> env = {
        {"GIT_PROJECT_ROOT", base_dir_},
        {"GIT_HTTP_EXPORT_ALL", "1"},
        {"GIT_CONFIG_NOSYSTEM", "1"},
        {"GIT_CONFIG_GLOBAL", "/dev/null"},
        {"REQUEST_METHOD", req.method},
        {"PATH_INFO", req.path},
        {"QUERY_STRING", query},
        {"CONTENT_TYPE", req.Header("content-type")},
        {"CONTENT_LENGTH", std::to_string(req.body.size())},
        {"REMOTE_ADDR", "127.0.0.1"},
        {"REMOTE_USER", username_},
        {"GIT_PROTOCOL", req.Header("git-protocol")},
    };
    ProcessResult r = Run({kHttpBackend}, env, std::chrono::seconds(30), req.body);
    if (r.exit_code != 0 && r.out.empty()) {
      net::HttpResponse fail;
      fail.status = 500;
      fail.body = r.Describe();
      return fail;
    }
    return CgiResponse(r.out);
  });
  server_->Start();
}

GitHttpServer::~GitHttpServer() { server_->Stop(); }

void GitHttpServer::RequireBearer(const std::string& token) {
  std::lock_guard lock(mu_);
  bearer_ = token;
}

uint16_t GitHttpServer::port() const { return server_->port(); }

std::string GitHttpServer::UrlFor(const std::string& repo_path) const {
  return "http://127.0.0.1:" + std::to_string(port()) + "/" + fs::relative(repo_path, base_dir_).string();
}

SilentServer::SilentServer() {
  fd_ = ListenLoopback(64);
  port_ = BoundPort(fd_);
}

SilentServer::~SilentServer() {
  if (fd_ >= 0) close(fd_);
}

bool SshServer::Available() { return fs::exists("/usr/sbin/sshd") && fs::exists("/usr/bin/ssh-keygen"); }

SshServer::SshServer() {
  passwd* pw = getpwuid(geteuid());
  user_ = pw ? pw->pw_name : "root";
  for (const char* key : {"host_key", "client_key", "other_key"}) {
    ProcessResult r = Run({"ssh-keygen", "-q", "-t", "ecdsa", "-b", "256", "-m", "PEM", "-N", "", "-f", dir_.File(key)});
    if (r.exit_code != 0) FAIL("ssh-keygen failed: " << r.Describe());
  }
  fs::copy_file(dir_.File("client_key.pub"), dir_.File("authorized_keys"));
  // sshd started by root insists on its privilege separation directory.
  if (geteuid() == 0 && !fs::exists("/run/sshd")) fs::create_directories("/run/sshd");
  for (int attempt = 0; attempt < 5 && !process_; ++attempt) {
    port_ = FreeLoopbackPort();
    dir_.Write("sshd_config", "Port " + std::to_string(port_) +
                                  "\nListenAddress 127.0.0.1\nHostKey " + dir_.File("host_key") +
                                  "\nAuthorizedKeysFile " + dir_.File("authorized_keys") + "\nPidFile " +
                                  dir_.File("sshd.pid") +
                                  "\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n"
                                  "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nPermitRootLogin "
                                  "prohibit-password\nLogLevel ERROR\n");
    auto p = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{"/usr/sbin/sshd", "-D", "-e", "-f", dir_.File("sshd_config")});
    bool up = WaitFor(
        [&] { return LoopbackPortAccepts(port_) || !p->Running(); },
        std::chrono::seconds(5));
    if (up && p->Running()) process_ = std::move(p);
    else if (attempt == 4) FAIL("sshd did not start: " << p->Stderr());
  }
}

SshServer::~SshServer() = default;

std::string SshServer::UrlFor(const std::string& repo_path) const {
  return "ssh://" + user_ + "@127.0.0.1:" + std::to_string(port_) + repo_path;
}

std::string SshServer::ClientKey() const { return ReadFile(dir_.File("client_key")); }
std::string SshServer::OtherKey() const { return ReadFile(dir_.File("other_key")); }

std::string SshServer::KnownHostsLine() const {
  std::string pub = ReadFile(dir_.File("host_key.pub"));
  std::string type = pub.substr(0, pub.find(' '));
  std::string rest = pub.substr(pub.find(' ') + 1);
  std::string key = rest.substr(0, rest.find_first_of(" \n"));
  return "[127.0.0.1]:" + std::to_string(port_) + " " + type + " " + key + "\n";
}

SourceCluster::SourceCluster() {
  if (std::getenv("SLUICE_TEST_DEBUG")) spdlog::set_level(spdlog::level::debug);
  emulator_ = std::make_unique<sandbox::Emulator>();
  emulator_->Start();
  emulator_->WriteKubeconfig(dir_.File("kubeconfig"));
  for (const auto& entry : fs::directory_iterator(std::string(SLUICE_SOURCE_DIR) + "/crds"))
    emulator_->LoadCrdsYaml(ReadFile(entry.path()));
  auto client = kube::MakeHttpClient(io_.get_executor(), kube::ParseKubeconfig(emulator_->KubeconfigYaml()));
  auto events = kube::EventRecorder::Create(client);
  artifacts_ = std::make_shared<gitops::ArtifactStore>();
  gitops::GitRepositoryControllerOptions so;
  so.cache_dir = cache_.path();
  sources_ = gitops::GitRepositoryController::Create(client, events, artifacts_, so);
  receiver_ = gitops::ReceiverController::Create(client, events);
  asio::co_spawn(io_, sources_->Run(), asio::detached);
  asio::co_spawn(io_, receiver_->Run(), asio::detached);
  thread_ = std::thread([this] { io_.run(); });
  net::HttpServerOptions ho;
  hooks_ = std::make_unique<net::HttpServer>(ho, [this](const net::HttpRequest& req) {
    if (req.path.rfind("/hook/", 0) == 0) return receiver_->Handle(req);
    net::HttpResponse r;
    r.status = 404;
    return r;
  });
  hooks_->Start();
  REQUIRE(sluice::testing::WaitFor([this] { return sources_->Synced() && receiver_->Synced(); }, std::chrono::seconds(10)));
}

SourceCluster::~SourceCluster() {
  hooks_->Stop();
  asio::post(io_, [this] {
    sources_->Stop();
    receiver_->Stop();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  io_.stop();
  thread_.join();
  emulator_->Stop();
}

ProcessResult SourceCluster::TryKubectl(const std::vector<std::string>& args, const std::string& input) {
  std::vector<std::string> argv = {"kubectl", "--kubeconfig", dir_.File("kubeconfig")};
  argv.insert(argv.end(), args.begin(), args.end());
  return Run(argv, {{"KUBECACHEDIR", dir_.File("kubecache")}}, std::chrono::seconds(30), input);
}

std::string SourceCluster::Kubectl(const std::vector<std::string>& args, const std::string& input) {
  ProcessResult r = TryKubectl(args, input);
  if (r.exit_code != 0) FAIL("kubectl " << args.front() << " failed: " << r.Describe());
  return r.out;
}

std::string SourceCluster::Get(const std::string& object, const std::string& jsonpath) {
  ProcessResult r = Run({"kubectl", "--kubeconfig", dir_.File("kubeconfig"), "get", object, "-o", "jsonpath=" + jsonpath},
                        {{"KUBECACHEDIR", dir_.File("kubecache")}}, std::chrono::seconds(30));
  return r.exit_code == 0 ? r.out : "";
}

bool SourceCluster::WaitFor(const std::string& object, const std::string& jsonpath, const std::string& value,
                            std::chrono::milliseconds deadline) {
  return sluice::testing::WaitFor([&] { return Get(object, jsonpath) == value; }, deadline);
}

gitops::SourceStats SourceCluster::Stats() {
  std::promise<gitops::SourceStats> p;
  asio::post(io_, [&] { p.set_value(sources_->stats()); });
  return p.get_future().get();
}

std::string SourceCluster::ReceiverUrl() const { return "http://127.0.0.1:" + std::to_string(hooks_->port()); }

}  // namespace sluice::testing
