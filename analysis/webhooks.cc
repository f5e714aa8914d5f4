#include "analysis/webhooks.h"


#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <stdexcept>

#include "core/clock.h"
#include "core/url.h"

namespace sluice::analysis {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

constexpr size_t kMessageBodyChars = 200;

std::string Trimmed(const std::string& body) {
  std::string out = body.substr(0, kMessageBodyChars);
  std::replace(out.begin(), out.end(), '\n', ' ');
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (body.size() > kMessageBodyChars) out += "...";
  return out;
}

std::string Who(const json& canary) {
  if (!canary.is_object() || !canary.contains("metadata") || !canary["metadata"].is_object()) return "?/?";
  const json& meta = canary["metadata"];
  return meta.value("namespace", "") + "/" + meta.value("name", "");
}

bool Retryable(const PostResult& r) { return r.status >= 500 || (r.status == 0 && !r.error.empty()); }

std::chrono::milliseconds Backoff(const RetryPolicy& p, int attempt) {
  std::chrono::milliseconds d = p.backoff_base * (1L << std::min(attempt, 16));
  return std::min(d, p.backoff_max);
}

}  // namespace

std::string PostResult::Describe() const {
  if (status == 0) return "failed: " + error;
  std::string out = "answered " + std::to_string(status);
  std::string b = Trimmed(body);
  if (!b.empty()) out += ": " + b;
  return out;
}

JsonPoster::JsonPoster(net::ClientOptions transport) : options_(std::move(transport)) {}

asio::awaitable<PostResult> JsonPoster::Post(const std::string& url, const json& body,
                                             std::chrono::milliseconds timeout, const RetryPolicy& retry) {
  PostResult result;
  std::pair<std::string, std::string> parts;
  try {
    parts = core::SplitUrl(url);
  } catch (const std::exception& e) {
    result.error = e.what();
    co_return result;
  }
  auto executor = co_await asio::this_coro::executor;
  auto& transport = transports_[parts.first];
  if (!transport) {
    net::ClientConfig config;
    config.server = parts.first;
    try {
      transport = net::MakeHttpClient(executor, std::move(config), options_);
    } catch (const std::exception& e) {
      transports_.erase(parts.first);
      result.error = e.what();
      co_return result;
    }
  }
  auto keep = transport;  // the map may rehash while this call waits
  net::ClientRequest request;
  request.method = "POST";
  request.target = parts.second;
  request.body = body.dump();
  request.content_type = "application/json";
  for (int attempt = 0;; attempt++) {
    result.attempts = attempt + 1;
    bool timed_out = false;
    try {
      auto send = keep->Send(request, timeout);
      net::ClientResponse res = co_await std::move(send);
      result.status = res.status;
      result.body = res.body;
      result.error.clear();
    } catch (const core::ApiError& e) {
      result.status = 0;
      result.body.clear();
      result.error = e.what();
      // The receiver had its whole timeout already; trying again would multiply the wait.
      timed_out = e.reason() == "Timeout";
    }
    if (!Retryable(result) || timed_out || attempt >= retry.retries) co_return result;
    asio::steady_timer timer(executor, Backoff(retry, attempt));
    co_await timer.async_wait(asio::use_awaitable);
  }
}

json WebhookPayload(const json& canary, const api::WebhookSpec& hook, const api::CanaryStatus& status,
                    const std::string& event_type, const std::string& event_message) {
  const json empty = json::object();
  const json& meta =
      canary.is_object() && canary.contains("metadata") && canary["metadata"].is_object() ? canary["metadata"] : empty;
  json payload = {
      {"name", meta.value("name", "")},
      {"namespace", meta.value("namespace", "")},
      {"phase", api::ToString(status.phase)},
      {"checksum", status.last_applied_spec},
      {"type", hook.type},
      {"webhook", hook.name},
      {"canaryWeight", status.canary_weight},
      {"failedChecks", status.failed_checks},
      {"iterations", status.iterations},
      {"metadata", hook.metadata},
  };
  if (hook.type == "event") {
    payload["eventType"] = event_type;
    payload["eventMessage"] = event_message;
    payload["timestamp"] = core::FormatTime(core::SystemClock::Instance().Now());
  }
  return payload;
}

WebhookGates::WebhookGates(WebhookDefaults defaults) : defaults_(defaults) {}

asio::awaitable<PostResult> WebhookGates::Call(const api::WebhookSpec& hook, const json& payload) {
  RetryPolicy retry{hook.retries.value_or(defaults_.retries), defaults_.backoff_base, defaults_.backoff_max};
  auto post = poster_.Post(hook.url, payload, hook.timeout.value_or(defaults_.timeout), retry);
  PostResult r = co_await std::move(post);
  spdlog::debug("webhook {} ({}) {} after {} attempt(s)", hook.name, hook.type, r.Describe(), r.attempts);
  co_return r;
}

