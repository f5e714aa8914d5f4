// The install manifests: `kubectl kustomize deploy/` renders, what it renders is the install
// we promise (every CRD, two replicas with leader election, non-root, read-only root, probes,
// requests, no wildcard RBAC), and it applies cleanly to the API emulator.
#include <catch2/catch.hpp>

#include <filesystem>
#include <set>

#include "core/yaml_json.h"
#include "tests/e2e/kubectl_harness.h"
#include "tests/support/fixtures.h"
#include "tests/support/skip.h"

using namespace sluice::testing;
using nlohmann::json;

namespace {

std::vector<json> Rendered() {
  ProcessResult r = Run({"kubectl", "kustomize", std::string(SLUICE_SOURCE_DIR) + "/deploy"});
  INFO(r.Describe());
  REQUIRE(r.exit_code == 0);
  return sluice::core::ParseYamlDocuments(r.out);
}

const json* Find(const std::vector<json>& objects, const std::string& kind, const std::string& name) {
  for (const auto& o : objects)
    if (o.value("kind", "") == kind && o["metadata"].value("name", "") == name) return &o;
  return nullptr;
}

}  // namespace

TEST_CASE("deploy/ renders every CRD and a hardened, leader-elected Deployment", "[e2e][deploy]") {
  if (!HaveKubectl()) SLUICE_SKIP("kubectl is not installed");
  auto objects = Rendered();

  std::set<std::string> rendered_crds;
  for (const auto& o : objects)
    if (o.value("kind", "") == "CustomResourceDefinition") rendered_crds.insert(o["metadata"].value("name", ""));
  for (const auto& entry : std::filesystem::directory_iterator(std::string(SLUICE_SOURCE_DIR) + "/crds")) {
    if (entry.path().extension() != ".yaml") continue;
    for (const auto& crd : sluice::core::ParseYamlDocuments(ReadFile(entry.path()))) {
      INFO(entry.path() << " is not listed in crds/Kustomization");
      CHECK(rendered_crds.count(crd["metadata"].value("name", "")));
    }
  }

  const json* deploy = Find(objects, "Deployment", "sluice");
  REQUIRE(deploy);
  CHECK((*deploy)["metadata"]["namespace"] == "sluice-system");
  CHECK((*deploy)["spec"]["replicas"] == 2);
  const json& pod = (*deploy)["spec"]["template"]["spec"];
  const json& c = pod["containers"][0];
  CHECK(c["image"] == "ghcr.io/sluice-dev/sluice:v0.1.0");
  CHECK(c["args"].dump().find("--leader-elect=true") != std::string::npos);
  CHECK(pod["securityContext"]["runAsNonRoot"] == true);
  CHECK(c["securityContext"]["readOnlyRootFilesystem"] == true);
  CHECK(c["securityContext"]["allowPrivilegeEscalation"] == false);
  CHECK(c["livenessProbe"]["httpGet"]["path"] == "/healthz");
  CHECK(c["readinessProbe"]["httpGet"]["path"] == "/readyz");
  CHECK(c["resources"]["requests"].contains("cpu"));
  CHECK(c["resources"]["requests"].contains("memory"));
  CHECK(Find(objects, "Service", "sluice"));

  const json* role = Find(objects, "ClusterRole", "sluice");
  REQUIRE(role);
  for (const auto& rule : (*role)["rules"]) {
    INFO(rule.dump());
    for (const char* field : {"apiGroups", "resources", "verbs"})
      for (const auto& v : rule[field]) CHECK(v != "*");
  }
  const json* binding = Find(objects, "ClusterRoleBinding", "sluice");
  REQUIRE(binding);
  CHECK((*binding)["subjects"][0]["namespace"] == "sluice-system");
}

TEST_CASE("the rendered install applies cleanly to the emulator and rolls out", "[e2e][deploy]") {
  if (!HaveKubectl()) SLUICE_SKIP("kubectl is not installed");
  ProcessResult rendered = Run({"kubectl", "kustomize", std::string(SLUICE_SOURCE_DIR) + "/deploy"});
  REQUIRE(rendered.exit_code == 0);
  EmulatorProcess emu({"--ready-delay", "200"});
  Kubectl k(emu);
  ProcessResult apply = k({"apply", "-f", "-"}, rendered.out);
  INFO(apply.Describe());
  REQUIRE(apply.exit_code == 0);
  CHECK(apply.out.find("deployment.apps/sluice created") != std::string::npos);
  CHECK(apply.out.find("clusterrole.rbac.authorization.k8s.io/sluice created") != std::string::npos);
  k.Ok({"rollout", "status", "deployment/sluice", "-n", "sluice-system", "--timeout=30s"});
  k.Ok({"wait", "--for=condition=Established", "crd/canaries.sluice.dev", "--timeout=20s"});
  // A second apply changes nothing.
  ProcessResult again = k({"apply", "-f", "-"}, rendered.out);
  REQUIRE(again.exit_code == 0);
  CHECK(again.out.find("configured") == std::string::npos);
}
