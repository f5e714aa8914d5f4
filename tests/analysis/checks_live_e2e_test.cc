// End to end with live numbers: a tiny exporter plays the data plane, a real Prometheus
// scrapes it every second, and the canary controller (on the API emulator) runs the
// Prometheus checker: good numbers promote, 5xx roll back, and a Prometheus that cannot be
// reached never promotes and says why.
#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>

#include "analysis/metric_checks.h"
#include "analysis/prometheus.h"
#include "net/http_server.h"
#include "tests/analysis/prom_harness.h"
#include "tests/e2e/canary_harness.h"
#include "tests/support/fixtures.h"
#include "tests/support/skip.h"

using namespace sluice;
using namespace sluice::testing;
using Catch::Matchers::Contains;
using Catch::Matchers::EndsWith;

namespace {

const char* kCluster = "default_podinfo-canary_9898";

// Envoy's upstream counters for the canary Service, advanced at every scrape: 10 requests
// per scrape, all 200 while healthy, half 503 while not.
class Exporter {
 public:
  Exporter() : server_({}, [this](const net::HttpRequest& req) { return Serve(req); }) { server_.Start(); }
  ~Exporter() { server_.Stop(); }
  std::string target() const { return "127.0.0.1:" + std::to_string(server_.port()); }
  std::atomic<bool> healthy{true};

 private:
  net::HttpResponse Serve(const net::HttpRequest& req) {
    net::HttpResponse r;
    if (req.path != "/metrics") {
      r.status = 404;
      return r;
    }
    std::lock_guard lock(mu_);
    ok_ += healthy ? 10 : 5;
    failed_ += healthy ? 0 : 5;
    r.content_type = "text/plain; version=0.0.4";
    r.body = "# TYPE envoy_cluster_upstream_rq counter\n"
             "envoy_cluster_upstream_rq{envoy_cluster_name=\"" + std::string(kCluster) +
             "\",envoy_response_code=\"200\"} " + std::to_string(ok_) +
             "\n"
             "envoy_cluster_upstream_rq{envoy_cluster_name=\"" + std::string(kCluster) +
             "\",envoy_response_code=\"503\"} " + std::to_string(failed_) + "\n";
    return r;
  }

  std::mutex mu_;
  long ok_ = 0;
  long failed_ = 0;
  net::HttpServer server_;
};

std::string Spec(int threshold) {
  return R"(  provider: gatewayapi
  service:
    port: 9898
  progressDeadlineSeconds: 30
  analysis:
    interval: 1s
    threshold: )" + std::to_string(threshold) + R"(
    stepWeight: 20
    maxWeight: 60
    metrics:
      - name: request-success-rate
        interval: 10s
        thresholdRange:
          min: 99
)";
}

AnalysisFactory PrometheusAnalysis(const std::string& address) {
  return [address](boost::asio::any_io_executor ex) {
    analysis::MetricCheckerOptions o;
    o.default_address = address;
    o.query_timeout = std::chrono::seconds(3);
    return analysis::ComposeAnalysis(nullptr, analysis::QueryMetricChecker::Create(ex, o), nullptr);
  };
}

