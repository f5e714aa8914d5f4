// The Prometheus provider against a real Prometheus over backfilled series (exact values),
// and against scripted loopback servers for what Prometheus itself will not do (hang, answer
// garbage or too much).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <thread>

#include "analysis/prometheus.h"
#include "core/base64.h"
#include "net/http_server.h"
#include "tests/analysis/prom_harness.h"
#include "tests/support/skip.h"

using namespace sluice;
using namespace sluice::analysis;
using namespace sluice::testing;
using Catch::Matchers::Contains;
using nlohmann::json;
using std::chrono::minutes;
using std::chrono::seconds;

namespace {

#define REQUIRE_PROMETHEUS()                                                     \
  if (!HavePrometheus()) SLUICE_SKIP("prometheus and promtool are not installed"); \
  REQUIRE(SharedPrometheus().ready())

core::TimePoint At(minutes m) { return BackfillStart() + m; }

PrometheusOptions Options(const std::string& address) {
  PrometheusOptions o;
  o.address = address;
  o.timeout = std::chrono::milliseconds(5000);
  return o;
}

struct Provider {
  boost::asio::io_context io;
  std::shared_ptr<MetricProvider> provider;
  explicit Provider(const PrometheusOptions& o) : provider(MakePrometheusProvider(io.get_executor(), o)) {}

  std::optional<double> Scalar(const std::string& query, core::TimePoint at) {
    return Await(io, provider->QueryScalar(query, at));
  }
  // The MetricError's message and retryable flag; FAILs when the query succeeds.
  std::pair<std::string, bool> ScalarError(const std::string& query, core::TimePoint at) {
    try {
      auto v = Scalar(query, at);
      FAIL("expected an error, got " << (v ? std::to_string(*v) : "no data"));
    } catch (const MetricError& e) {
      return {e.what(), e.retryable()};
    }
    return {};
  }
};

}  // namespace

TEST_CASE("decoding: vector and scalar values and NaN and empty results", "[analysis][prometheus]") {
  CHECK(DecodeInstantResponse("q", 200,
                              R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"99.5"]}]}})") ==
        99.5);
  CHECK(DecodeInstantResponse("q", 200, R"({"status":"success","data":{"resultType":"scalar","result":[1,"-3"]}})") == -3);
  CHECK_FALSE(DecodeInstantResponse("q", 200, R"({"status":"success","data":{"resultType":"vector","result":[]}})"));
  CHECK_FALSE(DecodeInstantResponse(
      "q", 200, R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"NaN"]}]}})"));
  auto inf = DecodeInstantResponse(
      "q", 200, R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"+Inf"]}]}})");
  REQUIRE(inf);
  CHECK(std::isinf(*inf));
  auto samples = DecodeRangeResponse(
      "q", 200,
      R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[10,"1"],[20.5,"2"]]}]}})");
  REQUIRE(samples.size() == 2);
  CHECK(samples[1].value == 2);
  CHECK(samples[1].time.time_since_epoch() == std::chrono::milliseconds(20500));
  CHECK(DecodeRangeResponse("q", 200, R"({"status":"success","data":{"resultType":"matrix","result":[]}})").empty());
}

