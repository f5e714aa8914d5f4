// The sandbox's data plane: see traffic_simulator.h. Series names and labels follow the real
// data planes (helpers' metric contract, docs/sandbox.md) so builtin queries need no change.
#include "sandbox/sim/traffic_simulator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <sstream>
#include <stdexcept>

#include "api/canary_types.h"
#include "core/json_fields.h"

namespace sluice::sandbox {

using nlohmann::json;

namespace {

// z of the 99th percentile of the standard normal: sigma of a log-normal from p50 and p99.
constexpr double kZ99 = 2.3263478740408408;
// Bucket bounds in milliseconds, fine enough around the usual thresholds (100-500 ms) for
// histogram_quantile to land near the true p99.
const std::vector<double> kBucketsMs = {1, 5, 10, 25, 50, 75, 100, 150, 250, 500, 1000, 2500, 5000, 10000};

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  size_t e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// A whole-string number, or nullopt.
std::optional<double> Number(const std::string& text) {
  std::string t = Trim(text);
  if (t.empty()) return std::nullopt;
  try {
    size_t used = 0;
    double v = std::stod(t, &used);
    if (used != t.size() || !std::isfinite(v)) return std::nullopt;
    return v;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::invalid_argument BadAnnotation(const char* name, const std::string& value, const std::string& expected) {
  return std::invalid_argument(std::string("annotation ") + name + ": \"" + value + "\": expected " + expected);
}

double ParseErrorRate(const std::string& value) {
  auto v = Number(value);
  if (!v || *v < 0 || *v > 1) throw BadAnnotation(kErrorRateAnnotation, value, "a fraction between 0 and 1, e.g. \"0.2\"");
  return *v;
}

void ParseLatency(const std::string& value, VersionProfile& p) {
  const std::string expected = "p50=<ms>,p99=<ms> with 0 < p50 <= p99, e.g. \"p50=20,p99=80\"";
  std::optional<double> p50, p99;
  std::stringstream in(value);
  std::string part;
  while (std::getline(in, part, ',')) {
    auto eq = part.find('=');
    if (eq == std::string::npos) throw BadAnnotation(kLatencyAnnotation, value, expected);
    std::string key = Trim(part.substr(0, eq));
    auto v = Number(part.substr(eq + 1));
    if (!v || *v <= 0) throw BadAnnotation(kLatencyAnnotation, value, expected);
    if (key == "p50")
      p50 = v;
    else if (key == "p99")
      p99 = v;
    else
      throw BadAnnotation(kLatencyAnnotation, value, expected);
  }
  if (!p50 || !p99 || *p99 < *p50) throw BadAnnotation(kLatencyAnnotation, value, expected);
  p.p50_ms = *p50;
  p.p99_ms = *p99;
}

const json& Field(const json& obj, const char* key) {
  static const json kNull;
  return obj.is_object() && obj.contains(key) ? obj[key] : kNull;
}

using core::Str;

int Int(const json& obj, const char* key, int fallback) {
  const json& v = Field(obj, key);
  return v.is_number_integer() ? v.get<int>() : fallback;
}

std::string Escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

using Labels = std::vector<std::pair<std::string, std::string>>;

std::string Render(const Labels& labels) {
  std::string out;
  for (const auto& [k, v] : labels) {
    if (!out.empty()) out += ",";
    out += k + "=\"" + Escape(v) + "\"";
  }
  return out;
}

std::string FormatNumber(double v) {
  std::ostringstream o;
  o.precision(10);
  o << v;
  return o.str();
}

// The names and label sets one provider's data plane uses.
struct Scheme {
  std::string requests;  // counter
  std::string duration;  // histogram
  bool seconds = false;  // durations in seconds, else milliseconds
  std::string requests_help;
  std::string duration_help;
};

Scheme SchemeFor(const std::string& provider) {
  if (provider == "gatewayapi")
    return {"envoy_cluster_upstream_rq", "envoy_cluster_upstream_rq_time", false,
            "Requests completed by each upstream cluster (Envoy).", "Upstream request time in milliseconds (Envoy)."};
  if (provider == "istio")
    return {"istio_requests_total", "istio_request_duration_milliseconds", false, "Requests (Istio standard metrics).",
            "Request duration in milliseconds (Istio standard metrics)."};
  if (provider == "nginx")
    return {"nginx_ingress_controller_requests", "nginx_ingress_controller_request_duration_seconds", true,
            "Client requests (ingress-nginx).", "Request processing time in seconds (ingress-nginx)."};
  if (provider == "kubernetes")
    return {"http_requests_total", "http_request_duration_seconds", true, "HTTP requests served by the app.",
            "HTTP request latency in seconds, as the app measures it."};
  throw std::invalid_argument("unknown provider \"" + provider + "\"; the traffic simulator knows gatewayapi, istio, nginx, kubernetes");
}

// Labels of one request's series; code empty for the histogram's labels.
Labels LabelsFor(const TrafficTopology& t, const Backend& b, const std::string& pod, const std::string& code) {
  std::string variant_service = t.service + "-" + b.variant;
  Labels l;
  if (t.provider == "gatewayapi") {
    l = {{"envoy_cluster_name", t.ns + "_" + variant_service + "_" + std::to_string(t.port)}};
    if (!code.empty()) l.push_back({"envoy_response_code", code});
  } else if (t.provider == "istio") {
    l = {{"reporter", "destination"}, {"destination_workload_namespace", t.ns}, {"destination_workload", b.workload}};
    if (!code.empty()) {
      l.push_back({"destination_service_name", variant_service});
      l.push_back({"response_code", code});
    }
  } else if (t.provider == "nginx") {
    std::string canary = b.variant == "canary" ? t.ns + "-" + t.service + "-canary-" + std::to_string(t.port) : "";
    l = {{"namespace", t.ns}, {"ingress", t.service}, {"service", variant_service}, {"canary", canary}};
    if (!code.empty()) l.push_back({"status", code});
  } else {
    l = {{"namespace", t.ns}, {"pod", pod}};
    if (!code.empty()) l.push_back({"code", code});
  }
  return l;
}

double SampleLatency(const VersionProfile& p, std::mt19937_64& rng) {
  double sigma = std::log(p.p99_ms / p.p50_ms) / kZ99;
  std::lognormal_distribution<double> d(std::log(p.p50_ms), sigma);
  return d(rng);
}

std::vector<std::string> Pods(const std::map<std::string, json>& deployments, const std::string& name) {
  auto it = deployments.find(name);
  return it == deployments.end() ? std::vector<std::string>{} : SimulatedPods(it->second);
}

VersionProfile ProfileOf(const std::map<std::string, json>& deployments, const std::string& name) {
  auto it = deployments.find(name);
  if (it == deployments.end()) return {};
  const json& annotations = Field(Field(Field(Field(it->second, "spec"), "template"), "metadata"), "annotations");
  try {
    return ParseVersionProfile(annotations);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("Deployment " + name + " spec.template.metadata." + e.what());
  }
}

// Weights from a routing object: HTTPRoute and VirtualService name the -primary and -canary
// Services in their last rule (the first is the A/B match when there are two).
std::pair<double, double> RouteWeights(const std::string& provider, const json& route, const std::string& service) {
  double primary = 0, canary = 0;
  if (provider == "gatewayapi") {
    const json& rules = Field(Field(route, "spec"), "rules");
    if (!rules.is_array() || rules.empty()) return {0, 0};
    for (const auto& ref : Field(rules.back(), "backendRefs")) {
      double w = Int(ref, "weight", 1);
      if (Str(ref, "name") == service + "-primary") primary = w;
      if (Str(ref, "name") == service + "-canary") canary = w;
    }
  } else if (provider == "istio") {
    const json& http = Field(Field(route, "spec"), "http");
    if (!http.is_array() || http.empty()) return {0, 0};
    for (const auto& r : Field(http.back(), "route")) {
      std::string host = Str(Field(r, "destination"), "host");
      host = host.substr(0, host.find('.'));
      double w = Int(r, "weight", 100);
      if (host == service + "-primary") primary = w;
      if (host == service + "-canary") canary = w;
    }
  } else if (provider == "nginx") {
    // The canary Ingress carries the canary's share; the main Ingress serves the rest.
    const json& ann = Field(Field(route, "metadata"), "annotations");
    bool on = Str(ann, "nginx.ingress.kubernetes.io/canary") == "true";
    canary = on ? Number(Str(ann, "nginx.ingress.kubernetes.io/canary-weight")).value_or(0) : 0;
    primary = 100 - canary;
  }
  return {primary, canary};
}

}  // namespace

VersionProfile ParseVersionProfile(const json& annotations) {
  VersionProfile p;
  if (!annotations.is_object()) return p;
  if (annotations.contains(kErrorRateAnnotation)) {
    const json& v = annotations[kErrorRateAnnotation];
    p.error_rate = ParseErrorRate(v.is_string() ? v.get<std::string>() : v.dump());
  }
  if (annotations.contains(kLatencyAnnotation)) {
    const json& v = annotations[kLatencyAnnotation];
    ParseLatency(v.is_string() ? v.get<std::string>() : v.dump(), p);
  }
  return p;
}

std::optional<RouteRef> RouteObjectFor(const std::string& provider, const std::string& service) {
  SchemeFor(provider);  // refuses unknown providers
  if (provider == "gatewayapi") return RouteRef{"gateway.networking.k8s.io/v1", "HTTPRoute", service};
  if (provider == "istio") return RouteRef{"networking.istio.io/v1", "VirtualService", service};
  if (provider == "nginx") return RouteRef{"networking.k8s.io/v1", "Ingress", service + "-canary"};
  return std::nullopt;
}

std::vector<std::string> SimulatedPods(const json& deployment) {
  static const char kChars[] = "bcdfghjklmnpqrstvwxz2456789";
  std::string name = Str(Field(deployment, "metadata"), "name");
  int ready = Int(Field(deployment, "status"), "readyReplicas", 0);
  size_t h = std::hash<std::string>{}(Field(Field(deployment, "spec"), "template").dump());
  std::string rs;
  for (int i = 0; i < 10; ++i, h /= 27) rs.push_back(kChars[h % 27]);
  std::vector<std::string> pods;
  for (int i = 0; i < ready; ++i) {
    size_t ph = std::hash<std::string>{}(rs + "/" + std::to_string(i));
    std::string suffix;
    for (int j = 0; j < 5; ++j, ph /= 27) suffix.push_back(kChars[ph % 27]);
    pods.push_back(name + "-" + rs + "-" + suffix);
  }
  return pods;
}

TrafficTopology TopologyFromCluster(const ClusterView& view, double load_tester_share) {
  const json& spec = Field(view.canary, "spec");
  TrafficTopology t;
  t.provider = Str(spec, "provider").empty() ? api::kDefaultProvider : Str(spec, "provider");
  SchemeFor(t.provider);
  t.ns = Str(Field(view.canary, "metadata"), "namespace");
  std::string target = Str(Field(spec, "targetRef"), "name");
  if (target.empty())
    throw std::invalid_argument("Canary " + t.ns + "/" + Str(Field(view.canary, "metadata"), "name") +
                                ": spec.targetRef.name is empty");
  t.service = Str(Field(spec, "service"), "name").empty() ? target : Str(Field(spec, "service"), "name");
  t.port = Int(Field(spec, "service"), "port", 80);

  Backend primary{"primary", target + "-primary", Pods(view.deployments, target + "-primary"), 0,
                  ProfileOf(view.deployments, target + "-primary")};
  Backend canary{"canary", target, Pods(view.deployments, target), 0, ProfileOf(view.deployments, target)};
  if (t.provider == "kubernetes") {
    // The apex Service selects one Deployment's pods: a switch, not a split.
    for (const auto& [key, value] : Field(Field(view.apex_service, "spec"), "selector").items()) {
      if (value == target + "-primary") primary.weight = 100;
      if (value == target) canary.weight = 100;
    }
  } else if (!view.route.is_null()) {
    auto [p, c] = RouteWeights(t.provider, view.route, t.service);
    primary.weight = p;
    canary.weight = c;
  }
  bool progressing = Str(Field(view.canary, "status"), "phase") == "Progressing";
  if (progressing && canary.weight == 0 && !canary.pods.empty() && primary.weight > 0 && load_tester_share > 0 &&
      load_tester_share < 1)
    canary.weight = primary.weight * load_tester_share / (1 - load_tester_share);
  if (primary.weight > 0) t.backends.push_back(primary);
  if (canary.weight > 0) t.backends.push_back(canary);
  return t;
}

struct TrafficSimulator::Series {
  struct Histogram {
    std::vector<uint64_t> buckets = std::vector<uint64_t>(kBucketsMs.size(), 0);
    double sum = 0;
    uint64_t count = 0;
  };
  std::map<std::string, uint64_t> requests;  // rendered labels -> count
  std::map<std::string, Histogram> durations;
};

TrafficSimulator::TrafficSimulator(TrafficOptions options)
    : options_(options),
      rng_(options.seed ? options.seed : static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())),
      series_(std::make_shared<Series>()) {
  if (!(options_.requests_per_second >= 0)) throw std::invalid_argument("requests per second must be >= 0");
}

void TrafficSimulator::SetTopology(TrafficTopology topology) {
  SchemeFor(topology.provider);
  std::lock_guard lock(mu_);
  // Another provider is another data plane: its series start afresh.
  if (topology.provider != topology_.provider) series_ = std::make_shared<Series>();
  topology_ = std::move(topology);
}

void TrafficSimulator::Advance(std::chrono::milliseconds elapsed) {
  std::lock_guard lock(mu_);
  double due = carry_ + options_.requests_per_second * static_cast<double>(elapsed.count()) / 1000.0;
  auto whole = static_cast<uint64_t>(std::floor(due));
  carry_ = due - static_cast<double>(whole);
  for (uint64_t i = 0; i < whole; ++i) ServeOne();
}

void TrafficSimulator::Send(uint64_t count) {
  std::lock_guard lock(mu_);
  for (uint64_t i = 0; i < count; ++i) ServeOne();
}

const Backend* TrafficSimulator::Pick() {
  double total = 0;
  for (const auto& b : topology_.backends) total += b.weight;
  if (total <= 0) return nullptr;
  double x = std::uniform_real_distribution<double>(0, total)(rng_);
  for (const auto& b : topology_.backends) {
    if (x < b.weight) return &b;
    x -= b.weight;
  }
  return &topology_.backends.back();
}

void TrafficSimulator::ServeOne() {
  const Backend* b = Pick();
  if (!b) return;
  std::string pod;
  if (!b->pods.empty())
    pod = b->pods[std::uniform_int_distribution<size_t>(0, b->pods.size() - 1)(rng_)];
  else if (topology_.provider == "kubernetes")
    return;  // no pod answered: the client saw a refused connection and no app counted it
  // A backend without ready pods: the proxy answers 503 at once (no healthy upstream).
  bool no_upstream = b->pods.empty();
  bool error = no_upstream || std::bernoulli_distribution(b->profile.error_rate)(rng_);
  std::string code = no_upstream ? "503" : error ? "500" : "200";
  double ms = no_upstream ? 0.5 : SampleLatency(b->profile, rng_);

  series_->requests[Render(LabelsFor(topology_, *b, pod, code))]++;
  auto& h = series_->durations[Render(LabelsFor(topology_, *b, pod, ""))];
  for (size_t i = 0; i < kBucketsMs.size(); ++i)
    if (ms <= kBucketsMs[i]) h.buckets[i]++;
  h.count++;
  h.sum += SchemeFor(topology_.provider).seconds ? ms / 1000.0 : ms;

  Tally& t = tallies_[b->variant];
  t.requests++;
  if (error) t.errors++;
  if (t.latencies_ms.size() < kMaxKeptLatencies) t.latencies_ms.push_back(ms);
}

std::string TrafficSimulator::Serialize() const {
  std::lock_guard lock(mu_);
  if (topology_.provider.empty()) return "";
  Scheme s = SchemeFor(topology_.provider);
  std::ostringstream out;
  out << "# HELP " << s.requests << " " << s.requests_help << "\n# TYPE " << s.requests << " counter\n";
  for (const auto& [labels, n] : series_->requests) out << s.requests << "{" << labels << "} " << n << "\n";
  out << "# HELP " << s.duration << " " << s.duration_help << "\n# TYPE " << s.duration << " histogram\n";
  for (const auto& [labels, h] : series_->durations) {
    std::string sep = labels.empty() ? "" : ",";
    for (size_t i = 0; i < kBucketsMs.size(); ++i) {
      double le = s.seconds ? kBucketsMs[i] / 1000.0 : kBucketsMs[i];
      out << s.duration << "_bucket{" << labels << sep << "le=\"" << FormatNumber(le) << "\"} " << h.buckets[i] << "\n";
    }
    out << s.duration << "_bucket{" << labels << sep << "le=\"+Inf\"} " << h.count << "\n";
    out << s.duration << "_sum{" << labels << "} " << FormatNumber(h.sum) << "\n";
    out << s.duration << "_count{" << labels << "} " << h.count << "\n";
  }
  return out.str();
}

std::map<std::string, TrafficSimulator::Tally> TrafficSimulator::Tallies() const {
  std::lock_guard lock(mu_);
  return tallies_;
}

}  // namespace sluice::sandbox
