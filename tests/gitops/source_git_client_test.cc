// The libgit2 wrapper against real repositories: file://, git daemon, smart HTTP with basic
// auth, a remote that never answers, refs of every kind and ignore rules.
#include <catch2/catch.hpp>

#include <filesystem>

#include "controller/gitops/git_client.h"
#include "core/base64.h"
#include "tests/gitops/git_harness.h"
#include "tests/support/skip.h"

namespace sluice::gitops {

using namespace sluice::testing;
namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

GitErrorKind KindOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const GitError& e) {
    INFO(e.what());
    return e.kind();
  }
  FAIL("no GitError thrown");
  return GitErrorKind::kOperation;
}

}  // namespace

TEST_CASE("git client: file:// poll fetches once, then finds nothing new without fetching") {
  GitRepo repo;
  std::string c1 = repo.Commit({{"apps/a.yaml", "a: 1\n"}});
  TempDir cache;
  GitClient git;
  RefSelector ref;
  ref.branch = "main";
  PollResult first = git.Poll(cache.File("repo"), repo.FileUrl(), ref, {}, seconds(10));
  REQUIRE(first.resolved);
  CHECK(first.resolved->commit == c1);
  CHECK(first.resolved->revision == "main@sha1:" + c1);
  CHECK(first.fetched);
  PollResult again = git.Poll(cache.File("repo"), repo.FileUrl(), ref, {}, seconds(10));
  CHECK_FALSE(again.fetched);
  std::string c2 = repo.Commit({{"apps/b.yaml", "b: 2\n"}});
  PollResult third = git.Poll(cache.File("repo"), repo.FileUrl(), ref, {}, seconds(10));
  CHECK(third.fetched);
  CHECK(third.resolved->commit == c2);

  size_t files = git.Export(cache.File("repo"), c2, cache.File("out"), IgnoreRules::WithDefaults());
  CHECK(files == 2);
  CHECK(ReadFile(cache.File("out/apps/b.yaml")) == "b: 2\n");
}

TEST_CASE("git client: tags, annotated tags, semver ranges, exact commits and the default branch") {
  TempDir base;
  GitRepo repo(base.File("repo"));
  std::string c1 = repo.Commit({{"v.txt", "1.0.0"}});
  repo.Tag("v1.0.0", /*annotated=*/true);
  std::string c2 = repo.Commit({{"v.txt", "1.4.0"}});
  repo.Tag("v1.4.0");
  std::string c3 = repo.Commit({{"v.txt", "2.0.0"}});
  repo.Tag("v2.0.0", true);
  repo.Commit({{"v.txt", "2.1.0-rc.1"}});
  repo.Tag("v2.1.0-rc.1");
  GitDaemon daemon(base.path());
  std::string url = daemon.UrlFor(repo.path());
  GitClient git;
  TempDir cache;
  auto poll = [&](RefSelector ref) { return git.Poll(cache.File("repo"), url, ref, {}, seconds(10)).resolved.value(); };

  RefSelector semver;
  semver.semver = ">=1.0.0 <2.0.0";
  CHECK(poll(semver).revision == "v1.4.0@sha1:" + c2);
  semver.semver = "^2";
  CHECK(poll(semver).revision == "v2.0.0@sha1:" + c3);  // the annotated tag peels to its commit
  RefSelector tag;
  tag.tag = "v1.0.0";
  CHECK(poll(tag).commit == c1);
  RefSelector commit;
  commit.commit = c2;
  CHECK(poll(commit).revision == "sha1:" + c2);
  CHECK(poll(RefSelector{}).revision.starts_with("main@sha1:"));
  RefSelector full_name;
  full_name.name = "refs/tags/v1.4.0";
  CHECK(poll(full_name).revision == "refs/tags/v1.4.0@sha1:" + c2);
  RefSelector precedence;  // commit beats everything else given
  precedence.tag = "v1.0.0";
  precedence.commit = c3;
  CHECK(poll(precedence).commit == c3);

  RefSelector missing;
  missing.branch = "nope";
  CHECK(KindOf([&] { poll(missing); }) == GitErrorKind::kRefNotFound);
  RefSelector none;
  none.semver = ">=5";
  CHECK(KindOf([&] { poll(none); }) == GitErrorKind::kRefNotFound);
  RefSelector unknown_commit;
  unknown_commit.commit = std::string(40, 'a');
  CHECK(KindOf([&] { poll(unknown_commit); }) == GitErrorKind::kRefNotFound);
}