TEST_CASE("decoding: a sample time a TimePoint cannot hold is an error (found with fuzz_prometheus)",
          "[analysis][prometheus][fuzz]") {
  // Seconds * 1000 as milliseconds, then as the clock's nanoseconds, overflowed (UB).
  auto error = [](const std::string& body) {
    try {
      DecodeInstantResponse("q", 200, body);
    } catch (const MetricError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(error(R"({"status":"success","data":{"resultType":"scalar","result":[1e13,"1"]}})") ==
        "query \"q\": the sample time 10000000000000.0 is not a Unix time");
  CHECK_THAT(error(R"({"status":"success","data":{"resultType":"scalar","result":[-1e300,"1"]}})"),
             Contains("is not a Unix time"));
  CHECK_THROWS_AS(DecodeRangeResponse("q", 200,
                                      R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"],[9e9,"2"]]}]}})"),
                  MetricError);
  CHECK(DecodeInstantResponse("q", 200, R"({"status":"success","data":{"resultType":"scalar","result":[1700000000.5,"7"]}})") == 7);
}

TEST_CASE("decoding: fields of the wrong type and bodies that are not UTF-8 are MetricErrors a status can hold "
          "(found by fuzz_prometheus)", "[analysis][prometheus][fuzz]") {
  auto error = [](int status, const std::string& body) {
    try {
      DecodeInstantResponse("q", status, body);
    } catch (const MetricError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  // "status" as an object threw nlohmann's type_error past the MetricError handlers.
  CHECK(error(200, R"({"status":{},"value":[1,"+Inf"]})") ==
        R"(query "q": HTTP 200: {"status":{},"value":[1,"+Inf"]})");
  CHECK_THAT(error(400, R"({"status":"error","errorType":7,"error":["x"]})"), Contains("HTTP 400"));
  CHECK_THAT(error(200, R"({"status":"success","data":{"resultType":1,"result":[]}})"),
             Contains("returned a result without resultType"));
  CHECK_THAT(error(200, R"({"status":"success","data":{"resultType":"vector","result":[1,2]}})"),
             Contains("returned 2 series ({}, {})"));
  // A body that is not UTF-8 ends up in the message, which goes into the Canary's status: it
  // must stay serializable.
  std::string message = error(502, "\xc6");
  CHECK(message == "query \"q\": HTTP 502 with a body that is not Prometheus API JSON: \xef\xbf\xbd");
  CHECK_NOTHROW(json(message).dump());
  CHECK_NOTHROW(json(error(502, std::string(299, 'a') + "\xc3\xa9")).dump());  // a character cut at the limit
}

TEST_CASE("decoding: errors carry the query and Prometheus' words and say whether retrying helps", "[analysis][prometheus]") {
  auto error = [](int status, const std::string& body) -> std::pair<std::string, bool> {
    try {
      DecodeInstantResponse("up == 1", status, body);
    } catch (const MetricError& e) {
      return {e.what(), e.retryable()};
    }
    return {"", false};
  };
  auto [bad, bad_retry] = error(400, R"({"status":"error","errorType":"bad_data","error":"1:4: parse error"})");
  CHECK(bad == "query \"up == 1\": bad_data: 1:4: parse error");
  CHECK_FALSE(bad_retry);
  auto [busy, busy_retry] = error(503, R"({"status":"error","errorType":"timeout","error":"query timed out"})");
  CHECK_THAT(busy, Contains("timeout: query timed out"));
  CHECK(busy_retry);
  auto [gateway, gateway_retry] = error(502, "<html>Bad Gateway</html>");
  CHECK_THAT(gateway, Contains("HTTP 502 with a body that is not Prometheus API JSON: <html>Bad Gateway</html>"));
  CHECK(gateway_retry);
  auto [denied, denied_retry] = error(401, "Unauthorized\n");
  CHECK_THAT(denied, Contains("the credentials were refused (HTTP 401)"));
  CHECK_FALSE(denied_retry);
  CHECK_THAT(error(200, R"({"status":"success","data":{"resultType":"string","result":[1,"x"]}})").first,
             Contains("returned a string where a single number is expected"));
  CHECK_THAT(error(200, R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"abc"]}]}})")
                 .first,
             Contains("the sample value \"abc\" is not a number"));
  CHECK_THAT(error(200, R"({"status":"success"})").first, Contains("no data.result"));
}

TEST_CASE("instant queries against backfilled series give exact values and no data", "[analysis][prometheus]") {
  REQUIRE_PROMETHEUS();
  Provider p(Options(SharedPrometheus().address()));
  CHECK(p.Scalar("sluice_test_value{case=\"steady\"}", At(minutes(10))) == 99.5);
  CHECK(p.Scalar("sum(sluice_test_value{case=\"pair\"})", At(minutes(10))) == 3);
  CHECK(p.Scalar("scalar(sluice_test_value{case=\"steady\"}) * 2", At(minutes(10))) == 199);
  CHECK_FALSE(p.Scalar("sluice_test_value{case=\"missing\"}", At(minutes(10))));
  CHECK_FALSE(p.Scalar("sluice_test_value{case=\"nan\"}", At(minutes(10))));
  CHECK_FALSE(p.Scalar("0/0", At(minutes(10))));
  // Before the data begins there is nothing to look back to.
  CHECK_FALSE(p.Scalar("sluice_test_value{case=\"steady\"}", BackfillStart() - minutes(10)));
}

TEST_CASE("a matrix or several series or bad PromQL are errors naming the query", "[analysis][prometheus]") {
  REQUIRE_PROMETHEUS();
  Provider p(Options(SharedPrometheus().address()));
  std::string address = SharedPrometheus().address();

  auto [matrix, matrix_retry] = p.ScalarError("sluice_test_value{case=\"steady\"}[1m]", At(minutes(10)));
  CHECK_THAT(matrix, Contains("Prometheus at " + address + ": query \"sluice_test_value{case=\"steady\"}[1m]\""));
  CHECK_THAT(matrix, Contains("range vector (matrix) where a single number is expected"));
  CHECK_FALSE(matrix_retry);

  auto [pair, pair_retry] = p.ScalarError("sluice_test_value{case=\"pair\"}", At(minutes(10)));
  CHECK_THAT(pair, Contains("returned 2 series"));
  CHECK_THAT(pair, Contains("\"i\":\"1\""));
  CHECK_FALSE(pair_retry);

  auto [bad, bad_retry] = p.ScalarError("sum(rate(http_requests_total[1m]", At(minutes(10)));
  CHECK_THAT(bad, Contains("query \"sum(rate(http_requests_total[1m]\": bad_data:"));
  CHECK_THAT(bad, Contains("parse error"));
  CHECK_FALSE(bad_retry);
}

