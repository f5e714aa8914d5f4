// GitOps as it runs in a cluster, all real processes: `sluice controller` follows a Git
// repository through a GitRepository that polls only hourly, and a signed GitHub push to its
// webhook receiver gets the new commit applied by the Kustomization within a second.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <regex>

#include "controller/gitops/receiver.h"
#include "tests/e2e/canary_harness.h"
#include "tests/support/fixtures.h"
#include "tests/support/skip.h"

using namespace sluice::testing;

namespace {

std::string Git(const std::string& repo, std::vector<std::string> args) {
  args.insert(args.begin(), {"git", "-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.org"});
  ProcessResult r = Run(args);
  INFO(r.Describe());
  REQUIRE(r.exit_code == 0);
  return r.out;
}

std::string CommitConfigMap(const std::string& repo, const std::string& name, const std::string& value) {
  std::filesystem::create_directories(repo + "/apps");
  std::ofstream(repo + "/apps/" + name + ".yaml") << "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " << name
                                                  << "\n  namespace: default\ndata:\n  value: \"" << value << "\"\n";
  Git(repo, {"add", "-A"});
  Git(repo, {"commit", "-q", "-m", name});
  std::string head = Git(repo, {"rev-parse", "HEAD"});
  return head.substr(0, head.find('\n'));
}

}  // namespace

TEST_CASE("a signed push to the controller's receiver gets the commit applied within a second", "[e2e][gitops]") {
  if (!HaveKubectl()) SLUICE_SKIP("kubectl is not installed");
  auto crds = CrdFixtureDir();
  if (!crds) SLUICE_SKIP("Gateway API CRDs not found: set SLUICE_CRD_DIR (docs/testing.md)");
  if (Run({"curl", "--version"}).exit_code != 0) SLUICE_SKIP("curl is not installed");
  SluiceCrdCluster cluster(*crds, "200");
  const Kubectl& k = cluster.kubectl();
  TempDir dir;
  std::string repo = dir.File("repo");
  Run({"git", "init", "-q", "-b", "main", repo});
  std::string first = CommitConfigMap(repo, "a", "1");

  BackgroundProcess controller({SLUICE_BINARY, "controller", "--kubeconfig", cluster.emulator().kubeconfig(),
                                "--leader-elect=false", "--listen", "127.0.0.1:0", "--log-format", "text",
                                "--cache-dir", dir.File("cache")});
  std::regex serving(R"(on 127\.0\.0\.1:(\d+))");
  std::string port;
  REQUIRE(WaitFor(
      [&] {
        std::smatch m;
        std::string out = controller.Stdout() + controller.Stderr();
        if (!std::regex_search(out, m, serving)) return false;
        port = m[1];
        return true;
      },
      std::chrono::seconds(10)));

  k.Ok({"apply", "-f", "-"}, R"(apiVersion: v1
kind: Secret
metadata:
  name: hook-token
  namespace: default
stringData:
  token: s3cret
---
apiVersion: sluice.dev/v1beta1
kind: GitRepository
metadata:
  name: app
  namespace: default
spec:
  url: file://)" + repo + R"(
  ref:
    branch: main
  interval: 1h
---
apiVersion: sluice.dev/v1beta1
kind: Kustomization
metadata:
  name: apps
  namespace: default
spec:
  sourceRef:
    kind: GitRepository
    name: app
  path: ./apps
  interval: 1h
  prune: true
---
apiVersion: sluice.dev/v1beta1
kind: Receiver
metadata:
  name: github
  namespace: default
spec:
  type: github
  events: ["push"]
  secretRef:
    name: hook-token
  resources:
    - kind: GitRepository
      name: app
)");
  auto get = [&](const std::string& object, const std::string& path) {
    return k({"get", object, "-o", "jsonpath=" + path}).out;
  };
  bool applied = WaitFor([&] { return get("kustomization/apps", "{.status.lastAppliedRevision}") == "main@sha1:" + first; },
                         std::chrono::seconds(30));
  INFO(controller.Stdout() << controller.Stderr() << get("kustomization/apps", "{.status}"));
  REQUIRE(applied);
  CHECK(get("configmap/a", "{.data.value}") == "1");
  std::string path = get("receiver/github", "{.status.webhookPath}");
  REQUIRE(path == sluice::gitops::WebhookPath("s3cret", "github", "default"));

  std::string second = CommitConfigMap(repo, "b", "2");
  std::string body = R"({"ref":"refs/heads/main","after":")" + second + R"("})";
  std::string url = "http://127.0.0.1:" + port + path;
  ProcessResult forged = Run({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-H",
                              "X-GitHub-Event: push", "-H", "X-Hub-Signature-256: sha256=" +
                              sluice::gitops::HmacSha256Hex("guess", body), "--data-binary", body, url});
  CHECK(forged.out == "401");
  auto pushed = std::chrono::steady_clock::now();
  ProcessResult signed_push = Run({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-H",
                                   "X-GitHub-Event: push", "-H", "X-Hub-Signature-256: sha256=" +
                                   sluice::gitops::HmacSha256Hex("s3cret", body), "--data-binary", body, url});
  CHECK(signed_push.out == "200");
  bool followed = WaitFor([&] { return get("configmap/b", "{.data.value}") == "2"; }, std::chrono::seconds(5));
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - pushed);
  REQUIRE(followed);
  WARN("signed push to applied ConfigMap: " << took.count() << " ms (kubectl polling included)");
  CHECK(took < std::chrono::seconds(1));
  CHECK(get("kustomization/apps", "{.status.lastAppliedRevision}") == "main@sha1:" + second);
  std::string metrics = Run({"curl", "-s", "http://127.0.0.1:" + port + "/metrics"}).out;
  CHECK(metrics.find("sluice_receiver_requests_total{result=\"unauthorized\"} 1") != std::string::npos);
  CHECK(metrics.find("sluice_sync_revision_info{name=\"apps\",namespace=\"default\",revision=\"main@sha1:" + second +
                     "\"} 1") != std::string::npos);
}
