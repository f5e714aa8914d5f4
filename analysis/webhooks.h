// Webhooks of a Canary (spec.analysis.webhooks): the gates that hold a rollout, the checks
// that fail a step, and the hooks fired after a rollout. Every call is a JSON POST with a
// deadline and a bounded number of retries, through one net::HttpClient per receiver
// (scheme://host:port), so the controller's event loop never waits on a slow receiver
// longer than the webhook's timeout allows. The payload is documented in docs/webhooks.md.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "analysis/runner.h"
#include "net/http_client.h"

namespace sluice::analysis {

// How a POST is retried: transport failures other than the deadline, and 5xx answers, are
// tried again after base, 2*base, ... (capped at max) until `retries` more attempts ran.
struct RetryPolicy {
  int retries = 2;
  std::chrono::milliseconds backoff_base{500};
  std::chrono::milliseconds backoff_max{5000};
};

struct PostResult {
  int status = 0;     // the HTTP status of the last answer; 0 when none came
  std::string body;   // the last answer's body (trimmed for messages by Describe)
  std::string error;  // the transport failure of the last attempt, when status is 0
  int attempts = 0;

  bool Ok() const { return status >= 200 && status < 300; }
  // "answered 503: body" or "failed: connecting to ... refused", for messages.
  std::string Describe() const;
};

// JSON POSTs to any number of receivers; one transport per origin, made on first use on the
// calling coroutine's executor. Not thread-safe: use it from one event loop, which must
// outlive it (its idle connections belong to that loop).
class JsonPoster {
 public:
  explicit JsonPoster(net::ClientOptions transport = {});
  boost::asio::awaitable<PostResult> Post(const std::string& url, const nlohmann::json& body,
                                          std::chrono::milliseconds timeout, const RetryPolicy& retry);

 private:
  net::ClientOptions options_;
  std::map<std::string, std::shared_ptr<net::HttpClient>> transports_;
};

// What a webhook without its own timeout and retries gets, and the backoff between tries.
struct WebhookDefaults {
  std::chrono::milliseconds timeout{10000};
  int retries = 2;
  std::chrono::milliseconds backoff_base{500};
  std::chrono::milliseconds backoff_max{5000};
};

// The body POSTed to `hook`. Event hooks carry event_message/event_type and a timestamp.
nlohmann::json WebhookPayload(const nlohmann::json& canary, const api::WebhookSpec& hook, const api::CanaryStatus& status,
                              const std::string& event_type = "", const std::string& event_message = "");

class WebhookGates final : public analysis::GateRunner {
 public:
  explicit WebhookGates(WebhookDefaults defaults = {});

  boost::asio::awaitable<void> Evaluate(const nlohmann::json& canary, const api::CanarySpec& spec,
                                        const analysis::AnalysisPlan& plan, const api::CanaryStatus& status,
                                        const analysis::ObjectLookup& lookup, analysis::AnalysisOutcome& outcome) override;
  // post-rollout and rollback hooks with the status; "event" hooks with the Ready
  // condition's reason and message as the event.
  boost::asio::awaitable<void> Fire(const nlohmann::json& canary, const api::CanarySpec& spec, const std::string& type,
                                    const api::CanaryStatus& status, const analysis::ObjectLookup& lookup) override;
  // Event hooks with an explicit event (for callers that have one in hand).
  boost::asio::awaitable<void> FireEvent(const nlohmann::json& canary, const api::CanarySpec& spec,
                                         const api::CanaryStatus& status, const std::string& event_type,
                                         const std::string& message);

 private:
  // Calls every hook of `type`; the first that does not answer 2xx is described in words.
  boost::asio::awaitable<std::optional<std::string>> FirstFailure(const nlohmann::json& canary,
                                                                  const std::vector<api::WebhookSpec>& hooks,
                                                                  const std::string& type,
                                                                  const api::CanaryStatus& status);
  boost::asio::awaitable<bool> AnyOk(const nlohmann::json& canary, const std::vector<api::WebhookSpec>& hooks,
                                     const std::string& type, const api::CanaryStatus& status);
  boost::asio::awaitable<PostResult> Call(const api::WebhookSpec& hook, const nlohmann::json& payload);

  WebhookDefaults defaults_;
  JsonPoster poster_;
};

std::shared_ptr<analysis::GateRunner> MakeWebhookGates(WebhookDefaults defaults = {});

}  // namespace sluice::analysis