TEST_CASE("range queries return the samples of one series", "[analysis][prometheus]") {
  REQUIRE_PROMETHEUS();
  Provider p(Options(SharedPrometheus().address()));
  auto samples = Await(p.io, p.provider->QueryRange("sluice_test_step{app=\"shop\"}", At(minutes(9)), At(minutes(11)),
                                                    std::chrono::milliseconds(30000)));
  REQUIRE(samples.size() == 5);
  CHECK(samples[0].value == 99.5);
  CHECK(samples[1].value == 99.5);
  CHECK(samples[2].value == 80);  // the drop at minute 10
  CHECK(samples[2].time == At(minutes(10)));
  CHECK(Await(p.io, p.provider->QueryRange("nothing_here", At(minutes(9)), At(minutes(11)),
                                           std::chrono::milliseconds(30000)))
            .empty());
  try {
    Await(p.io, p.provider->QueryRange("sluice_test_value{case=\"pair\"}", At(minutes(9)), At(minutes(11)),
                                       std::chrono::milliseconds(30000)));
    FAIL("two series must be refused");
  } catch (const MetricError& e) {
    CHECK_THAT(e.what(), Contains("returned 2 series"));
  }
}

TEST_CASE("an unreachable Prometheus is a retryable error naming the query", "[analysis][prometheus]") {
  Provider p(Options("http://127.0.0.1:" + std::to_string(FreeLoopbackPort())));
  auto [message, retryable] = p.ScalarError("up", BackfillStart());
  CHECK_THAT(message, Contains("query \"up\""));
  CHECK_THAT(message, Contains("cannot connect"));
  CHECK(retryable);
}

TEST_CASE("a hanging or garbled or oversized answer ends as an error within the deadline", "[analysis][prometheus]") {
  std::string mode;
  net::HttpServer server({}, [&mode](const net::HttpRequest&) {
    net::HttpResponse r;
    if (mode == "hang") std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    if (mode == "garbled") r.body = "{\"status\":\"success\",\"data\":{\"resultType\":";
    if (mode == "huge") r.body = std::string(3u << 20, 'x');
    return r;
  });
  server.Start();
  PrometheusOptions o = Options("http://127.0.0.1:" + std::to_string(server.port()));
  o.timeout = std::chrono::milliseconds(400);
  o.max_response_bytes = 1u << 20;
  Provider p(o);

  mode = "hang";
  auto started = std::chrono::steady_clock::now();
  auto [hang, hang_retry] = p.ScalarError("up", BackfillStart());
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::milliseconds(1200));
  CHECK_THAT(hang, Contains("no answer within 400 ms"));
  CHECK(hang_retry);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // let the server finish that request

  mode = "garbled";
  auto [garbled, garbled_retry] = p.ScalarError("up", BackfillStart());
  CHECK_THAT(garbled, Contains("HTTP 200 with a body that is not Prometheus API JSON"));
  CHECK_FALSE(garbled_retry);

  mode = "huge";
  auto [huge, huge_retry] = p.ScalarError("up", BackfillStart());
  CHECK_THAT(huge, Contains("larger than the limit of 1048576 bytes"));
  CHECK_FALSE(huge_retry);
  server.Stop();
}

TEST_CASE("custom headers and a bearer token from a Secret reach the server", "[analysis][prometheus]") {
  std::map<std::string, std::string> seen;
  std::string target;
  net::HttpServer server({}, [&](const net::HttpRequest& req) {
    seen = req.headers;
    target = req.target;
    net::HttpResponse r;
    r.body = R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"7"]}]}})";
    return r;
  });
  server.Start();
  json provider = {{"type", "prometheus"},
                   {"address", "http://127.0.0.1:" + std::to_string(server.port())},
                   {"headers", {{"X-Scope-OrgID", "tenant-a"}}}};
  json secret = {{"data", {{"token", core::Base64Encode("tok-123")}}}};
  PrometheusOptions o = PrometheusOptionsFromSpec(provider, &secret, "", "MetricTemplate shop/x");
  Provider p(o);
  CHECK(p.Scalar("sum(up{job=\"a b\"})", BackfillStart() + std::chrono::milliseconds(1500)) == 7);
  CHECK(seen["x-scope-orgid"] == "tenant-a");
  CHECK(seen["authorization"] == "Bearer tok-123");
  CHECK(target == "/api/v1/query?query=sum%28up%7Bjob%3D%22a%20b%22%7D%29&time=1767225601.500&timeout=10.000");
  server.Stop();
}

