// Debian 12's official Python client (python3-kubernetes 22) against the emulator: a client
// other than kubectl and Sluice's own, with its own way of spelling query parameters.
#include <catch2/catch.hpp>

#include "net/http_server.h"
#include "tests/sandbox/fixture.h"
#include "tests/support/process.h"
#include "tests/support/skip.h"

using namespace sluice::sandbox;
using sluice::testing::ProcessResult;
using sluice::testing::Run;
using sluice::testing::TempDir;
using Catch::Matchers::Contains;

TEST_CASE("python3-kubernetes: create, replace, list, watch from a resourceVersion, delete", "[sandbox][python]") {
  // Debian's client lives in Debian's python, whatever python3 comes first on PATH.
  if (Run({"/usr/bin/python3", "-c", "import kubernetes"}).exit_code != 0)
    SLUICE_SKIP("python3-kubernetes is not installed (scripts/install-deps.sh installs it)");
  testing::EmulatorFixture f;
  TempDir dir;
  f.emulator.WriteKubeconfig(dir.File("kubeconfig"));
  ProcessResult r = Run({"/usr/bin/python3", std::string(SLUICE_SOURCE_DIR) + "/tests/sandbox/testdata/python_client.py",
                         dir.File("kubeconfig")},
                        {{"HOME", dir.path()}}, std::chrono::seconds(60));
  INFO(r.Describe());
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Contains("watched MODIFIED:2") && Contains("deployment nginx:1.27") && Contains("deleted 404") &&
                        Contains("OK"));
}

TEST_CASE("boolean query parameters are read as the API server reads them", "[sandbox][watch]") {
  sluice::net::HttpRequest req;
  for (const char* v : {"true", "True", "TRUE", "1", "t", "yes", ""}) {
    req.query["watch"] = v;
    INFO("watch=" << v);
    CHECK(req.QueryBool("watch"));
  }
  for (const char* v : {"false", "False", "FALSE", "0"}) {
    req.query["watch"] = v;
    INFO("watch=" << v);
    CHECK_FALSE(req.QueryBool("watch"));
  }
  req.query.clear();
  CHECK_FALSE(req.QueryBool("watch"));
}