// The canary's success rate as Prometheus computes it now (nullopt: no data yet).
std::optional<double> SuccessRate(const std::string& address) {
  boost::asio::io_context io;
  analysis::PrometheusOptions o;
  o.address = address;
  auto p = analysis::MakePrometheusProvider(io.get_executor(), o);
  std::string q = "sum(rate(envoy_cluster_upstream_rq{envoy_cluster_name=\"" + std::string(kCluster) +
                  "\",envoy_response_code!~\"5..\"}[10s])) / sum(rate(envoy_cluster_upstream_rq{envoy_cluster_name=\"" +
                  kCluster + "\"}[10s])) * 100";
  try {
    return Await(io, p->QueryScalar(q, std::chrono::system_clock::now()));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

#define REQUIRE_ENVIRONMENT()                                                                   \
  if (!HavePrometheus()) SLUICE_SKIP("prometheus and promtool are not installed");              \
  if (!HaveKubectl()) SLUICE_SKIP("kubectl is not installed (scripts/install-deps.sh)");         \
  if (!CrdFixture("gateway-api-v1.6.1-httproutes.yaml"))                                        \
  SLUICE_SKIP("Gateway API CRDs not found: set SLUICE_CRD_DIR (docs/testing.md)")

}  // namespace

TEST_CASE("live metrics: healthy numbers promote and a 5xx spike rolls back", "[analysis][e2e][live]") {
  REQUIRE_ENVIRONMENT();
  Exporter exporter;
  PromOptions po;
  po.scrape_target = exporter.target();
  po.scrape_interval = std::chrono::seconds(1);
  PromServer prom(po);
  REQUIRE(prom.ready());
  // Rates need two scrapes in the window; before that every check would be NoData.
  REQUIRE(WaitFor([&] { return SuccessRate(prom.address()) == 100.0; }, std::chrono::seconds(30)));

  CanaryCluster cluster(std::chrono::milliseconds(300), PrometheusAnalysis(prom.address()));
  cluster.ApplyApp("1.0.0", Spec(2));
  cluster.WaitForPhase("Initialized");
  cluster.SetVersion("1.1.0");
  cluster.WaitForPhase("Succeeded", std::chrono::seconds(60));
  CHECK(cluster.Get("canary/podinfo", "{.status.metrics[0].name}") == "request-success-rate");
  CHECK(cluster.Get("canary/podinfo", "{.status.metrics[0].verdict}") == "Pass");
  CHECK(cluster.Get("canary/podinfo", "{.status.metrics[0].value}") == "100");
  CHECK_THAT(cluster.Get("deployment/podinfo-primary", "{.spec.template.spec.containers[0].image}"),
             EndsWith(":1.1.0"));

  exporter.healthy = false;
  REQUIRE(WaitFor(
      [&] {
        auto rate = SuccessRate(prom.address());
        return rate && *rate < 99;
      },
      std::chrono::seconds(30)));
  cluster.SetVersion("1.2.0");
  cluster.WaitForPhase("Failed", std::chrono::seconds(60));
  CHECK(cluster.Get("canary/podinfo", "{.status.metrics[0].verdict}") == "Fail");
  CHECK_THAT(cluster.Get("canary/podinfo", "{.status.metrics[0].message}"), Contains("is below the minimum 99"));
  CHECK_THAT(cluster.Get("canary/podinfo", "{.status.conditions[?(@.type==\"Ready\")].message}"),
             Contains("metric request-success-rate"));
  CHECK_THAT(cluster.Get("deployment/podinfo-primary", "{.spec.template.spec.containers[0].image}"),
             EndsWith(":1.1.0"));
}

TEST_CASE("live metrics: no promotion while Prometheus is down and the reason is in status", "[analysis][e2e][live]") {
  if (!HaveKubectl()) SLUICE_SKIP("kubectl is not installed (scripts/install-deps.sh)");
  if (!CrdFixture("gateway-api-v1.6.1-httproutes.yaml"))
    SLUICE_SKIP("Gateway API CRDs not found: set SLUICE_CRD_DIR (docs/testing.md)");
  std::string dead = "http://127.0.0.1:" + std::to_string(FreeLoopbackPort());
  CanaryCluster cluster(std::chrono::milliseconds(300), PrometheusAnalysis(dead));
  cluster.ApplyApp("1.0.0", Spec(3));
  cluster.WaitForPhase("Initialized");
  cluster.SetVersion("1.1.0");
  cluster.WaitForPhase("Failed", std::chrono::seconds(60));
  CHECK(cluster.Get("canary/podinfo", "{.status.metrics[0].verdict}") == "Error");
  CHECK_THAT(cluster.Get("canary/podinfo", "{.status.metrics[0].message}"),
             Contains("Prometheus at " + dead) && Contains("cannot connect"));
  CHECK_THAT(cluster.Get("canary/podinfo", "{.status.conditions[?(@.type==\"Ready\")].message}"),
             Contains("cannot connect"));
  CHECK_THAT(cluster.Get("deployment/podinfo-primary", "{.spec.template.spec.containers[0].image}"),
             EndsWith(":1.0.0"));
}