asio::awaitable<std::optional<std::string>> WebhookGates::FirstFailure(const json& canary,
                                                                       const std::vector<api::WebhookSpec>& hooks,
                                                                       const std::string& type,
                                                                       const api::CanaryStatus& status) {
  for (const auto& hook : hooks) {
    if (hook.type != type) continue;
    json payload = WebhookPayload(canary, hook, status);
    auto call = Call(hook, payload);
    PostResult r = co_await std::move(call);
    if (!r.Ok()) co_return type + " webhook " + hook.name + " (" + hook.url + ") " + r.Describe();
  }
  co_return std::nullopt;
}

asio::awaitable<bool> WebhookGates::AnyOk(const json& canary, const std::vector<api::WebhookSpec>& hooks,
                                          const std::string& type, const api::CanaryStatus& status) {
  for (const auto& hook : hooks) {
    if (hook.type != type) continue;
    json payload = WebhookPayload(canary, hook, status);
    auto call = Call(hook, payload);
    PostResult r = co_await std::move(call);
    if (r.Ok()) co_return true;
  }
  co_return false;
}

asio::awaitable<void> WebhookGates::Evaluate(const json& canary, const api::CanarySpec& spec,
                                             const analysis::AnalysisPlan& plan, const api::CanaryStatus& status,
                                             const analysis::ObjectLookup&, analysis::AnalysisOutcome& outcome) {
  const auto& hooks = spec.analysis.webhooks;
  if (hooks.empty()) co_return;
  std::string who = Who(canary);
  // A closed gate is normal (it waits for a person); the reason goes to the debug log only.
  auto gate = [&](const std::string& type, bool& open) -> asio::awaitable<void> {
    auto run = FirstFailure(canary, hooks, type, status);
    auto failure = co_await std::move(run);
    open = !failure;
    if (failure) spdlog::debug("canary {}: {} gate closed: {}", who, type, *failure);
  };
  if (plan.confirm_rollout) {
    const std::string type = "confirm-rollout";
    auto g = gate(type, outcome.confirm_rollout_open);
    co_await std::move(g);
  }
  if (plan.rollback_gate) {
    const std::string type = "rollback";
    auto any = AnyOk(canary, hooks, type, status);
    outcome.rollback_requested = co_await std::move(any);
    // Rolling back now: checks of this step would change nothing.
    if (outcome.rollback_requested) co_return;
  }
  if (plan.pre_rollout) {
    const std::string type = "pre-rollout";
    auto run = FirstFailure(canary, hooks, type, status);
    outcome.pre_rollout_failure = co_await std::move(run);
    if (outcome.pre_rollout_failure) co_return;
  }
  if (plan.checks) {
    const std::string type = "rollout";
    auto run = FirstFailure(canary, hooks, type, status);
    outcome.check_failure = co_await std::move(run);
    if (outcome.check_failure) co_return;
  }
  if (plan.confirm_traffic_increase) {
    const std::string type = "confirm-traffic-increase";
    auto g = gate(type, outcome.confirm_traffic_increase_open);
    co_await std::move(g);
  }
  if (plan.confirm_promotion) {
    const std::string type = "confirm-promotion";
    auto g = gate(type, outcome.confirm_promotion_open);
    co_await std::move(g);
  }
}

asio::awaitable<void> WebhookGates::Fire(const json& canary, const api::CanarySpec& spec, const std::string& type,
                                         const api::CanaryStatus& status, const analysis::ObjectLookup&) {
  if (type == "event") {
    const api::Condition* ready = status.FindCondition("Ready");
    std::string reason = ready ? ready->reason : api::ToString(status.phase);
    std::string message = ready ? ready->message : "";
    auto fire = FireEvent(canary, spec, status, reason, message);
    co_await std::move(fire);
    co_return;
  }
  std::string who = Who(canary);
  for (const auto& hook : spec.analysis.webhooks) {
    if (hook.type != type) continue;
    json payload = WebhookPayload(canary, hook, status);
    auto call = Call(hook, payload);
    PostResult r = co_await std::move(call);
    if (!r.Ok()) spdlog::warn("canary {}: {} webhook {} ({}) {}", who, type, hook.name, hook.url, r.Describe());
  }
}

asio::awaitable<void> WebhookGates::FireEvent(const json& canary, const api::CanarySpec& spec,
                                              const api::CanaryStatus& status, const std::string& event_type,
                                              const std::string& message) {
  std::string who = Who(canary);
  for (const auto& hook : spec.analysis.webhooks) {
    if (hook.type != "event") continue;
    json payload = WebhookPayload(canary, hook, status, event_type, message);
    auto call = Call(hook, payload);
    PostResult r = co_await std::move(call);
    if (!r.Ok()) spdlog::warn("canary {}: event webhook {} ({}) {}", who, hook.name, hook.url, r.Describe());
  }
}

std::shared_ptr<analysis::GateRunner> MakeWebhookGates(WebhookDefaults defaults) {
  return std::make_shared<WebhookGates>(defaults);
}

}  // namespace sluice::analysis