TEST_CASE("git client: basic auth and bearer tokens over smart HTTP, a wrong password fails fast and clearly") {
  if (!GitHttpBackendAvailable()) SLUICE_SKIP("git-http-backend is not installed");
  TempDir base;
  GitRepo repo(base.File("repo"));
  std::string c1 = repo.Commit({{"a.yaml", "a"}});
  GitHttpServer http(base.path(), "alice", "s3cret");
  std::string url = http.UrlFor(repo.path());
  GitClient git;
  TempDir cache;
  RefSelector ref;
  GitCredentials good{"alice", "s3cret"};
  PollResult r = git.Poll(cache.File("repo"), url, ref, good, seconds(10));
  CHECK(r.resolved->commit == c1);
  CHECK(http.counters().upload_packs == 1);

  // Nothing new: one ref advertisement, no pack.
  int adverts = http.counters().ref_advertisements;
  PollResult noop = git.Poll(cache.File("repo"), url, ref, good, seconds(10));
  CHECK_FALSE(noop.fetched);
  CHECK(http.counters().upload_packs == 1);
  CHECK(http.counters().ref_advertisements == adverts + 1);

  auto start = std::chrono::steady_clock::now();
  GitCredentials bad{"alice", "wrong"};
  CHECK(KindOf([&] { git.Poll(cache.File("repo"), url, ref, bad, seconds(10)); }) == GitErrorKind::kAuthentication);
  CHECK(KindOf([&] { git.Poll(cache.File("repo"), url, ref, {}, seconds(10)); }) == GitErrorKind::kAuthentication);
  CHECK(std::chrono::steady_clock::now() - start < seconds(3));

  http.RequireBearer("tok3n");
  GitCredentials bearer;
  bearer.bearer_token = "tok3n";
  CHECK(git.ListRemote(url, bearer, seconds(10)).size() >= 1);
  bearer.bearer_token = "other";
  CHECK(KindOf([&] { git.ListRemote(url, bearer, seconds(10)); }) == GitErrorKind::kAuthentication);
}

TEST_CASE("git client: a remote that never answers ends at the deadline") {
  SilentServer silent;
  GitClient git;
  TempDir cache;
  std::string url = "http://127.0.0.1:" + std::to_string(silent.port()) + "/repo";
  auto start = std::chrono::steady_clock::now();
  CHECK(KindOf([&] { git.Poll(cache.File("repo"), url, RefSelector{}, {}, milliseconds(700)); }) == GitErrorKind::kTimeout);
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(took >= milliseconds(600));
  CHECK(took < seconds(3));
  std::string git_url = "git://127.0.0.1:" + std::to_string(silent.port()) + "/repo";
  CHECK(KindOf([&] { git.ListRemote(git_url, {}, milliseconds(500)); }) == GitErrorKind::kTimeout);
  // OpenSSL's handshake reads through our socket stream too.
  std::string https_url = "https://127.0.0.1:" + std::to_string(silent.port()) + "/repo";
  CHECK(KindOf([&] { git.ListRemote(https_url, {}, milliseconds(500)); }) == GitErrorKind::kTimeout);
  // libssh2 waits in its own blocking handshake: the watchdog's shutdown of the socket ends it.
  std::string ssh_url = "ssh://git@127.0.0.1:" + std::to_string(silent.port()) + "/repo";
  auto ssh_start = std::chrono::steady_clock::now();
  CHECK(KindOf([&] { git.ListRemote(ssh_url, {}, milliseconds(500)); }) == GitErrorKind::kTimeout);
  CHECK(std::chrono::steady_clock::now() - ssh_start < seconds(3));
}

TEST_CASE("git client: urls libgit2 cannot use are InvalidURL") {
  GitClient git;
  TempDir cache;
  CHECK(KindOf([&] { git.Poll(cache.File("repo"), "gopher://example/repo", RefSelector{}, {}, seconds(2)); }) ==
        GitErrorKind::kInvalidUrl);
}

