// kubeconfig, in-cluster config, exec credential plugins and the authenticator that uses them.
#include "kube/auth.h"
#include "core/base64.h"
#include "kube/config.h"
#include "kube/exec_credential.h"
#include "tests/support/process.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <sys/stat.h>

namespace sluice::kube {
namespace {

using Catch::Matchers::Contains;
using sluice::testing::TempDir;
namespace fs = std::filesystem;

// Sets an environment variable for one test and puts back what was there.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      setenv(name, value, 1);
    else
      unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_)
      setenv(name_.c_str(), old_->c_str(), 1);
    else
      unsetenv(name_.c_str());
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

const char kTwoContexts[] = R"(apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: dev-cluster
  cluster:
    server: https://127.0.0.1:6443
    tls-server-name: api.dev.local
- name: prod-cluster
  cluster:
    server: http://[::1]:8080
users:
- name: dev-user
  user:
    token: dev-token
- name: prod-user
  user:
    username: admin
    password: s3cret
contexts:
- name: dev
  context: {cluster: dev-cluster, user: dev-user, namespace: team-a}
- name: prod
  context: {cluster: prod-cluster, user: prod-user}
)";

void WriteExecutable(const TempDir& dir, const std::string& name, const std::string& script) {
  dir.Write(name, script);
  chmod(dir.File(name).c_str(), 0755);
}

TEST_CASE("kubeconfig: current-context picks cluster, user and namespace", "[config]") {
  RestConfig rc = ParseKubeconfig(kTwoContexts);
  CHECK(rc.context_name == "dev");
  CHECK(rc.server == "https://127.0.0.1:6443");
  CHECK(rc.tls_server_name == "api.dev.local");
  CHECK(rc.token == "dev-token");
  CHECK(rc.ns == "team-a");
}

TEST_CASE("kubeconfig: --context and -n override the file", "[config]") {
  RestConfig rc = ParseKubeconfig(kTwoContexts, {.context = "prod"});
  CHECK(rc.server == "http://[::1]:8080");
  CHECK(rc.username == "admin");
  CHECK(rc.password == "s3cret");
  CHECK(rc.ns == "default");
  CHECK(ParseKubeconfig(kTwoContexts, {.ns = "other"}).ns == "other");
  CHECK_THROWS_WITH(ParseKubeconfig(kTwoContexts, {.context = "nope"}), Contains("context \"nope\" not found"));
}

TEST_CASE("kubeconfig: a server without a scheme is https", "[config]") {
  RestConfig rc = ParseKubeconfig(R"(current-context: c
clusters: [{name: k, cluster: {server: "10.0.0.1:6443"}}]
contexts: [{name: c, context: {cluster: k}}]
)");
  CHECK(rc.server == "https://10.0.0.1:6443");
  CHECK(rc.token.empty());
}

TEST_CASE("kubeconfig: -data fields are base64 PEM, bad base64 is named", "[config]") {
  std::string yaml = "current-context: c\nclusters: [{name: k, cluster: {server: https://h:1, certificate-authority-data: " +
                     core::Base64Encode("CA PEM") + "}}]\nusers: [{name: u, user: {client-certificate-data: " +
                     core::Base64Encode("CERT") + ", client-key-data: " + core::Base64Encode("KEY") +
                     "}}]\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n";
  RestConfig rc = ParseKubeconfig(yaml, {}, "mem.yaml");
  CHECK(rc.ca_data == "CA PEM");
  CHECK(rc.client_cert_data == "CERT");
  CHECK(rc.client_key_data == "KEY");
  CHECK_THROWS_WITH(ParseKubeconfig(R"(current-context: c
clusters: [{name: k, cluster: {server: "https://h:1", certificate-authority-data: "!!not base64!!"}}]
contexts: [{name: c, context: {cluster: k}}]
)",
                                    {}, "bad.yaml"),
                    Contains("bad.yaml") && Contains("clusters[0].cluster.certificate-authority-data") &&
                        Contains("base64"));
}

