// Gated rollouts end to end: the controller with the real webhook gates and alert sender, a
// `sluice loadtester` subprocess as the gate keeper and load generator, a person opening
// gates with curl, and a local receiver for alerts and load.
#include <catch2/catch.hpp>

#include "analysis/alerts.h"
#include "analysis/webhooks.h"
#include "tests/analysis/webhook_receiver.h"
#include "tests/e2e/canary_harness.h"
#include "tests/support/fixtures.h"
#include "tests/support/skip.h"

using namespace sluice;
using namespace sluice::testing;
using sluice::testing::hooks::WebhookReceiver;
using Catch::Matchers::Contains;

namespace {

bool HaveCurl() { return Run({"curl", "--version"}, {}, std::chrono::seconds(5)).exit_code == 0; }

#define REQUIRE_GATES_ENVIRONMENT()                                                                  \
  if (!HaveKubectl()) SLUICE_SKIP("kubectl is not installed (scripts/install-deps.sh)");             \
  if (!CrdFixture("gateway-api-v1.6.1-httproutes.yaml"))                                             \
    SLUICE_SKIP("Gateway API CRDs not found: set SLUICE_CRD_DIR (docs/testing.md)");                 \
  if (!HaveCurl()) SLUICE_SKIP("curl is not installed")

class LoadTester {
 public:
  LoadTester() : process_({SLUICE_BINARY, "loadtester", "--listen", "127.0.0.1:0"}) {
    REQUIRE(process_.WaitForOutput("listening on", std::chrono::seconds(10)));
    std::string out = process_.Stdout();
    auto at = out.find("listening on 127.0.0.1:");
    REQUIRE(at != std::string::npos);
    url_ = "http://127.0.0.1:" + std::to_string(std::stoi(out.substr(at + 23)));
  }
  const std::string& url() const { return url_; }
  // What a person types: curl -X POST -d '{"name":...,"namespace":...}' URL/gate/open.
  int Curl(const std::string& path) const {
    auto r = Run({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-H",
                  "Content-Type: application/json", "-d", R"({"name":"podinfo","namespace":"default"})", url_ + path},
                 {}, std::chrono::seconds(10));
    return r.exit_code == 0 ? std::stoi(r.out) : -1;
  }

 private:
  BackgroundProcess process_;
  std::string url_;
};

AnalysisFactory RealGates() {
  return [](boost::asio::any_io_executor) {
    analysis::WebhookDefaults d;
    d.timeout = std::chrono::seconds(2);
    d.backoff_base = std::chrono::milliseconds(100);
    return analysis::ComposeAnalysis(analysis::MakeWebhookGates(d), nullptr, analysis::MakeAlertSender());
  };
}

std::string AlertProviderYaml(const std::string& address) {
  return R"(apiVersion: sluice.dev/v1beta1
kind: AlertProvider
metadata:
  name: team
  namespace: default
spec:
  type: generic
  address: )" + address + "\n";
}

std::string Spec(const std::string& loadtester, const std::string& promotion_gate, const std::string& load_url) {
  return R"(  provider: gatewayapi
  service:
    port: 9898
  progressDeadlineSeconds: 30
  analysis:
    interval: 1s
    threshold: 2
    stepWeight: 20
    maxWeight: 40
    webhooks:
      - name: load
        type: rollout
        url: )" + loadtester + R"(/
        metadata:
          type: load
          url: )" + load_url + R"(
          rps: "5"
          duration: 2s
      - name: promotion
        type: confirm-promotion
        url: )" + loadtester + promotion_gate + R"(
      - name: emergency
        type: rollback
        url: )" + loadtester + R"(/rollback/check
    alerts:
      - name: team
        severity: info
        providerRef:
          name: team
)";
}

bool AlertWith(const WebhookReceiver& rx, const std::string& severity, const std::string& text) {
  for (const auto& a : rx.Got("/alerts"))
    if (a.body.value("severity", "") == severity && a.body.value("message", "").find(text) != std::string::npos)
      return true;
  return false;
}

}  // namespace