TEST_CASE("git client: export applies default, .sourceignore and spec rules and skips escaping links") {
  GitRepo repo;
  repo.Commit({{"apps/a.yaml", "a"},
               {"apps/notes.md", "n"},
               {"apps/keep.md", "k"},
               {".github/workflows/ci.yaml", "ci"},
               {".sourceignore", "*.md\n"},
               {"secret/x.yaml", "x"}});
  fs::create_symlink("/etc/passwd", fs::path(repo.path()) / "escape");
  fs::create_symlink("apps/a.yaml", fs::path(repo.path()) / "inside");
  std::string c = repo.Commit({});
  TempDir cache;
  GitClient git;
  git.Poll(cache.File("repo"), repo.FileUrl(), RefSelector{}, {}, seconds(10));
  IgnoreRules rules = IgnoreRules::WithDefaults();
  rules.Add("/secret/\n");
  IgnoreRules spec;
  spec.Add("!keep.md\n");
  // spec.ignore comes after .sourceignore in the controller; here the root file is read by
  // Export after `rules`, so keep.md stays excluded in this call.
  git.Export(cache.File("repo"), c, cache.File("out"), rules);
  CHECK(fs::exists(cache.File("out/apps/a.yaml")));
  CHECK_FALSE(fs::exists(cache.File("out/apps/notes.md")));
  CHECK_FALSE(fs::exists(cache.File("out/.github")));
  CHECK_FALSE(fs::exists(cache.File("out/secret")));
  CHECK_FALSE(fs::exists(cache.File("out/.sourceignore")));
  CHECK_FALSE(fs::is_symlink(cache.File("out/escape")));
  CHECK(fs::is_symlink(cache.File("out/inside")));
  CHECK_THROWS_AS(git.Export(cache.File("repo"), std::string(40, 'b'), cache.File("out2"), rules), GitError);
}

TEST_CASE("git client: known_hosts matching, plain, bracketed port and hashed") {
  const char raw[] = "\x00\x00\x00\x0bssh-ed25519-fake-key-blob";
  std::string key(raw, sizeof raw - 1);
  std::string b64 = core::Base64Encode(key);
  CHECK(KnownHostsAccepts("github.com ssh-ed25519 " + b64 + "\n", "github.com", 22, key));
  CHECK_FALSE(KnownHostsAccepts("github.com ssh-ed25519 " + b64 + "\n", "gitlab.com", 22, key));
  CHECK_FALSE(KnownHostsAccepts("github.com ssh-ed25519 " + b64 + "\n", "github.com", 22, key + "x"));
  CHECK(KnownHostsAccepts("a.example,[127.0.0.1]:2222 ssh-ed25519 " + b64, "127.0.0.1", 2222, key));
  // |1|salt|hmac: generated by `ssh-keygen -H` for host "example.org" with this salt.
  ProcessResult keygen = Run({"ssh-keygen", "-H", "-f", "-"}, {}, seconds(10), "example.org ssh-ed25519 " + b64 + "\n");
  if (keygen.exit_code == 0 && keygen.out.find("|1|") != std::string::npos)
    CHECK(KnownHostsAccepts(keygen.out, "example.org", 22, key));
}

}  // namespace sluice::gitops

namespace sluice::gitops {

TEST_CASE("git client: ssh with a key and known_hosts, a wrong key or host key fails fast and clearly") {
  if (!SshServer::Available()) SLUICE_SKIP("no sshd on this machine (apt-get install openssh-server); https auth is tested instead");
  SshServer ssh;
  GitRepo repo;
  std::string c1 = repo.Commit({{"a.yaml", "a"}});
  std::string url = ssh.UrlFor(repo.path());
  GitClient git;
  TempDir cache;
  GitCredentials good;
  good.identity = ssh.ClientKey();
  good.known_hosts = ssh.KnownHostsLine();
  PollResult r = git.Poll(cache.File("repo"), url, RefSelector{}, good, seconds(20));
  REQUIRE(r.resolved);
  CHECK(r.resolved->commit == c1);
  CHECK(r.fetched);

  auto start = std::chrono::steady_clock::now();
  GitCredentials wrong_key = good;
  wrong_key.identity = ssh.OtherKey();
  CHECK(KindOf([&] { git.ListRemote(url, wrong_key, seconds(10)); }) == GitErrorKind::kAuthentication);
  GitCredentials no_known_hosts = good;
  no_known_hosts.known_hosts.clear();
  CHECK(KindOf([&] { git.ListRemote(url, no_known_hosts, seconds(10)); }) == GitErrorKind::kAuthentication);
  GitCredentials other_host = good;
  other_host.known_hosts = "[127.0.0.1]:1 " + good.known_hosts.substr(good.known_hosts.find(' ') + 1);
  CHECK(KindOf([&] { git.ListRemote(url, other_host, seconds(10)); }) == GitErrorKind::kAuthentication);
  CHECK(std::chrono::steady_clock::now() - start < seconds(5));
}

}  // namespace sluice::gitops
