#include "tests/analysis/prom_harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <stdexcept>

#include "sandbox/emulator/certs.h"

namespace sluice::testing {

const char* const kTestUser = "sluice";
const char* const kTestPassword = "s3cret-pw";
const char* const kTestPasswordBcrypt = "$2b$04$dRjgDnd8EgBzp.ufgxB.eu1MtPimslUAPzBEMmt4f.l9zYaQRkgSu";

namespace {

std::string Number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

std::string WithLabels(const std::string& name, const std::string& labels, const std::string& extra = "") {
  std::string all = labels;
  if (!extra.empty()) all += (all.empty() ? "" : ",") + extra;
  return name + (all.empty() ? "" : "{" + all + "}");
}

}  // namespace

std::string OpenMetricsBuilder::Family(const std::string& name, const std::string& type) {
  types_.emplace(name, type);
  return name;
}

void OpenMetricsBuilder::Sample(const std::string& family, const std::string& series, double value, int i) {
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(start_.time_since_epoch() + step_ * i).count();
  lines_[family].push_back(series + " " + Number(value) + " " + std::to_string(seconds));
}

void OpenMetricsBuilder::Gauge(const std::string& name, const std::string& labels,
                               const std::function<double(int)>& value) {
  std::string family = Family(name, "gauge");
  for (int i = 0; i < samples_; ++i) Sample(family, WithLabels(name, labels), value(i), i);
}

void OpenMetricsBuilder::Counter(const std::string& name, const std::string& labels,
                                 const std::function<double(int)>& per_step) {
  // OpenMetrics counters end in _total; data planes also export counters without the
  // suffix (envoy_cluster_upstream_rq), which backfill as "unknown": PromQL does not care.
  bool total = name.size() > 6 && name.ends_with("_total");
  std::string family = Family(total ? name.substr(0, name.size() - 6) : name, total ? "counter" : "unknown");
  double sum = 0;
  for (int i = 0; i < samples_; ++i) {
    if (i > 0) sum += per_step(i);
    Sample(family, WithLabels(name, labels), sum, i);
  }
}

void OpenMetricsBuilder::Histogram(const std::string& name, const std::string& labels,
                                   const std::vector<double>& bounds, double bucket, double per_step) {
  std::string family = Family(name, "histogram");
  std::vector<double> all = bounds;
  all.push_back(INFINITY);
  for (double le : all) {
    double in_bucket = le >= bucket ? per_step : 0;
    for (int i = 0; i < samples_; ++i)
      Sample(family, WithLabels(name + "_bucket", labels, "le=\"" + Number(le) + "\""), in_bucket * i, i);
  }
  for (int i = 0; i < samples_; ++i) Sample(family, WithLabels(name + "_count", labels), per_step * i, i);
  for (int i = 0; i < samples_; ++i) Sample(family, WithLabels(name + "_sum", labels), per_step * i * bucket, i);
}

std::string OpenMetricsBuilder::Text() const {
  std::string out;
  for (const auto& [family, type] : types_) {
    out += "# TYPE " + family + " " + type + "\n";
    auto it = lines_.find(family);
    if (it == lines_.end()) continue;
    for (const auto& line : it->second) out += line + "\n";
  }
  return out + "# EOF\n";
}


bool HavePrometheus() { return Run({"sh", "-c", "command -v prometheus && command -v promtool"}).exit_code == 0; }

PromServer::PromServer(const PromOptions& options) {
  std::string data = dir_.File("data");
  std::filesystem::create_directories(data);
  if (!options.openmetrics.empty()) {
    dir_.Write("backfill.om", options.openmetrics);
    ProcessResult r = Run({"promtool", "tsdb", "create-blocks-from", "openmetrics", dir_.File("backfill.om"), data});
    if (r.exit_code != 0) throw std::runtime_error("promtool backfill failed: " + r.Describe());
  }
  std::string config = "global:\n  scrape_interval: " + std::to_string(options.scrape_interval.count()) +
                       "s\n  evaluation_interval: 15s\n";
  if (!options.scrape_target.empty())
    config += "scrape_configs:\n  - job_name: app\n    scrape_interval: " +
              std::to_string(options.scrape_interval.count()) + "s\n    scrape_timeout: " +
              std::to_string(options.scrape_interval.count()) + "s\n    static_configs:\n      - targets: ['" +
              options.scrape_target + "']\n";
  dir_.Write("prometheus.yml", config);
  std::string web;
  if (options.tls) {
    sandbox::GeneratedCerts certs = sandbox::GenerateCerts();
    ca_pem_ = certs.ca_pem;
    dir_.Write("server.crt", certs.server_cert_pem);
    dir_.Write("server.key", certs.server_key_pem);
    web += "tls_server_config:\n  cert_file: " + dir_.File("server.crt") + "\n  key_file: " + dir_.File("server.key") +
           "\n";
  }
  if (!options.basic_auth_user.empty())
    web += "basic_auth_users:\n  " + options.basic_auth_user + ": '" + options.basic_auth_bcrypt + "'\n";
  if (!web.empty()) dir_.Write("web.yml", web);

  // Another process may take the free port before Prometheus binds it: try a few.
  for (int attempt = 0; attempt < 3 && !ready_; ++attempt) {
    int port = FreeLoopbackPort();
    std::vector<std::string> argv = {"prometheus",
                                     "--config.file=" + dir_.File("prometheus.yml"),
                                     "--storage.tsdb.path=" + data,
                                     "--storage.tsdb.retention.time=100y",
                                     "--web.listen-address=127.0.0.1:" + std::to_string(port),
                                     "--log.level=info"};
    if (!web.empty()) argv.push_back("--web.config.file=" + dir_.File("web.yml"));
    process_ = std::make_unique<BackgroundProcess>(argv);
    ready_ = WaitFor(
        [&] {
          return process_->Stderr().find("Server is ready to receive web requests") != std::string::npos ||
                 !process_->Running();
        },
        std::chrono::seconds(30));
    ready_ = ready_ && process_->Running();
    address_ = std::string(options.tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port);
    if (!ready_) process_->Stop();
  }
}

PromServer::~PromServer() {
  if (process_) process_->Stop();
}

std::string PromServer::logs() const { return process_ ? process_->Stderr() : ""; }

core::TimePoint BackfillStart() { return core::TimePoint{} + std::chrono::seconds(1767225600); }

namespace {

const std::vector<double> kMillis = {50, 100, 250, 500};
const std::vector<double> kSeconds = {0.05, 0.1, 0.25, 0.5};

// The data planes of canary "web" in namespace "shop" (service web, port 8080): the canary
// answers 95% non-5xx with every request in the 50..100 ms bucket (p99 99.5 ms), the primary
// 100% in the 0..50 ms bucket (p99 49.5 ms). Builtin tests expect exactly these numbers.
void DataPlanes(OpenMetricsBuilder& b) {
  auto ok = [](int) { return 95.0; };
  auto failed = [](int) { return 5.0; };
  auto all_ok = [](int) { return 100.0; };
  // gatewayapi (Envoy, Contour cluster names)
  b.Counter("envoy_cluster_upstream_rq", "envoy_cluster_name=\"shop_web-canary_8080\",envoy_response_code=\"200\"", ok);
  b.Counter("envoy_cluster_upstream_rq", "envoy_cluster_name=\"shop_web-canary_8080\",envoy_response_code=\"503\"",
            failed);
  b.Counter("envoy_cluster_upstream_rq", "envoy_cluster_name=\"shop_web-primary_8080\",envoy_response_code=\"200\"",
            all_ok);
  b.Histogram("envoy_cluster_upstream_rq_time", "envoy_cluster_name=\"shop_web-canary_8080\"", kMillis, 100, 100);
  b.Histogram("envoy_cluster_upstream_rq_time", "envoy_cluster_name=\"shop_web-primary_8080\"", kMillis, 50, 100);
  // istio: the source reporter's failures must not count (only reporter="destination")
  std::string istio_canary =
      "reporter=\"destination\",destination_workload_namespace=\"shop\",destination_workload=\"web\","
      "destination_service_name=\"web-canary\"";
  std::string istio_primary =
      "reporter=\"destination\",destination_workload_namespace=\"shop\",destination_workload=\"web-primary\","
      "destination_service_name=\"web-primary\"";
  b.Counter("istio_requests_total", istio_canary + ",response_code=\"200\"", ok);
  b.Counter("istio_requests_total", istio_canary + ",response_code=\"500\"", failed);
  b.Counter("istio_requests_total",
            "reporter=\"source\",destination_workload_namespace=\"shop\",destination_workload=\"web\","
            "destination_service_name=\"web-canary\",response_code=\"500\"",
            all_ok);
  b.Counter("istio_requests_total", istio_primary + ",response_code=\"200\"", all_ok);
  b.Histogram("istio_request_duration_milliseconds",
              "reporter=\"destination\",destination_workload_namespace=\"shop\",destination_workload=\"web\"", kMillis,
              100, 100);
  b.Histogram("istio_request_duration_milliseconds",
              "reporter=\"destination\",destination_workload_namespace=\"shop\",destination_workload=\"web-primary\"",
              kMillis, 50, 100);
  // nginx (ingress-nginx)
  std::string nginx_canary = "namespace=\"shop\",ingress=\"web\",service=\"web-canary\",canary=\"shop-web-canary-8080\"";
  std::string nginx_primary = "namespace=\"shop\",ingress=\"web\",service=\"web-primary\",canary=\"\"";
  b.Counter("nginx_ingress_controller_requests", nginx_canary + ",status=\"200\"", ok);
  b.Counter("nginx_ingress_controller_requests", nginx_canary + ",status=\"502\"", failed);
  b.Counter("nginx_ingress_controller_requests", nginx_primary + ",status=\"200\"", all_ok);
  b.Histogram("nginx_ingress_controller_request_duration_seconds", nginx_canary, kSeconds, 0.1, 100);
  b.Histogram("nginx_ingress_controller_request_duration_seconds", nginx_primary, kSeconds, 0.05, 100);
  // kubernetes (the app's own metrics per pod; two canary pods, summed)
  for (const char* pod : {"web-5d8f7c9b6-abcde", "web-5d8f7c9b6-fghij"}) {
    std::string labels = "namespace=\"shop\",pod=\"" + std::string(pod) + "\"";
    b.Counter("http_requests_total", labels + ",code=\"200\"", ok);
    b.Counter("http_requests_total", labels + ",code=\"500\"", failed);
    b.Histogram("http_request_duration_seconds", labels, kSeconds, 0.1, 100);
  }
  std::string primary_pod = "namespace=\"shop\",pod=\"web-primary-7c9d5f8b4-xyz12\"";
  b.Counter("http_requests_total", primary_pod + ",code=\"200\"", all_ok);
  b.Histogram("http_request_duration_seconds", primary_pod, kSeconds, 0.05, 100);
}

}  // namespace

PromServer& SharedPrometheus() {
  static std::unique_ptr<PromServer> server = [] {
    OpenMetricsBuilder b(BackfillStart(), std::chrono::seconds(10), 181);
    b.Gauge("sluice_test_value", "case=\"steady\"", [](int) { return 99.5; });
    b.Gauge("sluice_test_value", "case=\"nan\"", [](int) { return NAN; });
    b.Gauge("sluice_test_value", "case=\"pair\",i=\"1\"", [](int) { return 1.0; });
    b.Gauge("sluice_test_value", "case=\"pair\",i=\"2\"", [](int) { return 2.0; });
    // Healthy for the first 10 minutes, then a drop: what `sluice analyze` replays.
    b.Gauge("sluice_test_step", "app=\"shop\"", [](int i) { return i < 60 ? 99.5 : 80.0; });
    DataPlanes(b);
    PromOptions o;
    o.openmetrics = b.Text();
    return std::make_unique<PromServer>(o);
  }();
  return *server;
}

}  // namespace sluice::testing
