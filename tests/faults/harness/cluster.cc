#include "tests/faults/harness/cluster.h"

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "kube/config.h"
#include "tests/support/fixtures.h"

namespace sluice::testing::faults {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

sandbox::EmulatorOptions EmulatorFor(const ClusterOptions& o) {
  sandbox::EmulatorOptions e;
  e.listen = "127.0.0.1:0";
  e.deployment_ready_delay = o.ready_delay;
  return e;
}

kube::ApiResource Resource(const char* group, const char* version, const char* resource, const char* kind) {
  kube::ApiResource r;
  r.group = group;
  r.version = version;
  r.resource = resource;
  r.kind = kind;
  return r;
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  if (at == std::string::npos) throw std::runtime_error("the emulator's kubeconfig does not name " + from);
  return text.replace(at, from.size(), to);
}

}  // namespace

kube::ApiResource FaultCluster::Deployments() { return Resource("apps", "v1", "deployments", "Deployment"); }
kube::ApiResource FaultCluster::Canaries() { return Resource("sluice.dev", "v1beta1", "canaries", "Canary"); }
kube::ApiResource FaultCluster::AlertProviders() {
  return Resource("sluice.dev", "v1beta1", "alertproviders", "AlertProvider");
}

FaultCluster::FaultCluster(ClusterOptions options) : options_(std::move(options)), emulator_(EmulatorFor(options_)) {
  emulator_.Start();
  emulator_.LoadCrdsFromDirectory(std::string(SLUICE_SOURCE_DIR) + "/crds");
  emulator_.LoadCrdsYaml(ReadFile(options_.fixture_crd_dir + "/gateway-api-v1.6.1-httproutes.yaml"));

  sandbox::faults::FaultProxyOptions po;
  po.upstream = emulator_.server_url();
  po.faults = options_.faults;
  proxy_ = std::make_unique<sandbox::faults::FaultProxy>(po);
  proxy_->Start();

  kubeconfig_ = dir_.File("kubeconfig-proxy");
  dir_.Write("kubeconfig-proxy", Replace(emulator_.KubeconfigYaml(), emulator_.server_url(), proxy_->url()));

  PrepareBinary();
  work_.emplace(asio::make_work_guard(io_));
  io_thread_ = std::thread([this] { io_.run(); });
  kube::ClientOptions co;
  co.user_agent = options_.field_manager + "/1";  // the manager of writes that name none
  co.qps = 1000;
  co.burst = 1000;
  client_ = kube::MakeHttpClient(io_.get_executor(), kube::ParseKubeconfig(emulator_.KubeconfigYaml()), co);
}

FaultCluster::~FaultCluster() {
  StopController();
  client_.reset();
  work_.reset();
  io_.stop();
  if (io_thread_.joinable()) io_thread_.join();
  proxy_->Stop();
  emulator_.Stop();
}

// Every controller of a run is the same program: others may relink build/sluice while a run
// goes on (a shared build tree, and the linker rewrites the file in place), so the run starts
// copies of the binary as it was at the start.
void FaultCluster::PrepareBinary() {
  binary_ = dir_.File("sluice");
  bool ok = WaitFor(
      [&] {
        std::error_code ec;
        std::filesystem::copy_file(SLUICE_BINARY, binary_, std::filesystem::copy_options::overwrite_existing, ec);
        // A copy taken in the middle of a link is not whole: it does not run.
        return !ec && Run({binary_, "--help"}, {}, std::chrono::seconds(20)).exit_code == 0;
      },
      std::chrono::seconds(120));
  if (!ok) throw std::runtime_error(std::string("cannot run a copy of ") + SLUICE_BINARY);
}

void FaultCluster::StartController() {
  if (controller_) return;
  ++starts_;
  controller_ = std::make_unique<BackgroundProcess>(
      std::vector<std::string>{binary_, "controller", "--kubeconfig", kubeconfig_, "--leader-elect=false", "--listen",
                               "127.0.0.1:0", "--log-format", "text", "--cache-dir", dir_.File("cache")});
}

std::string FaultCluster::ControllerLog(int n) const {
  return options_.log_dir + "/controller-" + std::to_string(n) + ".log";
}

void FaultCluster::SaveLog() {
  if (!controller_ || options_.log_dir.empty()) return;
  std::ofstream f(ControllerLog(starts_), std::ios::binary | std::ios::app);
  f << controller_->Stdout() << controller_->Stderr();
}

void FaultCluster::KillController() {
  if (!controller_) return;
  ::kill(-controller_->pid(), SIGKILL);
  ::kill(controller_->pid(), SIGKILL);
  controller_->Stop();  // reaps it
  SaveLog();
  controller_.reset();
}

void FaultCluster::StopController() {
  if (!controller_) return;
  controller_->Stop();
  SaveLog();
  controller_.reset();
}

bool FaultCluster::ControllerAlive(std::string* exit) {
  if (!controller_) return false;
  if (controller_->Running()) return true;
  if (exit) {
    std::string err = controller_->Stderr() + controller_->Stdout();
    *exit = err.size() > 600 ? err.substr(err.size() - 600) : err;
  }
  SaveLog();
  controller_.reset();
  return false;
}

json FaultCluster::Create(const kube::ApiResource& res, const json& object) {
  kube::WriteOptions wo;
  wo.field_manager = options_.field_manager;
  auto op = client_->Create(res, object["metadata"].value("namespace", "default"), object, wo);
  return Sync(std::move(op));
}

json FaultCluster::Patch(const kube::ApiResource& res, const std::string& ns, const std::string& name,
                         kube::PatchType type, const json& patch) {
  kube::PatchOptions po;
  po.field_manager = options_.field_manager;
  auto op = client_->Patch(res, ns, name, type, patch, po);
  return Sync(std::move(op));
}

}  // namespace sluice::testing::faults