TEST_CASE("kubeconfig: insecure-skip-tls-verify together with a CA is refused", "[config]") {
  std::string yaml = "current-context: c\nclusters: [{name: k, cluster: {server: https://h:1, "
                     "insecure-skip-tls-verify: true, certificate-authority-data: " +
                     core::Base64Encode("CA") + "}}]\ncontexts: [{name: c, context: {cluster: k}}]\n";
  CHECK_THROWS_WITH(ParseKubeconfig(yaml, {}, "x.yaml"),
                    Contains("x.yaml") && Contains("insecure-skip-tls-verify") && Contains("not allowed"));
  RestConfig rc = ParseKubeconfig(R"(current-context: c
clusters: [{name: k, cluster: {server: "https://h:1", insecure-skip-tls-verify: true}}]
contexts: [{name: c, context: {cluster: k}}]
)");
  CHECK(rc.insecure_skip_tls_verify);
}

TEST_CASE("kubeconfig: garbage gives a ConfigError naming file and field", "[config]") {
  auto fails = [](const std::string& yaml, const std::string& expected) {
    INFO(yaml);
    CHECK_THROWS_AS(ParseKubeconfig(yaml, {}, "/tmp/garbage.yaml"), ConfigError);
    CHECK_THROWS_WITH(ParseKubeconfig(yaml, {}, "/tmp/garbage.yaml"),
                      Contains("/tmp/garbage.yaml") && Contains(expected));
  };
  fails("clusters: [unclosed", "not valid YAML");
  fails("- just\n- a list\n", "top level");
  fails("clusters: 5\n", "clusters: expected a list");
  fails("clusters: [{name: k, cluster: [1, 2]}]\n", "clusters[0].cluster: expected a map");
  fails("clusters: [{cluster: {server: https://h}}]\n", "clusters[0].name: missing");
  fails("current-context: c\nclusters: [{name: k, cluster: {server: {nested: map}}}]\ncontexts: [{name: c, context: {cluster: k}}]\n",
        "clusters[0].cluster.server: expected a string");
  fails("current-context: ghost\ncontexts: []\n", "current-context: names context \"ghost\"");
  fails("current-context: c\ncontexts: [{name: c, context: {cluster: missing}}]\n",
        "contexts[0].context.cluster: names cluster \"missing\"");
  fails("current-context: c\nclusters: [{name: k, cluster: {server: https://h}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: nobody}}]\n",
        "contexts[0].context.user: names user \"nobody\"");
  fails("current-context: c\nclusters: [{name: k, cluster: {}}]\ncontexts: [{name: c, context: {cluster: k}}]\n",
        "clusters[0].cluster.server: missing");
  fails("current-context: c\nclusters: [{name: k, cluster: {server: https://h, insecure-skip-tls-verify: maybe}}]\n"
        "contexts: [{name: c, context: {cluster: k}}]\n",
        "insecure-skip-tls-verify: expected true or false");
  fails("current-context: c\nclusters: [{name: k, cluster: {server: https://h}}]\n"
        "users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1}}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\n",
        "users[0].user.exec.command: missing");
  CHECK_THROWS_WITH(ParseKubeconfig("clusters: []\n", {}, "empty.yaml"), Contains("current-context is not set"));
}

