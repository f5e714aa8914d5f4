// `sluice emulator` as users run it: prints where it serves, writes a kubeconfig naming the
// real port, answers, and exits cleanly on SIGTERM.
#include <catch2/catch.hpp>

#include "tests/sandbox/test_client.h"
#include "tests/support/process.h"

#include <regex>

using namespace sluice::sandbox::testing;
using sluice::testing::BackgroundProcess;
using sluice::testing::ReadFile;
using sluice::testing::Run;
using sluice::testing::TempDir;

TEST_CASE("sluice emulator serves until SIGTERM and writes a usable kubeconfig", "[sandbox][cli]") {
  TempDir dir;
  std::string kubeconfig = dir.File("emu.kubeconfig");
  BackgroundProcess emu({SLUICE_BINARY, "emulator", "--listen", "127.0.0.1:0", "--kubeconfig", kubeconfig,
                         "--ready-delay", "100"});
  REQUIRE(emu.WaitForOutput("try:", std::chrono::seconds(20)));
  std::smatch m;
  std::string out = emu.Stdout();
  REQUIRE(std::regex_search(out, m, std::regex(R"(http://127\.0\.0\.1:(\d+))")));
  int port = std::stoi(m[1].str());
  CHECK(ReadFile(kubeconfig).find("server: http://127.0.0.1:" + m[1].str()) != std::string::npos);
  TestClient c(static_cast<uint16_t>(port));
  CHECK(c.Get("/api/v1/namespaces/default").status == 200);
  emu.Stop();
  CHECK(emu.Stdout().find("stopping") != std::string::npos);
}

TEST_CASE("sluice emulator refuses bad flags", "[sandbox][cli]") {
  auto bad_auth = Run({SLUICE_BINARY, "emulator", "--auth", "magic"}, {}, std::chrono::seconds(20));
  CHECK(bad_auth.exit_code != 0);
  auto cert_plain = Run({SLUICE_BINARY, "emulator", "--auth", "cert", "--kubeconfig", "/tmp/unused-emu.kubeconfig"}, {},
                        std::chrono::seconds(20));
  CHECK(cert_plain.exit_code == 1);
  CHECK(cert_plain.err.find("--tls") != std::string::npos);
}
