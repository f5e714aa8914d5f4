#include "analysis/prometheus.h"

#include <nlohmann/json.hpp>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "core/base64.h"
#include "core/utf8.h"
#include "net/http_client.h"

namespace sluice::analysis {
namespace {

namespace asio = boost::asio;
using nlohmann::json;

constexpr size_t kSnippet = 300;

std::string Quoted(const std::string& query) { return "query \"" + query + "\""; }

std::string Snippet(const std::string& body) {
  std::string s = body.substr(0, kSnippet);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  // The snippet ends up in the Canary's status and in Events, both JSON: bytes that are not
  // UTF-8 (a binary body, or a character cut at the limit) become U+FFFD there, not an
  // exception when the status is written.
  s = core::ValidUtf8(s);
  return body.size() > kSnippet ? s + "..." : s;
}

std::string UrlEncode(const std::string& text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// Unix seconds with milliseconds, as the API takes them.
std::string UnixSeconds(core::TimePoint t) {
  long long ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  char buf[48];
  std::snprintf(buf, sizeof buf, "%lld.%03lld", ms / 1000, ms % 1000);
  return buf;
}

std::string SecondsText(std::chrono::milliseconds d) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

// Errors Prometheus reports for a query that may succeed later (overload, restarts); the
// others (bad_data, execution, not_found) are the query's own fault.
bool RetryableErrorType(const std::string& type, int http_status) {
  if (type == "timeout" || type == "canceled" || type == "internal" || type == "unavailable") return true;
  if (!type.empty()) return false;
  return http_status >= 500 || http_status == 429;
}

// A string member of an answer, "" when absent or not a string: a broken server's JSON is
// reported by the checks that follow, never by a type error.
std::string StringField(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

const json& Data(const std::string& query, int http_status, const std::string& body, json& holder) {
  holder = json::parse(body, nullptr, false);
  if (holder.is_discarded() || !holder.is_object()) {
    std::string why = http_status == 401 || http_status == 403
                          ? "the credentials were refused (HTTP " + std::to_string(http_status) + ")"
                          : "HTTP " + std::to_string(http_status) + " with a body that is not Prometheus API JSON";
    throw MetricError(Quoted(query) + ": " + why + ": " + Snippet(body), http_status >= 500 || http_status == 429);
  }
  if (StringField(holder, "status") != "success") {
    std::string type = StringField(holder, "errorType");
    std::string error = StringField(holder, "error");
    if (type.empty() && error.empty()) error = "HTTP " + std::to_string(http_status) + ": " + Snippet(body);
    throw MetricError(Quoted(query) + ": " + (type.empty() ? "" : type + ": ") + error,
                      RetryableErrorType(type, http_status));
  }
  if (!holder.contains("data") || !holder["data"].is_object() || !holder["data"].contains("result"))
    throw MetricError(Quoted(query) + ": the answer has no data.result: " + Snippet(body), false);
  return holder["data"];
}

// One [time, "value"] pair; NaN and the infinities arrive as strings like "NaN", "+Inf".
Sample DecodePoint(const std::string& query, const json& point) {
  if (!point.is_array() || point.size() != 2 || !point[0].is_number() || !point[1].is_string())
    throw MetricError(Quoted(query) + ": a sample is not [time, \"value\"]: " + Snippet(point.dump()), false);
  const std::string text = point[1].get<std::string>();
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size())
    throw MetricError(Quoted(query) + ": the sample value \"" + text + "\" is not a number", false);
  // Unix seconds. A TimePoint holds about +-292 years around 1970 in nanoseconds; a time
  // beyond that would overflow it, and no Prometheus answers with one.
  double seconds = point[0].get<double>();
  if (!(std::fabs(seconds) < 9e9))
    throw MetricError(Quoted(query) + ": the sample time " + point[0].dump() + " is not a Unix time", false);
  auto ms = static_cast<long long>(std::llround(seconds * 1000.0));
  return Sample{core::TimePoint{} + std::chrono::milliseconds(ms), value};
}

std::string SeriesList(const json& result) {
  std::string out;
  for (size_t i = 0; i < result.size() && i < 3; ++i) {
    const json& series = result[i];
    out += (i ? ", " : "") + (series.is_object() && series.contains("metric") ? series["metric"].dump() : "{}");
  }
  return result.size() > 3 ? out + ", ..." : out;
}

std::string TooManySeries(const std::string& query, const json& result) {
  return Quoted(query) + ": returned " + std::to_string(result.size()) + " series (" + SeriesList(result) +
         ") where one is expected; aggregate them, e.g. with sum()";
}

class PrometheusProvider final : public MetricProvider {
 public:
  PrometheusProvider(asio::any_io_executor ex, const PrometheusOptions& options) : options_(options) {
    net::ClientConfig config;
    config.server = options.address;
    config.tls.ca_data = options.ca_pem;
    config.tls.insecure_skip_verify = options.insecure_skip_verify;
    config.tls.source = "Prometheus " + options.address;
    config.credentials = net::StaticCredentials(
        !options.bearer_token.empty() ? net::BearerAuthorization(options.bearer_token)
        : !options.username.empty()   ? net::BasicAuthorization(options.username, options.password)
                                      : "");
    net::ClientOptions to;
    to.connect_timeout = options.timeout;
    to.max_response_bytes = options.max_response_bytes;
    try {
      transport_ = net::MakeHttpClient(std::move(ex), std::move(config), to);
    } catch (const std::exception& e) {
      throw MetricError("Prometheus at " + options.address + ": " + e.what(), false);
    }
    for (const auto& [k, v] : options.headers) headers_.emplace_back(k, v);
  }

  asio::awaitable<std::optional<double>> QueryScalar(std::string query, core::TimePoint at) override {
    std::string target = "/api/v1/query?query=" + UrlEncode(query) + "&time=" + UnixSeconds(at) + "&timeout=" +
                         SecondsText(options_.timeout);
    auto call = Call(query, target);
    net::ClientResponse res = co_await std::move(call);
    try {
      co_return DecodeInstantResponse(query, res.status, res.body);
    } catch (const MetricError& e) {
      throw MetricError(Where() + e.what(), e.retryable());
    }
  }

  asio::awaitable<std::vector<Sample>> QueryRange(std::string query, core::TimePoint start, core::TimePoint end,
                                                  std::chrono::milliseconds step) override {
    if (step.count() <= 0) throw MetricError(Where() + Quoted(query) + ": the range step must be positive", false);
    std::string target = "/api/v1/query_range?query=" + UrlEncode(query) + "&start=" + UnixSeconds(start) +
                         "&end=" + UnixSeconds(end) + "&step=" + SecondsText(step) +
                         "&timeout=" + SecondsText(options_.timeout);
    auto call = Call(query, target);
    net::ClientResponse res = co_await std::move(call);
    try {
      co_return DecodeRangeResponse(query, res.status, res.body);
    } catch (const MetricError& e) {
      throw MetricError(Where() + e.what(), e.retryable());
    }
  }

 private:
  std::string Where() const { return "Prometheus at " + options_.address + ": "; }

  asio::awaitable<net::ClientResponse> Call(const std::string& query, std::string target) {
    net::ClientRequest req;
    req.method = "GET";
    req.target = std::move(target);
    req.headers = headers_;
    std::chrono::milliseconds timeout = options_.timeout;
    try {
      auto send = transport_->Send(req, timeout);
      co_return co_await std::move(send);
    } catch (const core::ApiError& e) {
      // An answer too big to hold will be as big next time; the network may come back.
      bool retryable = e.reason() != "ResponseTooLarge";
      throw MetricError(Where() + Quoted(query) + ": " + e.what(), retryable);
    }
  }

  PrometheusOptions options_;
  std::shared_ptr<net::HttpClient> transport_;
  std::vector<std::pair<std::string, std::string>> headers_;
};

std::string SecretValue(const json& secret, const std::string& key, const std::string& where) {
  const json* data = secret.contains("data") && secret["data"].is_object() ? &secret["data"] : nullptr;
  if (data && data->contains(key) && (*data)[key].is_string()) {
    auto decoded = core::Base64Decode((*data)[key].get<std::string>());
    if (!decoded) throw std::invalid_argument(where + ": data." + key + " is not valid base64");
    return *decoded;
  }
  // stringData is write-only on a real server, but objects built by hand may carry it.
  if (secret.contains("stringData") && secret["stringData"].is_object() && secret["stringData"].contains(key) &&
      secret["stringData"][key].is_string())
    return secret["stringData"][key].get<std::string>();
  return "";
}

}  // namespace

std::string PrometheusOptions::CacheKey() const {
  json key = {{"address", address}, {"token", bearer_token}, {"username", username},   {"password", password},
              {"headers", headers}, {"ca", ca_pem},          {"insecure", insecure_skip_verify},
              {"timeout", timeout.count()}, {"max", max_response_bytes}};
  return key.dump();
}

std::shared_ptr<MetricProvider> MakePrometheusProvider(asio::any_io_executor executor,
                                                       const PrometheusOptions& options) {
  return std::make_shared<PrometheusProvider>(std::move(executor), options);
}

PrometheusOptions PrometheusOptionsFromSpec(const json& provider, const json* secret,
                                            const std::string& fallback_address, const std::string& where) {
  if (!provider.is_object()) throw std::invalid_argument(where + ": spec.provider must be an object");
  std::string type = provider.value("type", "");
  if (type != "prometheus")
    throw std::invalid_argument(where + ": spec.provider.type \"" + type + "\" is not supported (expected prometheus)");
  PrometheusOptions o;
  if (provider.contains("address")) {
    if (!provider["address"].is_string()) throw std::invalid_argument(where + ": spec.provider.address must be a string");
    o.address = provider["address"].get<std::string>();
  }
  if (provider.contains("insecureSkipVerify")) {
    if (!provider["insecureSkipVerify"].is_boolean())
      throw std::invalid_argument(where + ": spec.provider.insecureSkipVerify must be true or false");
    o.insecure_skip_verify = provider["insecureSkipVerify"].get<bool>();
  }
  if (provider.contains("headers")) {
    if (!provider["headers"].is_object())
      throw std::invalid_argument(where + ": spec.provider.headers must be a map of header name to value");
    for (const auto& [k, v] : provider["headers"].items()) {
      if (!v.is_string()) throw std::invalid_argument(where + ": spec.provider.headers." + k + " must be a string");
      o.headers[k] = v.get<std::string>();
    }
  }
  if (secret) {
    std::string secret_where = where + " secretRef";
    if (auto address = SecretValue(*secret, "address", secret_where); !address.empty()) o.address = address;
    o.bearer_token = SecretValue(*secret, "token", secret_where);
    o.username = SecretValue(*secret, "username", secret_where);
    o.password = SecretValue(*secret, "password", secret_where);
    o.ca_pem = SecretValue(*secret, "ca.crt", secret_where);
    if (!o.bearer_token.empty() && !o.username.empty())
      throw std::invalid_argument(secret_where + ": has both token and username; use one way to authenticate");
  }
  if (o.address.empty()) o.address = fallback_address;
  if (o.address.empty())
    throw std::invalid_argument(where + ": no Prometheus address (set spec.provider.address or start the "
                                        "controller with --prometheus-address)");
  if (!o.address.starts_with("http://") && !o.address.starts_with("https://"))
    throw std::invalid_argument(where + ": address \"" + o.address + "\" is not an http:// or https:// URL");
  return o;
}

std::optional<double> DecodeInstantResponse(const std::string& query, int http_status, const std::string& body) {
  json holder;
  const json& data = Data(query, http_status, body, holder);
  std::string type = StringField(data, "resultType");
  const json& result = data["result"];
  double value = 0;
  if (type == "vector") {
    if (!result.is_array()) throw MetricError(Quoted(query) + ": data.result of a vector is not a list", false);
    if (result.empty()) return std::nullopt;
    if (result.size() > 1) throw MetricError(TooManySeries(query, result), false);
    if (!result[0].is_object() || !result[0].contains("value"))
      throw MetricError(Quoted(query) + ": a vector element has no value", false);
    value = DecodePoint(query, result[0]["value"]).value;
  } else if (type == "scalar") {
    value = DecodePoint(query, result).value;
  } else if (type == "matrix") {
    throw MetricError(Quoted(query) +
                          ": returned a range vector (matrix) where a single number is expected; drop the [range] "
                          "selector or wrap it in a function such as rate()",
                      false);
  } else {
    throw MetricError(Quoted(query) + ": returned a " + (type.empty() ? "result without resultType" : type) +
                          " where a single number is expected",
                      false);
  }
  if (std::isnan(value)) return std::nullopt;
  return value;
}

std::vector<Sample> DecodeRangeResponse(const std::string& query, int http_status, const std::string& body) {
  json holder;
  const json& data = Data(query, http_status, body, holder);
  std::string type = StringField(data, "resultType");
  const json& result = data["result"];
  if (type != "matrix" || !result.is_array())
    throw MetricError(Quoted(query) + ": a range query returned " + (type.empty() ? "no resultType" : type) +
                          " instead of a matrix",
                      false);
  if (result.empty()) return {};
  if (result.size() > 1) throw MetricError(TooManySeries(query, result), false);
  if (!result[0].is_object() || !result[0].contains("values") || !result[0]["values"].is_array())
    throw MetricError(Quoted(query) + ": a matrix series has no values", false);
  std::vector<Sample> samples;
  samples.reserve(result[0]["values"].size());
  for (const auto& point : result[0]["values"]) samples.push_back(DecodePoint(query, point));
  return samples;
}

ProviderHandle PrometheusHandle(const PrometheusOptions& options) {
  return {options.CacheKey(), [options](asio::any_io_executor executor) {
            return MakePrometheusProvider(std::move(executor), options);
          }};
}

ProviderHandle PrometheusProviderFactory(const ProviderRequest& request) {
  PrometheusOptions options =
      PrometheusOptionsFromSpec(request.spec, request.secret, request.fallback_address, request.where);
  options.timeout = request.timeout;
  return PrometheusHandle(options);
}

}  // namespace sluice::analysis