TEST_CASE("kubeconfig: an entry without its map reads as an empty one (found by fuzz_kubeconfig)", "[config][fuzz]") {
  // users[0] had no `user:` map; filling in an empty one threw yaml-cpp's InvalidNode, which
  // escaped ParseKubeconfig and ended the process.
  RestConfig rc = ParseKubeconfig(R"(current-context: c
clusters: [{name: k, cluster: {server: "https://h"}}]
users: [{name: u, u-er: {tokenFile: token}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
)");
  CHECK(rc.server == "https://h");
  CHECK(rc.token.empty());
  CHECK(rc.token_file.empty());
  CHECK_THROWS_WITH(ParseKubeconfig("current-context: c\nclusters: [{name: k}]\ncontexts: [{name: c, context: {cluster: k}}]\n"),
                    Contains("clusters[0].cluster.server: missing"));
}

TEST_CASE("kubeconfig: KUBECONFIG merges files, first wins, paths resolve per file", "[config]") {
  TempDir tmp;
  fs::create_directories(tmp.File("a"));
  fs::create_directories(tmp.File("b/certs"));
  tmp.Write("a/ca.crt", "CA of a");
  tmp.Write("b/certs/ca.crt", "CA of b");
  tmp.Write("a/config", R"(current-context: from-a
clusters:
- name: shared
  cluster: {server: "https://a.example:6443", certificate-authority: ca.crt}
users:
- name: shared-user
  user: {tokenFile: token}
contexts:
- name: from-a
  context: {cluster: shared, user: shared-user}
)");
  tmp.Write("b/config", R"(current-context: from-b
clusters:
- name: shared
  cluster: {server: "https://b.example:6443"}
- name: only-b
  cluster: {server: "https://only-b:6443", certificate-authority: certs/ca.crt}
contexts:
- name: from-b
  context: {cluster: only-b, namespace: bee}
)");
  ScopedEnv env("KUBECONFIG", (tmp.File("a/config") + ":" + tmp.File("missing") + ":" + tmp.File("b/config")).c_str());

  RestConfig a = LoadKubeconfig();
  CHECK(a.context_name == "from-a");  // the first file's current-context wins
  CHECK(a.server == "https://a.example:6443");  // and its cluster of the same name
  CHECK(a.ca_file == tmp.File("a/ca.crt"));
  CHECK(a.token_file == tmp.File("a/token"));

  RestConfig b = LoadKubeconfig({.context = "from-b"});
  CHECK(b.server == "https://only-b:6443");
  CHECK(b.ca_file == tmp.File("b/certs/ca.crt"));
  CHECK(b.ns == "bee");

  // --kubeconfig wins over KUBECONFIG and must exist.
  CHECK(LoadKubeconfig({.explicit_path = tmp.File("b/config")}).context_name == "from-b");
  CHECK_THROWS_WITH(LoadKubeconfig({.explicit_path = tmp.File("nope")}), Contains("cannot read kubeconfig"));
}

TEST_CASE("kubeconfig: a certificate-authority file that does not exist is named", "[config]") {
  TempDir tmp;
  tmp.Write("config", "current-context: c\nclusters: [{name: k, cluster: {server: https://h, "
                      "certificate-authority: no-such-ca.crt}}]\ncontexts: [{name: c, context: {cluster: k}}]\n");
  CHECK_THROWS_WITH(LoadKubeconfig({.explicit_path = tmp.File("config")}),
                    Contains("certificate-authority") && Contains(tmp.File("no-such-ca.crt")));
}

TEST_CASE("kubeconfig: exec plugin section is read, relative command resolved", "[config][exec]") {
  TempDir tmp;
  tmp.Write("config", R"(current-context: c
clusters: [{name: k, cluster: {server: "https://h:6443"}}]
users:
- name: u
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./bin/cred
      args: [--cluster, k]
      env: [{name: CRED_MODE, value: fast}]
      interactiveMode: Never
contexts: [{name: c, context: {cluster: k, user: u}}]
)");
  RestConfig rc = LoadKubeconfig({.explicit_path = tmp.File("config")});
  REQUIRE(rc.exec);
  CHECK(rc.exec->command == tmp.File("bin/cred"));
  CHECK(rc.exec->args == std::vector<std::string>{"--cluster", "k"});
  CHECK(rc.exec->env.at("CRED_MODE") == "fast");
  CHECK(rc.exec->interactive_mode == "Never");
}

TEST_CASE("exec plugin: token, env, KUBERNETES_EXEC_INFO and expiry cache", "[config][exec]") {
  TempDir tmp;
  WriteExecutable(tmp, "cred.sh", R"(#!/bin/sh
echo run >> ")" + tmp.File("runs") + R"("
printf '%s' "$KUBERNETES_EXEC_INFO" > ")" + tmp.File("info") + R"("
cat <<EOF
{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1",
 "status":{"token":"tok-$CRED_SUFFIX-$1","expirationTimestamp":"2099-01-01T00:00:00Z"}}
EOF
)");
  ExecConfig ex{.command = tmp.File("cred.sh"), .args = {"arg1"}, .env = {{"CRED_SUFFIX", "xyz"}}};
  ExecCredential cred = RunExecPlugin(ex, std::chrono::seconds(10));
  CHECK(cred.token == "tok-xyz-arg1");
  REQUIRE(cred.expiry);
  CHECK(core::FormatTime(*cred.expiry) == "2099-01-01T00:00:00Z");
  auto info = nlohmann::json::parse(testing::ReadFile(tmp.File("info")));
  CHECK(info["kind"] == "ExecCredential");
  CHECK(info["apiVersion"] == "client.authentication.k8s.io/v1");
  CHECK(info["spec"]["interactive"] == false);

  // Cached until just before it expires, then the plugin runs again.
  core::FakeClock clock(*core::ParseTime("2098-12-31T23:00:00Z"));
  ExecCredentialCache cache(ex, std::chrono::seconds(10), clock);
  cache.Get();
  cache.Get();
  CHECK(testing::ReadFile(tmp.File("runs")) == "run\nrun\n");
  clock.Advance(std::chrono::minutes(59) + std::chrono::seconds(58));
  CHECK_FALSE(cache.Cached());
  cache.Get();
  CHECK(testing::ReadFile(tmp.File("runs")) == "run\nrun\nrun\n");
  cache.Invalidate();
  CHECK_FALSE(cache.Cached());
}

TEST_CASE("exec plugin: client certificate data", "[config][exec]") {
  auto cred = ParseExecCredential(
      R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1",
          "status":{"clientCertificateData":"CERT","clientKeyData":"KEY"}})",
      "client.authentication.k8s.io/v1", "p");
  CHECK(cred.client_cert_data == "CERT");
  CHECK(cred.client_key_data == "KEY");
  CHECK_FALSE(cred.expiry);
  CHECK_THROWS_WITH(ParseExecCredential(R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1",
                                            "status":{"clientCertificateData":"CERT"}})",
                                        "client.authentication.k8s.io/v1", "p"),
                    Contains("given together"));
  CHECK_THROWS_WITH(ParseExecCredential("hello", "client.authentication.k8s.io/v1", "p"), Contains("not a JSON object"));
  CHECK_THROWS_WITH(ParseExecCredential(R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","status":{"token":"t"}})",
                                        "client.authentication.k8s.io/v1", "p"),
                    Contains("apiVersion"));
}

