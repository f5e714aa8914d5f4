// The GitRepository reconciler end to end: the API emulator, real repositories, real kubectl.
#include <catch2/catch.hpp>

#include <filesystem>
#include <sstream>

#include "tests/gitops/git_harness.h"
#include "tests/support/skip.h"

namespace sluice::testing {

using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

std::string GitRepositoryYaml(const std::string& name, const std::string& url, const std::string& interval,
                              const std::string& extra_spec = "") {
  return "apiVersion: sluice.dev/v1beta1\nkind: GitRepository\nmetadata:\n  name: " + name +
         "\n  namespace: default\nspec:\n  url: " + url + "\n  interval: " + interval + "\n  timeout: 5s\n" + extra_spec;
}

std::string SecretYaml(const std::string& name, const std::map<std::string, std::string>& data) {
  std::string y = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: " + name + "\n  namespace: default\nstringData:\n";
  for (const auto& [k, v] : data) y += "  " + k + ": \"" + v + "\"\n";
  return y;
}

}  // namespace

TEST_CASE("source: a file:// GitRepository becomes Ready, publishes the tree and follows new commits, idle polls do not fetch") {
  SourceCluster c;
  GitRepo repo;
  std::string c1 = repo.Commit({{"apps/cm.yaml", "kind: ConfigMap\n"}, {"README.md", "docs"}});
  c.Kubectl({"apply", "-f", "-"}, GitRepositoryYaml("app", repo.FileUrl(), "1s", "  ignore: \"*.md\"\n"));
  REQUIRE(c.WaitFor("gitrepository/app", "{.status.artifact.revision}", "main@sha1:" + c1, seconds(10)));
  CHECK(c.Get("gitrepository/app", "{.status.conditions[?(@.type==\"Ready\")].status}") == "True");
  CHECK(c.Get("gitrepository/app", "{.status.conditions[?(@.type==\"Ready\")].reason}") == "Succeeded");
  CHECK(c.Get("gitrepository/app", "{.status.conditions[?(@.type==\"Reconciling\")].status}").empty());
  CHECK(c.Get("gitrepository/app", "{.status.observedGeneration}") == "1");
  auto artifact = c.artifacts().Latest("default/app");
  REQUIRE(artifact);
  CHECK(artifact->revision == "main@sha1:" + c1);
  CHECK(ReadFile(artifact->path + "/apps/cm.yaml") == "kind: ConfigMap\n");
  CHECK_FALSE(std::filesystem::exists(artifact->path + "/README.md"));

  auto ready = c.Stats();
  std::this_thread::sleep_for(seconds(3));
  auto idle = c.Stats();
  CHECK(idle.polls >= ready.polls + 2);
  CHECK(idle.fetches == 1);
  CHECK(idle.published == 1);
  CHECK(idle.status_writes == ready.status_writes);  // nothing new: nothing written

  std::string c2 = repo.Commit({{"apps/cm2.yaml", "kind: ConfigMap\n"}});
  CHECK(c.WaitFor("gitrepository/app", "{.status.artifact.revision}", "main@sha1:" + c2, seconds(5)));
  CHECK(c.Stats().fetches == 2);
  CHECK(c.artifacts().Latest("default/app")->revision == "main@sha1:" + c2);

  std::string table = c.Kubectl({"get", "gitrepo", "app"});
  CHECK(table.find("URL") != std::string::npos);
  CHECK(table.find("READY") != std::string::npos);
  CHECK(table.find("stored artifact for revision") != std::string::npos);
  CHECK(c.Kubectl({"get", "gitrepo", "app", "-o", "wide"}).find("main@sha1:" + c2) != std::string::npos);

  c.Kubectl({"delete", "gitrepository", "app"});
  CHECK(WaitFor([&] { return !c.artifacts().Latest("default/app"); }, seconds(5)));
  CHECK(WaitFor([&] { return !std::filesystem::exists(c.cache_dir() + "/repos/default/app.git"); }, seconds(5)));
}

TEST_CASE("source: https basic auth from a Secret, a wrong password is AuthenticationFailed, never a hang") {
  if (!GitHttpBackendAvailable()) SLUICE_SKIP("git-http-backend is not installed");
  TempDir base;
  GitRepo repo(base.File("repo"));
  std::string c1 = repo.Commit({{"a.yaml", "a: 1\n"}});
  GitHttpServer http(base.path(), "alice", "s3cret");
  SourceCluster c;
  c.Kubectl({"apply", "-f", "-"}, SecretYaml("git-auth", {{"username", "alice"}, {"password", "wrong"}}));
  c.Kubectl({"apply", "-f", "-"}, GitRepositoryYaml("app", http.UrlFor(repo.path()), "1m",
                                                    "  secretRef:\n    name: git-auth\n"));
  REQUIRE(c.WaitFor("gitrepository/app", "{.status.conditions[?(@.type==\"Ready\")].reason}", "AuthenticationFailed",
                    seconds(10)));
  CHECK(c.Get("gitrepository/app", "{.status.conditions[?(@.type==\"Ready\")].message}").find("refused the credentials") !=
        std::string::npos);
  // Fixing the Secret reconciles at once (not at the next interval, a minute away).
  c.Kubectl({"apply", "-f", "-"}, SecretYaml("git-auth", {{"username", "alice"}, {"password", "s3cret"}}));
  CHECK(c.WaitFor("gitrepository/app", "{.status.artifact.revision}", "main@sha1:" + c1, seconds(10)));
  CHECK(c.Get("gitrepository/app", "{.status.conditions[?(@.type==\"Ready\")].status}") == "True");
}