TEST_CASE("provider options from a MetricTemplate are validated with the field named", "[analysis][prometheus]") {
  json secret = {{"data", {{"token", core::Base64Encode("t")}, {"username", core::Base64Encode("u")}}}};
  CHECK_THROWS_WITH(PrometheusOptionsFromSpec(json{{"type", "datadog"}}, nullptr, "http://p:9090", "MetricTemplate a/b"),
                    Contains("MetricTemplate a/b: spec.provider.type \"datadog\" is not supported"));
  CHECK_THROWS_WITH(PrometheusOptionsFromSpec(json{{"type", "prometheus"}}, nullptr, "", "MetricTemplate a/b"),
                    Contains("no Prometheus address"));
  CHECK_THROWS_WITH(PrometheusOptionsFromSpec(json{{"type", "prometheus"}, {"address", "prom:9090"}}, nullptr, "",
                                              "MetricTemplate a/b"),
                    Contains("is not an http:// or https:// URL"));
  CHECK_THROWS_WITH(PrometheusOptionsFromSpec(json{{"type", "prometheus"}, {"headers", {{"X", 1}}}}, nullptr,
                                              "http://p:9090", "MetricTemplate a/b"),
                    Contains("spec.provider.headers.X must be a string"));
  CHECK_THROWS_WITH(PrometheusOptionsFromSpec(json{{"type", "prometheus"}}, &secret, "http://p:9090", "MetricTemplate a/b"),
                    Contains("both token and username"));
  json bad = {{"data", {{"token", "%%%"}}}};
  CHECK_THROWS_WITH(PrometheusOptionsFromSpec(json{{"type", "prometheus"}}, &bad, "http://p:9090", "MetricTemplate a/b"),
                    Contains("data.token is not valid base64"));
  PrometheusOptions fallback = PrometheusOptionsFromSpec(json{{"type", "prometheus"}}, nullptr, "http://p:9090", "x");
  CHECK(fallback.address == "http://p:9090");
}

namespace {

// Prometheus behind TLS and basic auth (web config), over the same kind of backfilled data.
PromServer& SecuredPrometheus() {
  static std::unique_ptr<PromServer> server = [] {
    OpenMetricsBuilder b(BackfillStart(), seconds(10), 61);
    b.Gauge("sluice_test_value", "case=\"steady\"", [](int) { return 99.5; });
    PromOptions o;
    o.openmetrics = b.Text();
    o.tls = true;
    o.basic_auth_user = kTestUser;
    o.basic_auth_bcrypt = kTestPasswordBcrypt;
    return std::make_unique<PromServer>(o);
  }();
  return *server;
}

json BasicAuthSecret(const std::string& password, bool with_ca) {
  json data = {{"username", core::Base64Encode(kTestUser)}, {"password", core::Base64Encode(password)}};
  if (with_ca) data["ca.crt"] = core::Base64Encode(SecuredPrometheus().ca_pem());
  return {{"apiVersion", "v1"}, {"kind", "Secret"}, {"data", data}};
}

}  // namespace

TEST_CASE("basic auth and a CA from a Secret work and wrong credentials or an unknown CA are refused",
          "[analysis][prometheus][auth]") {
  if (!HavePrometheus()) SLUICE_SKIP("prometheus and promtool are not installed");
  PromServer& prom = SecuredPrometheus();
  REQUIRE(prom.ready());
  json provider = {{"type", "prometheus"}, {"address", prom.address()}};
  std::string query = "sluice_test_value{case=\"steady\"}";

  json good = BasicAuthSecret(kTestPassword, true);
  Provider ok(PrometheusOptionsFromSpec(provider, &good, "", "MetricTemplate shop/secured"));
  CHECK(ok.Scalar(query, At(minutes(5))) == 99.5);

  json wrong = BasicAuthSecret("not-the-password", true);
  Provider refused(PrometheusOptionsFromSpec(provider, &wrong, "", "MetricTemplate shop/secured"));
  auto [denied, denied_retry] = refused.ScalarError(query, At(minutes(5)));
  CHECK_THAT(denied, Contains("the credentials were refused (HTTP 401)"));
  CHECK_THAT(denied, Contains(query));
  CHECK_FALSE(denied_retry);

  json no_ca = BasicAuthSecret(kTestPassword, false);
  Provider untrusted(PrometheusOptionsFromSpec(provider, &no_ca, "", "MetricTemplate shop/secured"));
  CHECK_THAT(untrusted.ScalarError(query, At(minutes(5))).first, Contains("TLS handshake"));

  json skip = provider;
  skip["insecureSkipVerify"] = true;
  Provider insecure(PrometheusOptionsFromSpec(skip, &no_ca, "", "MetricTemplate shop/secured"));
  CHECK(insecure.Scalar(query, At(minutes(5))) == 99.5);
}
