// What a poll costs on a repository of realistic size (1,000 commits, 500 manifests): the
// first fetch, and the poll that finds nothing new (which must not fetch) over file://,
// git daemon and smart HTTP. The figures go to the test output for docs/gitops-sources.md.
#include <catch2/catch.hpp>

#include <sstream>

#include "controller/gitops/git_client.h"
#include "tests/gitops/git_harness.h"
#include "tests/support/skip.h"

namespace sluice::testing {

using namespace std::chrono;

namespace {

// 500 manifests in the first commit, then 999 commits changing one manifest each, written
// through `git fast-import` (a commit per `git commit` call would take minutes).
void FillRepository(GitRepo& repo, int manifests, int commits) {
  std::ostringstream s;
  int mark = 1;
  for (int c = 0; c < commits; ++c) {
    s << "commit refs/heads/main\nmark :" << mark++ << "\ncommitter Sluice Test <test@sluice.dev> " << 1700000000 + c
      << " +0000\ndata 8\ncommit " << (c % 10) << "\n";
    if (c > 0) s << "from :" << (mark - 2) << "\n";
    int first = c == 0 ? 0 : (c % manifests), last = c == 0 ? manifests : first + 1;
    for (int m = first; m < last; ++m) {
      std::string body = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-" + std::to_string(m) +
                         "\n  namespace: default\ndata:\n  revision: \"" + std::to_string(c) + "\"\n";
      s << "M 100644 inline apps/cm-" << m << ".yaml\ndata " << body.size() << "\n" << body << "\n";
    }
  }
  ProcessResult r = Run({"git", "-C", repo.path(), "fast-import", "--quiet"}, {}, seconds(120), s.str());
  REQUIRE(r.exit_code == 0);
  repo.Git({"reset", "-q", "--hard", "main"});
}

struct Figures {
  double first_ms = 0;
  size_t first_bytes = 0;
  double noop_ms = 0;
};

Figures Measure(const std::string& url, const gitops::GitCredentials& creds, int polls) {
  TempDir cache;
  gitops::GitClient git;
  gitops::RefSelector ref;
  ref.branch = "main";
  Figures f;
  auto t0 = steady_clock::now();
  auto first = git.Poll(cache.File("repo"), url, ref, creds, seconds(60));
  f.first_ms = duration<double, std::milli>(steady_clock::now() - t0).count();
  f.first_bytes = first.received_bytes;
  REQUIRE(first.fetched);
  auto t1 = steady_clock::now();
  for (int i = 0; i < polls; ++i) REQUIRE_FALSE(git.Poll(cache.File("repo"), url, ref, creds, seconds(10)).fetched);
  f.noop_ms = duration<double, std::milli>(steady_clock::now() - t1).count() / polls;
  return f;
}

}  // namespace

TEST_CASE("source: poll cost on 1,000 commits and 500 manifests, a poll with nothing new does not fetch") {
  TempDir base;
  GitRepo repo(base.File("repo"));
  FillRepository(repo, 500, 1000);
  CHECK(repo.Git({"rev-list", "--count", "HEAD"}) == "1000");

  Figures file = Measure(repo.FileUrl(), {}, 50);
  GitDaemon daemon(base.path());
  Figures git = Measure(daemon.UrlFor(repo.path()), {}, 50);
  WARN("file://: first fetch " << file.first_ms << " ms; no-op poll " << file.noop_ms << " ms");
  WARN("git://: first fetch " << git.first_ms << " ms, " << git.first_bytes << " bytes; no-op poll " << git.noop_ms
                             << " ms");
  CHECK(git.noop_ms < 200);
  if (!GitHttpBackendAvailable()) SLUICE_SKIP("git-http-backend is not installed");
  GitHttpServer http(base.path(), "alice", "pw");
  Figures h = Measure(http.UrlFor(repo.path()), {"alice", "pw"}, 20);
  int adverts = http.counters().ref_advertisements, packs = http.counters().upload_packs;
  WARN("http (git-http-backend CGI): first fetch " << h.first_ms << " ms, " << h.first_bytes << " bytes; no-op poll "
                                                   << h.noop_ms << " ms; requests: " << adverts << " ref listings, "
                                                   << packs << " pack downloads");
  CHECK(packs == 1);
  CHECK(h.noop_ms < 500);
}

}  // namespace sluice::testing