TEST_CASE("source: a bad URL is Stalled, a missing branch is RefNotFound, a missing Secret says which") {
  SourceCluster c;
  GitRepo repo;
  repo.Commit({{"a.yaml", "a"}});
  // The schema refuses schemes Sluice cannot fetch; what passes it but is still no URL stalls.
  ProcessResult refused = c.TryKubectl({"apply", "-f", "-"}, GitRepositoryYaml("gopher", "gopher://example.com/repo", "1m"));
  CHECK(refused.exit_code != 0);
  CHECK(refused.err.find("spec.url") != std::string::npos);
  c.Kubectl({"apply", "-f", "-"}, GitRepositoryYaml("badurl", "https://", "1m"));
  c.Kubectl({"apply", "-f", "-"},
            GitRepositoryYaml("nobranch", repo.FileUrl(), "1m", "  ref:\n    branch: release\n"));
  c.Kubectl({"apply", "-f", "-"}, GitRepositoryYaml("nosecret", repo.FileUrl(), "1m", "  secretRef:\n    name: absent\n"));
  CHECK(c.WaitFor("gitrepository/badurl", "{.status.conditions[?(@.type==\"Stalled\")].reason}", "InvalidURL", seconds(10)));
  CHECK(c.WaitFor("gitrepository/nobranch", "{.status.conditions[?(@.type==\"Ready\")].reason}", "RefNotFound", seconds(10)));
  CHECK(c.Get("gitrepository/nobranch", "{.status.conditions[?(@.type==\"Ready\")].message}").find("branch 'release'") !=
        std::string::npos);
  CHECK(c.WaitFor("gitrepository/nosecret", "{.status.conditions[?(@.type==\"Ready\")].message}",
                  "spec.secretRef: Secret default/absent not found", seconds(10)));
}

TEST_CASE("source: semver ref over git daemon picks the highest matching tag") {
  TempDir base;
  GitRepo repo(base.File("repo"));
  repo.Commit({{"v", "1.0.0"}});
  repo.Tag("v1.0.0");
  std::string c2 = repo.Commit({{"v", "1.1.0"}});
  repo.Tag("v1.1.0", true);
  repo.Commit({{"v", "2.0.0"}});
  repo.Tag("v2.0.0");
  GitDaemon daemon(base.path());
  SourceCluster c;
  c.Kubectl({"apply", "-f", "-"}, GitRepositoryYaml("app", daemon.UrlFor(repo.path()), "1m",
                                                    "  ref:\n    semver: \">=1.0.0 <2.0.0\"\n"));
  CHECK(c.WaitFor("gitrepository/app", "{.status.artifact.revision}", "v1.1.0@sha1:" + c2, seconds(10)));
}

TEST_CASE("source: the sluice.dev/reconcile annotation reconciles at once and is recorded") {
  SourceCluster c;
  GitRepo repo;
  std::string c1 = repo.Commit({{"a.yaml", "a"}});
  c.Kubectl({"apply", "-f", "-"}, GitRepositoryYaml("app", repo.FileUrl(), "1h"));
  REQUIRE(c.WaitFor("gitrepository/app", "{.status.artifact.revision}", "main@sha1:" + c1, seconds(10)));
  std::string c2 = repo.Commit({{"b.yaml", "b"}});
  c.Kubectl({"annotate", "gitrepository", "app", "sluice.dev/reconcile=2026-11-26T08:00:00Z"});
  CHECK(c.WaitFor("gitrepository/app", "{.status.artifact.revision}", "main@sha1:" + c2, seconds(5)));
  CHECK(c.WaitFor("gitrepository/app", "{.status.lastHandledReconcileAt}", "2026-11-26T08:00:00Z", seconds(5)));
}

TEST_CASE("source: ssh with identity and known_hosts from a Secret") {
  if (!SshServer::Available()) SLUICE_SKIP("no sshd on this machine (apt-get install openssh-server); https auth is tested instead");
  SshServer ssh;
  GitRepo repo;
  std::string c1 = repo.Commit({{"a.yaml", "a"}});
  SourceCluster c;
  std::string key = ssh.ClientKey();
  std::string secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: ssh-auth\n  namespace: default\nstringData:\n"
                       "  known_hosts: \"" + ssh.KnownHostsLine().substr(0, ssh.KnownHostsLine().size() - 1) +
                       "\"\n  identity: |\n";
  std::istringstream lines(key);
  for (std::string line; std::getline(lines, line);) secret += "    " + line + "\n";
  c.Kubectl({"apply", "-f", "-"}, secret);
  c.Kubectl({"apply", "-f", "-"}, GitRepositoryYaml("app", ssh.UrlFor(repo.path()), "1m",
                                                    "  secretRef:\n    name: ssh-auth\n"));
  CHECK(c.WaitFor("gitrepository/app", "{.status.artifact.revision}", "main@sha1:" + c1, seconds(15)));
}

TEST_CASE("source: a suspended GitRepository is not polled until resumed") {
  SourceCluster c;
  GitRepo repo;
  std::string c1 = repo.Commit({{"a.yaml", "a"}});
  c.Kubectl({"apply", "-f", "-"}, GitRepositoryYaml("app", repo.FileUrl(), "1s", "  suspend: true\n"));
  std::this_thread::sleep_for(milliseconds(1500));
  CHECK(c.Stats().polls == 0);
  CHECK(c.Get("gitrepository/app", "{.status.artifact.revision}").empty());
  c.Kubectl({"patch", "gitrepository", "app", "--type=merge", "-p", R"({"spec":{"suspend":false}})"});
  CHECK(c.WaitFor("gitrepository/app", "{.status.artifact.revision}", "main@sha1:" + c1, seconds(5)));
}

}  // namespace sluice::testing
