#include "tests/e2e/kubectl_harness.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <regex>

#include <nlohmann/json.hpp>

namespace sluice::testing {

EmulatorProcess::EmulatorProcess(const std::vector<std::string>& extra_args) {
  kubeconfig_ = dir_.File("kubeconfig");
  std::vector<std::string> argv = {SLUICE_BINARY, "emulator", "--listen", "127.0.0.1:0", "--kubeconfig", kubeconfig_};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  process_ = std::make_unique<BackgroundProcess>(argv);
  // The emulator writes the kubeconfig only once it is listening.
  bool up = WaitFor([&] { return std::filesystem::exists(kubeconfig_) && std::filesystem::file_size(kubeconfig_) > 0; },
                    std::chrono::seconds(20));
  if (!up) FAIL("sluice emulator did not write its kubeconfig within 20 s:\n" << Logs());
}

Kubectl::Kubectl(const EmulatorProcess& emulator, std::string binary)
    : kubeconfig_(emulator.kubeconfig()), binary_(std::move(binary)) {}

SluiceCrdCluster::SluiceCrdCluster(const std::string& fixture_crd_dir, const std::string& ready_delay_ms)
    : emulator_({"--crds", fixture_crd_dir, "--ready-delay", ready_delay_ms}), kubectl_(emulator_) {
  kubectl_.Ok({"apply", "-f", std::string(SLUICE_SOURCE_DIR) + "/crds"});
  kubectl_.Ok({"wait", "--for=condition=Established", "crd/canaries.sluice.dev", "--timeout=20s"});
}
Kubectl::Kubectl(std::string kubeconfig) : kubeconfig_(std::move(kubeconfig)) {}

std::map<std::string, std::string> Kubectl::Env() const {
  return {{"KUBECONFIG", kubeconfig_}, {"KUBECACHEDIR", cache_.path()}, {"HOME", cache_.path()}};
}

ProcessResult Kubectl::operator()(const std::vector<std::string>& args, const std::string& stdin_text) const {
  std::vector<std::string> argv = {binary_, "--request-timeout=20s"};
  argv.insert(argv.end(), args.begin(), args.end());
  return Run(argv, Env(), std::chrono::seconds(60), stdin_text);
}

std::string Kubectl::Ok(const std::vector<std::string>& args, const std::string& stdin_text) const {
  ProcessResult r = (*this)(args, stdin_text);
  std::string cmd = binary_;
  for (const auto& a : args) cmd += " " + a;
  INFO(cmd << "\n" << r.Describe());
  REQUIRE(r.exit_code == 0);
  return r.out;
}

std::unique_ptr<BackgroundProcess> Kubectl::Background(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {binary_};
  argv.insert(argv.end(), args.begin(), args.end());
  return std::make_unique<BackgroundProcess>(argv, Env());
}

uint16_t WaitForOpsPort(const BackgroundProcess& controller, std::chrono::milliseconds deadline) {
  std::regex serving(R"(serving /metrics, /healthz and /readyz on 127\.0\.0\.1:(\d+))");
  uint16_t port = 0;
  WaitFor(
      [&] {
        std::smatch m;
        std::string out = controller.Stdout() + controller.Stderr();
        if (!std::regex_search(out, m, serving)) return false;
        port = static_cast<uint16_t>(std::stoi(m[1]));
        return true;
      },
      deadline);
  return port;
}

std::string TestData(const std::string& name) { return std::string(SLUICE_SOURCE_DIR) + "/tests/e2e/testdata/" + name; }

bool HaveKubectl() { return Run({"sh", "-c", "command -v kubectl"}).exit_code == 0; }

std::string KubectlVersion(const std::string& binary) {
  ProcessResult r = Run({binary, "version", "--client", "-o", "json"});
  try {
    return nlohmann::json::parse(r.out)["clientVersion"]["gitVersion"].get<std::string>();
  } catch (const std::exception&) {
    return "";
  }
}

std::vector<std::string> KubectlBinaries() {
  std::vector<std::string> out;
  if (HaveKubectl()) out.push_back("kubectl");
  std::string debian;
  if (const char* env = std::getenv("SLUICE_KUBECTL_DEBIAN"); env && *env) debian = env;
  else if (const char* home = std::getenv("HOME"); home && *home)
    debian = std::string(home) + "/.cache/sluice/kubectl-debian/usr/bin/kubectl";
  if (!debian.empty() && std::filesystem::exists(debian) &&
      (out.empty() || KubectlVersion(debian) != KubectlVersion("kubectl")))
    out.push_back(debian);
  return out;
}

}  // namespace sluice::testing