TEST_CASE("exec plugin: failure carries stderr, a hang meets the deadline", "[config][exec]") {
  TempDir tmp;
  WriteExecutable(tmp, "fail.sh", "#!/bin/sh\necho 'error: you must log in first' >&2\nexit 3\n");
  ExecConfig fail{.command = tmp.File("fail.sh")};
  CHECK_THROWS_AS(RunExecPlugin(fail, std::chrono::seconds(10)), ConfigError);
  CHECK_THROWS_WITH(RunExecPlugin(fail, std::chrono::seconds(10)),
                    Contains("exited with status 3") && Contains("you must log in first"));

  WriteExecutable(tmp, "hang.sh", "#!/bin/sh\necho 'waiting for browser' >&2\nexec sleep 30\n");
  auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH(RunExecPlugin({.command = tmp.File("hang.sh")}, std::chrono::milliseconds(300)),
                    Contains("did not finish within 300 ms") && Contains("waiting for browser"));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));

  CHECK_THROWS_WITH(RunExecPlugin({.command = tmp.File("does-not-exist")}, std::chrono::seconds(5)),
                    Contains("cannot run"));
  CHECK_THROWS_WITH(RunExecPlugin({.command = "true", .interactive_mode = "Always"}, std::chrono::seconds(5)),
                    Contains("interactiveMode Always"));
}

