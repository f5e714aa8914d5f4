// Loading manifests from a checked-out tree: files, documents, substitution and the errors a
// user reads in the Ready condition.
#include <catch2/catch.hpp>

#include <filesystem>
#include <sys/stat.h>

#include "controller/gitops/manifests.h"
#include "controller/gitops/substitute.h"
#include "tests/support/process.h"

using namespace sluice::gitops;
using sluice::testing::TempDir;

namespace {

void Write(const TempDir& dir, const std::string& rel, const std::string& text) {
  std::filesystem::path p = std::filesystem::path(dir.path()) / rel;
  std::filesystem::create_directories(p.parent_path());
  dir.Write(rel, text);
}

std::string ConfigMap(const std::string& name, const std::string& value = "v") {
  return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n  namespace: default\ndata:\n  k: " + value + "\n";
}

std::string LoadError(const std::string& root, const std::string& path, const BuildOptions& o = {}) {
  try {
    LoadManifests(root, path, o);
  } catch (const ManifestError& e) {
    return e.reason() + ": " + e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("manifests: every yaml under the path, recursively, in path order, hidden folders skipped") {
  TempDir dir;
  Write(dir, "apps/b.yaml", ConfigMap("b"));
  Write(dir, "apps/a.yml", ConfigMap("a1") + "---\n" + ConfigMap("a2"));
  Write(dir, "apps/sub/c.yaml", "# only a comment\n---\n" + ConfigMap("c"));
  Write(dir, "apps/.github/ci.yaml", ConfigMap("hidden"));
  Write(dir, "apps/README.md", "not yaml");
  Write(dir, "other/d.yaml", ConfigMap("d"));
  auto m = LoadManifests(dir.path(), "./apps", {});
  REQUIRE(m.size() == 4);
  CHECK(m[0].object["metadata"]["name"] == "a1");
  CHECK(m[0].file == "apps/a.yml");
  CHECK(m[1].object["metadata"]["name"] == "a2");
  CHECK(m[1].document == 2);
  CHECK(m[1].line == 9);
  CHECK(m[2].object["metadata"]["name"] == "b");
  CHECK(m[3].object["metadata"]["name"] == "c");
  CHECK(m[3].document == 1);  // the comment-only document does not count
  CHECK(m[3].Origin() == "apps/sub/c.yaml document 1 (line 3)");
  CHECK(LoadManifests(dir.path(), "", {}).size() == 5);
}

TEST_CASE("manifests: a List stands for its items") {
  TempDir dir;
  Write(dir, "list.yaml", "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: first}\n"
                          "- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: second}\n");
  auto m = LoadManifests(dir.path(), ".", {});
  REQUIRE(m.size() == 2);
  CHECK(m[1].object["metadata"]["name"] == "second");
}

TEST_CASE("manifests: errors name the file, the document, the line and the field") {
  TempDir dir;
  Write(dir, "apps/web.yaml", ConfigMap("ok") + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n");
  CHECK_THAT(LoadError(dir.path(), "apps"),
             Catch::Contains("BuildFailed: apps/web.yaml document 2 (line 9): yaml: line 1"));

  TempDir no_name;
  Write(no_name, "x.yaml", ConfigMap("a") + "---\n" + ConfigMap("b") + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  namespace: default\n");
  CHECK(LoadError(no_name.path(), ".") == "BuildFailed: x.yaml document 3 (line 17): metadata.name: Required value");

  TempDir no_kind;
  Write(no_kind, "x.yaml", "apiVersion: v1\nmetadata: {name: a}\n");
  CHECK(LoadError(no_kind.path(), ".") == "BuildFailed: x.yaml document 1 (line 1): kind: Required value");

  TempDir scalar;
  Write(scalar, "x.yaml", "just a string\n");
  CHECK_THAT(LoadError(scalar.path(), "."), Catch::Contains("x.yaml document 1 (line 1): expected a Kubernetes object"));
}

TEST_CASE("manifests: a kind that is not a string is a BuildFailed error (found by fuzz_manifests)", "[fuzz]") {
  // Checking for a v1 List read kind as a string and threw nlohmann's type_error, which no
  // caller catches: the sync failed without a condition.
  try {
    ParseManifestText("apiVersion: v1\nkind:\n  description: Kind of the matching\nmetadata: {name: a}\n",
                      "apps/crd.yaml", std::nullopt);
    FAIL("expected a ManifestError");
  } catch (const ManifestError& e) {
    CHECK(e.reason() == "BuildFailed");
    CHECK(std::string(e.what()) ==
          "apps/crd.yaml document 1 (line 1): kind: Invalid value: {\"description\":\"Kind of the matching\"}: "
          "expected a non-empty string");
  }
  CHECK_THROWS_AS(ParseManifestText("kind: [List]\nitems: []\n", "x.yaml", std::nullopt), ManifestError);
}

TEST_CASE("manifests: errors that quote the file are UTF-8 whatever its bytes (found by fuzz_manifests)", "[fuzz]") {
  // The messages quoted the file's bytes as they were (a variable name, yaml-cpp's "unknown
  // escape character"); written into the Ready condition they made the status write throw.
  auto message = [](const std::string& text) {
    try {
      ParseManifestText(text, "apps/x.yaml", Variables{{"A", "1"}});
    } catch (const ManifestError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  std::string bad_name = message("a: ${SANDBOX_LO\xbbTESTER}\n");
  CHECK_THAT(bad_name, Catch::Contains("invalid variable name \"SANDBOX_LO\xef\xbf\xbdTESTER\""));
  CHECK_NOTHROW(nlohmann::json(bad_name).dump());
  std::string escape = message("a: \"\\\xb0\"\n");
  CHECK_THAT(escape, Catch::Contains("unknown escape character"));
  CHECK_NOTHROW(nlohmann::json(escape).dump());
  std::string cut = message("a: ${x\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\n");
  CHECK_THAT(cut, Catch::Contains("unterminated variable reference"));  // quoted up to 20 bytes, mid-character
  CHECK_NOTHROW(nlohmann::json(cut).dump());
}

TEST_CASE("manifests: a missing path or one leaving the tree is PathNotFound") {
  TempDir dir;
  Write(dir, "apps/a.yaml", ConfigMap("a"));
  CHECK(LoadError(dir.path(), "./clusters/prod") == "PathNotFound: spec.path: ./clusters/prod does not exist in this revision");
  CHECK_THAT(LoadError(dir.path(), "../.."), Catch::Contains("PathNotFound: spec.path: ../.. leaves the repository"));
  CHECK_THAT(LoadError(dir.path(), "apps/a.yaml"), Catch::Contains("is not a folder"));
}

TEST_CASE("manifests: a symlink out of the tree is not followed") {
  TempDir outside;
  Write(outside, "secret.yaml", ConfigMap("outside"));
  TempDir dir;
  Write(dir, "a.yaml", ConfigMap("a"));
  std::filesystem::create_symlink(outside.File("secret.yaml"), dir.File("link.yaml"));
  auto m = LoadManifests(dir.path(), ".", {});
  REQUIRE(m.size() == 1);
  CHECK(m[0].object["metadata"]["name"] == "a");
}

TEST_CASE("manifests: a kustomization.yaml without a kustomize binary says so") {
  TempDir dir;
  Write(dir, "app/kustomization.yaml", "resources: [cm.yaml]\n");
  Write(dir, "app/cm.yaml", ConfigMap("a"));
  std::string err = LoadError(dir.path(), "app");
  CHECK_THAT(err, Catch::StartsWith("KustomizeUnavailable: app/kustomization.yaml needs `kustomize build`"));
  CHECK_THAT(err, Catch::Contains("--kustomize-path"));
  // A nested kustomization is a unit of its own, found while walking.
  CHECK_THAT(LoadError(dir.path(), "."), Catch::StartsWith("KustomizeUnavailable: app/kustomization.yaml"));
}

TEST_CASE("manifests: kustomize build runs the configured binary on the folder") {
  TempDir bin;
  // A stand-in for kustomize: checks its arguments and prints the folder's cm.yaml twice.
  bin.Write("kustomize", "#!/bin/sh\n[ \"$1\" = build ] || { echo \"bad args: $*\" >&2; exit 3; }\n"
                         "sed 's/name: a/name: built/' \"$2/cm.yaml\"\necho ---\ncat \"$2/cm.yaml\"\n");
  chmod(bin.File("kustomize").c_str(), 0755);
  bin.Write("failing", "#!/bin/sh\necho 'Error: accumulating resources: missing.yaml: no such file' >&2\nexit 1\n");
  chmod(bin.File("failing").c_str(), 0755);
  TempDir dir;
  Write(dir, "app/kustomization.yaml", "resources: [cm.yaml]\n");
  Write(dir, "app/cm.yaml", ConfigMap("a"));
  BuildOptions o;
  o.kustomize_path = bin.File("kustomize");
  auto m = LoadManifests(dir.path(), "app", o);
  REQUIRE(m.size() == 2);
  CHECK(m[0].object["metadata"]["name"] == "built");
  CHECK(m[1].file == "app/kustomization.yaml (kustomize build output)");
  o.kustomize_path = bin.File("failing");
  CHECK(LoadError(dir.path(), "app", o) ==
        "BuildFailed: kustomize build app failed (exit 1): Error: accumulating resources: missing.yaml: no such file");
  o.kustomize_path = bin.File("absent");
  CHECK_THAT(LoadError(dir.path(), "app", o), Catch::Contains("is not an executable file"));
}

TEST_CASE("substitute: ${VAR}, defaults, escapes and errors") {
  Variables v{{"REGION", "eu-west-1"}, {"REPLICAS", "3"}};
  CHECK(Substitute("region: ${REGION}", v) == "region: eu-west-1");
  CHECK(Substitute("a: ${MISSING:=fallback} b: ${MISSING:-x}", v) == "a: fallback b: x");
  CHECK(Substitute("a: ${REGION:=ignored}", v) == "a: eu-west-1");
  CHECK(Substitute("echo $${HOME} $PATH $$", v) == "echo ${HOME} $PATH $$");
  CHECK_THROWS_WITH(Substitute("a: 1\nb: ${NOPE}\n", v),
                    Catch::StartsWith("line 2: variable ${NOPE} is not set and has no default"));
  CHECK_THROWS_WITH(Substitute("a: ${1BAD}", v), Catch::StartsWith("line 1: invalid variable name \"1BAD\""));
  CHECK_THROWS_WITH(Substitute("a: ${OPEN\nb: c", v), Catch::StartsWith("line 1: unterminated variable reference"));
  CHECK(ValidVariableName("_a1"));
  CHECK_FALSE(ValidVariableName("a-b"));
}

TEST_CASE("manifests: substitution happens on the text, so numbers stay numbers, opt-out by annotation") {
  Variables v{{"REPLICAS", "3"}, {"NAME", "web"}};
  std::string text =
      "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ${NAME}\n  namespace: default\nspec:\n  replicas: ${REPLICAS}\n"
      "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: script\n  namespace: default\n  annotations:\n"
      "    sluice.dev/substitute: disabled\ndata:\n  run.sh: echo ${UNSET}\n";
  auto m = ParseManifestText(text, "app.yaml", v);
  REQUIRE(m.size() == 2);
  CHECK(m[0].object["metadata"]["name"] == "web");
  CHECK(m[0].object["spec"]["replicas"] == 3);
  CHECK(m[1].object["data"]["run.sh"] == "echo ${UNSET}");
  // Without postBuild nothing is substituted.
  auto raw = ParseManifestText(text, "app.yaml", std::nullopt);
  CHECK(raw[0].object["metadata"]["name"] == "${NAME}");
  // An unset variable names the file, the document and the file's line.
  std::string bad = ConfigMap("a") + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\ndata:\n  k: ${MISSING}\n";
  CHECK_THROWS_WITH(ParseManifestText(bad, "apps/cm.yaml", v),
                    Catch::StartsWith("apps/cm.yaml document 2 (line 14): variable ${MISSING} is not set"));
}
