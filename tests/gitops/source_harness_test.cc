// The harness itself: the servers really serve what the repositories hold, as `git` sees it.
#include <catch2/catch.hpp>

#include "tests/gitops/git_harness.h"
#include "tests/support/skip.h"

namespace sluice::testing {

TEST_CASE("git harness: commits, git daemon and http-backend with basic auth serve the repository") {
  TempDir base;
  GitRepo repo(base.File("app.git"));
  std::string c1 = repo.Commit({{"deploy/a.yaml", "kind: ConfigMap\n"}});
  REQUIRE(c1.size() == 40);
  repo.Tag("v1.0.0", /*annotated=*/true);

  GitDaemon daemon(base.path());
  ProcessResult ls = Run({"git", "ls-remote", daemon.UrlFor(repo.path())});
  REQUIRE(ls.exit_code == 0);
  CHECK(ls.out.find(c1 + "\trefs/heads/main") != std::string::npos);
  CHECK(ls.out.find("refs/tags/v1.0.0^{}") != std::string::npos);

  if (!GitHttpBackendAvailable()) SLUICE_SKIP("git-http-backend is not installed");
  GitHttpServer http(base.path(), "alice", "s3cret");
  std::string url = http.UrlFor(repo.path());
  std::string authed = "http://alice:s3cret@" + url.substr(std::string("http://").size());
  ProcessResult ok = Run({"git", "ls-remote", authed}, {{"GIT_TERMINAL_PROMPT", "0"}});
  REQUIRE(ok.exit_code == 0);
  CHECK(ok.out.find(c1) != std::string::npos);
  ProcessResult denied = Run({"git", "ls-remote", url}, {{"GIT_TERMINAL_PROMPT", "0"}});
  CHECK(denied.exit_code != 0);
  CHECK(http.counters().unauthorized >= 1);
}

}  // namespace sluice::testing