TEST_CASE("in-cluster: service account mount and service env, IPv6 in brackets", "[config]") {
  TempDir mount;
  mount.Write("token", "first-token\n");
  mount.Write("ca.crt", "CA");
  mount.Write("namespace", "sluice-system\n");
  {
    ScopedEnv host("KUBERNETES_SERVICE_HOST", "10.96.0.1");
    ScopedEnv port("KUBERNETES_SERVICE_PORT", "443");
    RestConfig rc = InClusterConfig(mount.path());
    CHECK(rc.server == "https://10.96.0.1:443");
    CHECK(rc.token_file == mount.File("token"));
    CHECK(rc.ca_file == mount.File("ca.crt"));
    CHECK(rc.ns == "sluice-system");
  }
  {
    ScopedEnv host("KUBERNETES_SERVICE_HOST", "fd00::1");
    ScopedEnv port("KUBERNETES_SERVICE_PORT", "6443");
    CHECK(InClusterConfig(mount.path()).server == "https://[fd00::1]:6443");
  }
  {
    ScopedEnv host("KUBERNETES_SERVICE_HOST", nullptr);
    CHECK_THROWS_WITH(InClusterConfig(mount.path()), Contains("KUBERNETES_SERVICE_HOST"));
  }
  {
    ScopedEnv host("KUBERNETES_SERVICE_HOST", "10.96.0.1");
    ScopedEnv port("KUBERNETES_SERVICE_PORT", "443");
    TempDir empty;
    CHECK_THROWS_WITH(InClusterConfig(empty.path()), Contains("service account token"));
  }
}

TEST_CASE("authenticator: a rotated token file is picked up", "[config]") {
  TempDir mount;
  mount.Write("token", "first\n");
  RestConfig rc{.token = "static", .token_file = mount.File("token"), .token_file_refresh = std::chrono::seconds(3600)};
  Authenticator auth(rc, std::chrono::seconds(5));
  CHECK(auth.AuthorizationHeader() == "Bearer first");  // the file wins over a static token
  mount.Write("token", "second\n");
  CHECK(auth.AuthorizationHeader() == "Bearer first");  // not yet due for a re-read
  auth.Invalidate();                                    // e.g. after a 401
  CHECK(auth.AuthorizationHeader() == "Bearer second");

  rc.token_file_refresh = std::chrono::seconds(0);
  Authenticator eager(rc, std::chrono::seconds(5));
  CHECK(eager.AuthorizationHeader() == "Bearer second");
  mount.Write("token", "third");
  CHECK(eager.AuthorizationHeader() == "Bearer third");
  mount.Write("token", "");  // a half-written file keeps the last good token
  CHECK(eager.AuthorizationHeader() == "Bearer third");
}

TEST_CASE("authenticator: basic auth and exec tokens", "[config]") {
  CHECK(Authenticator(RestConfig{.username = "admin", .password = "pw"}, std::chrono::seconds(1)).AuthorizationHeader() ==
        "Basic " + core::Base64Encode("admin:pw"));
  TempDir tmp;
  WriteExecutable(tmp, "cred.sh",
                  "#!/bin/sh\necho '{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\","
                  "\"status\":{\"token\":\"from-exec\"}}'\n");
  Authenticator auth(RestConfig{.exec = ExecConfig{.command = tmp.File("cred.sh")}}, std::chrono::seconds(5));
  CHECK(auth.NeedsExec());
  auth.RunExec();
  CHECK_FALSE(auth.NeedsExec());
  CHECK(auth.AuthorizationHeader() == "Bearer from-exec");
}

TEST_CASE("base64 round trip and refusal", "[config]") {
  for (const std::string& s : std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) CHECK(core::Base64Decode(core::Base64Encode(s)) == s);
  CHECK(core::Base64Decode("YWJj\nZA==") == std::optional<std::string>("abcd"));
  CHECK_FALSE(core::Base64Decode("YWJ"));
  CHECK_FALSE(core::Base64Decode("YW=j"));
  CHECK_FALSE(core::Base64Decode("Y*Jj"));
}

}  // namespace
}  // namespace sluice::kube
