// The Prometheus metric provider: instant and range queries on the HTTP API
// (/api/v1/query, /api/v1/query_range) over net's HTTP client, with bearer or basic auth,
// custom headers, TLS (CA or insecureSkipVerify) and a deadline per query.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "analysis/metric_provider.h"

namespace sluice::analysis {

struct PrometheusOptions {
  std::string address;  // http(s)://host:port, optionally with a path prefix
  std::string bearer_token;
  std::string username;  // basic auth when set
  std::string password;
  std::map<std::string, std::string> headers;
  std::string ca_pem;  // "" = the system trust store
  bool insecure_skip_verify = false;
  std::chrono::milliseconds timeout{10000};  // per query, connecting included
  size_t max_response_bytes = 16u << 20;     // a bigger answer is an error, not a memory spike

  // Equal keys share one provider (and its connections).
  std::string CacheKey() const;
};

// Throws MetricError when the options cannot make a client (bad address, unusable CA).
std::shared_ptr<MetricProvider> MakePrometheusProvider(boost::asio::any_io_executor executor,
                                                       const PrometheusOptions& options);

// Options from a MetricTemplate's spec.provider and the Secret it names (nullptr: none).
// Secret keys: `token` (bearer), `username` + `password` (basic), `ca.crt` (a CA bundle),
// `address` (overrides spec.provider.address). `fallback_address` is used when neither
// gives one. `where` names the object in errors (e.g. "MetricTemplate shop/latency").
// Throws std::invalid_argument naming the field and what is expected.
PrometheusOptions PrometheusOptionsFromSpec(const nlohmann::json& provider, const nlohmann::json* secret,
                                            const std::string& fallback_address, const std::string& where);

// The "prometheus" entry of the metric provider registry: options from the request, one
// provider per distinct address and credentials.
ProviderHandle PrometheusProviderFactory(const ProviderRequest& request);
// The handle for options already in hand (builtin and inline queries).
ProviderHandle PrometheusHandle(const PrometheusOptions& options);

// Decoding of API answers, apart from the network for unit tests. `query` goes into error
// messages. Throws MetricError.
std::optional<double> DecodeInstantResponse(const std::string& query, int http_status, const std::string& body);
std::vector<Sample> DecodeRangeResponse(const std::string& query, int http_status, const std::string& body);

}  // namespace sluice::analysis