TEST_CASE("a closed confirm-promotion gate holds WaitingPromotion until it is opened", "[canary][e2e][gates]") {
  REQUIRE_GATES_ENVIRONMENT();
  LoadTester lt;
  WebhookReceiver rx;
  CanaryCluster c(std::chrono::milliseconds(300), RealGates());
  c.kubectl().Ok({"apply", "-f", "-"}, AlertProviderYaml(rx.Url("/alerts")));
  c.ApplyApp("1.0.0", Spec(lt.url(), "/gate/check", rx.Url("/load")));
  c.WaitForPhase("Initialized");

  c.SetVersion("1.1.0");
  c.WaitForPhase("WaitingPromotion");
  // Analysis keeps running while it waits, and the gate stays closed.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  CHECK(c.Get("canary/podinfo", "{.status.phase}") == "WaitingPromotion");
  CHECK(c.Get("deploy/podinfo-primary", "{.spec.template.spec.containers[0].image}") ==
        "ghcr.io/example/podinfo:1.0.0");
  CHECK(c.Get("httproute/podinfo", "{.spec.rules[0].backendRefs[1].weight}") == "40");

  REQUIRE(lt.Curl("/gate/open") == 202);
  c.WaitForPhase("Succeeded");
  CHECK(c.Get("deploy/podinfo-primary", "{.spec.template.spec.containers[0].image}") ==
        "ghcr.io/example/podinfo:1.1.0");
  // The rollout webhook started load against the target, and the promotion was announced.
  CHECK(rx.Got("/load").size() >= 5);
  CHECK(WaitFor([&] { return AlertWith(rx, "info", "promoted"); }, std::chrono::seconds(5)));
}

TEST_CASE("a rollback gate opened in the middle of a rollout rolls it back", "[canary][e2e][gates]") {
  REQUIRE_GATES_ENVIRONMENT();
  LoadTester lt;
  WebhookReceiver rx;
  CanaryCluster c(std::chrono::milliseconds(300), RealGates());
  c.kubectl().Ok({"apply", "-f", "-"}, AlertProviderYaml(rx.Url("/alerts")));
  // /gate/halt never promotes, so the rollout is surely still under way when the gate opens.
  c.ApplyApp("1.0.0", Spec(lt.url(), "/gate/halt", rx.Url("/load")));
  c.WaitForPhase("Initialized");

  c.SetVersion("1.1.0");
  REQUIRE(c.WaitFor("httproute/podinfo", "{.spec.rules[0].backendRefs[1].weight}", "20"));
  REQUIRE(lt.Curl("/rollback/open") == 202);
  c.WaitForPhase("Failed");
  CHECK(c.Get("httproute/podinfo", "{.spec.rules[0].backendRefs[1].weight}") == "0");
  CHECK(c.Get("deploy/podinfo", "{.spec.replicas}") == "0");
  CHECK(c.Get("deploy/podinfo-primary", "{.spec.template.spec.containers[0].image}") ==
        "ghcr.io/example/podinfo:1.0.0");
  CHECK_THAT(c.Get("canary/podinfo", "{.status.conditions[?(@.type==\"Ready\")].message}"),
             Contains("rollback webhook"));
  CHECK(WaitFor([&] { return AlertWith(rx, "error", "rollback webhook"); }, std::chrono::seconds(5)));
}

TEST_CASE("an alert is sent once per transition, and one that cannot be delivered is an Event on the Canary and the AlertProvider",
          "[canary][e2e][gates][alerts]") {
  REQUIRE_GATES_ENVIRONMENT();
  LoadTester lt;
  WebhookReceiver rx;
  CanaryCluster c(std::chrono::milliseconds(300), RealGates());
  c.kubectl().Ok({"apply", "-f", "-"}, AlertProviderYaml(rx.Url("/alerts")));
  REQUIRE(lt.Curl("/gate/open") == 202);
  c.ApplyApp("1.0.0", Spec(lt.url(), "/gate/check", rx.Url("/load")));
  c.WaitForPhase("Initialized");

  c.SetVersion("1.1.0");
  c.WaitForPhase("Succeeded");
  REQUIRE(WaitFor([&] { return AlertWith(rx, "info", "promoted"); }, std::chrono::seconds(5)));
  std::this_thread::sleep_for(std::chrono::seconds(2));  // time for a second copy to show up
  int promoted = 0;
  for (const auto& a : rx.Got("/alerts")) promoted += a.body.value("reason", "") == "Promoted";
  CHECK(promoted == 1);
  CHECK(c.Get("canary/podinfo", "{.status.pendingAlerts}").find("Promoted") == std::string::npos);

  // The provider's endpoint now fails every delivery (and its retry).
  rx.Script("/alerts", std::vector<int>(20, 500));
  c.SetVersion("1.2.0");
  c.WaitForPhase("Succeeded");
  auto events = [&](const std::string& kind, const std::string& reason) {
    std::string messages;
    auto list = nlohmann::json::parse(c.kubectl()({"get", "events", "-n", "default", "-o", "json"}).out, nullptr, false);
    if (list.is_object())
      for (const auto& e : list.value("items", nlohmann::json::array()))
        if (e["involvedObject"].value("kind", "") == kind && e.value("reason", "") == reason)
          messages += e.value("message", "") + "\n";
    return messages;
  };
  CHECK(WaitFor([&] { return events("Canary", "AlertFailed").find("AlertProvider default/team") != std::string::npos; },
                std::chrono::seconds(10)));
  CHECK(WaitFor([&] { return !events("AlertProvider", "DeliveryFailed").empty(); }, std::chrono::seconds(10)));
}
