#include "analysis/webhooks.h"

#include "core/duration.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <stdexcept>

#include "core/clock.h"

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
    parts = net::SplitUrl(url);
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

namespace {

const std::vector<std::string> kWebhookTypes = {"confirm-rollout", "pre-rollout", "rollout",
                                                "confirm-traffic-increase", "confirm-promotion", "post-rollout",
                                                "rollback", "event"};

WebhookSpec ParseWebhook(const json& entry, size_t index, const WebhookDefaults& defaults) {
  WebhookSpec hook;
  std::string field = "spec.analysis.webhooks[" + std::to_string(index) + "]";
  hook.timeout = defaults.timeout;
  hook.retries = defaults.retries;
  if (!entry.is_object()) {
    hook.error = field + " must be an object";
    return hook;
  }
  hook.name = entry.value("name", "");
  if (hook.name.empty()) hook.name = "#" + std::to_string(index);
  hook.type = entry.contains("type") && entry["type"].is_string() ? entry["type"].get<std::string>() : "rollout";
  if (std::find(kWebhookTypes.begin(), kWebhookTypes.end(), hook.type) == kWebhookTypes.end()) {
    hook.error = field + ".type \"" + hook.type + "\" is not one of confirm-rollout, pre-rollout, rollout, "
                 "confirm-traffic-increase, confirm-promotion, post-rollout, rollback, event";
    return hook;
  }
  hook.url = entry.contains("url") && entry["url"].is_string() ? entry["url"].get<std::string>() : "";
  try {
    net::SplitUrl(hook.url);
  } catch (const std::exception& e) {
    hook.error = field + ".url " + e.what();
    return hook;
  }
  if (entry.contains("timeout")) {
    auto t = entry["timeout"].is_string() ? core::ParseDuration(entry["timeout"].get<std::string>()) : std::nullopt;
    if (!t || t->count() <= 0) {
      hook.error = field + ".timeout " + entry["timeout"].dump() + " is not a positive duration such as 10s or 500ms";
      return hook;
    }
    hook.timeout = *t;
  }
  if (entry.contains("retries")) {
    if (!entry["retries"].is_number_integer() || entry["retries"].get<int>() < 0 || entry["retries"].get<int>() > 10) {
      hook.error = field + ".retries " + entry["retries"].dump() + " is not an integer from 0 to 10";
      return hook;
    }
    hook.retries = entry["retries"].get<int>();
  }
  if (entry.contains("metadata")) {
    if (!entry["metadata"].is_object()) {
      hook.error = field + ".metadata must be an object of strings";
      return hook;
    }
    hook.metadata = entry["metadata"];
  }
  return hook;
}

}  // namespace

std::vector<WebhookSpec> ParseWebhooks(const json& canary, const WebhookDefaults& defaults) {
  std::vector<WebhookSpec> out;
  if (!canary.is_object() || !canary.contains("spec") || !canary["spec"].is_object()) return out;
  const json& spec = canary["spec"];
  if (!spec.contains("analysis") || !spec["analysis"].is_object()) return out;
  const json& analysis = spec["analysis"];
  if (!analysis.contains("webhooks")) return out;
  const json& hooks = analysis["webhooks"];
  if (!hooks.is_array()) {
    WebhookSpec bad;
    bad.name = "webhooks";
    bad.type = "rollout";
    bad.error = "spec.analysis.webhooks must be a list";
    out.push_back(bad);
    return out;
  }
  for (size_t i = 0; i < hooks.size(); i++) out.push_back(ParseWebhook(hooks[i], i, defaults));
  return out;
}

json WebhookPayload(const json& canary, const WebhookSpec& hook, const api::CanaryStatus& status,
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

asio::awaitable<PostResult> WebhookGates::Call(const WebhookSpec& hook, const json& payload) {
  RetryPolicy retry{hook.retries, defaults_.backoff_base, defaults_.backoff_max};
  auto post = poster_.Post(hook.url, payload, hook.timeout, retry);
  PostResult r = co_await std::move(post);
  spdlog::debug("webhook {} ({}) {} after {} attempt(s)", hook.name, hook.type, r.Describe(), r.attempts);
  co_return r;
}

asio::awaitable<std::optional<std::string>> WebhookGates::FirstFailure(const json& canary,
                                                                       const std::vector<WebhookSpec>& hooks,
                                                                       const std::string& type,
                                                                       const api::CanaryStatus& status) {
  for (const auto& hook : hooks) {
    if (hook.type != type) continue;
    if (!hook.error.empty()) co_return type + " webhook " + hook.name + ": " + hook.error;
    json payload = WebhookPayload(canary, hook, status);
    auto call = Call(hook, payload);
    PostResult r = co_await std::move(call);
    if (!r.Ok()) co_return type + " webhook " + hook.name + " (" + hook.url + ") " + r.Describe();
  }
  co_return std::nullopt;
}

asio::awaitable<bool> WebhookGates::AnyOk(const json& canary, const std::vector<WebhookSpec>& hooks,
                                          const std::string& type, const api::CanaryStatus& status) {
  for (const auto& hook : hooks) {
    if (hook.type != type || !hook.error.empty()) continue;
    json payload = WebhookPayload(canary, hook, status);
    auto call = Call(hook, payload);
    PostResult r = co_await std::move(call);
    if (r.Ok()) co_return true;
  }
  co_return false;
}

asio::awaitable<void> WebhookGates::Evaluate(const json& canary, const analysis::AnalysisPlan& plan,
                                             const api::CanaryStatus& status, const analysis::ObjectLookup&,
                                             analysis::AnalysisOutcome& outcome) {
  auto hooks = ParseWebhooks(canary, defaults_);
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

asio::awaitable<void> WebhookGates::Fire(const json& canary, const std::string& type,
                                         const api::CanaryStatus& status, const analysis::ObjectLookup&) {
  if (type == "event") {
    const api::Condition* ready = status.FindCondition("Ready");
    std::string reason = ready ? ready->reason : api::ToString(status.phase);
    std::string message = ready ? ready->message : "";
    auto fire = FireEvent(canary, status, reason, message);
    co_await std::move(fire);
    co_return;
  }
  auto hooks = ParseWebhooks(canary, defaults_);
  std::string who = Who(canary);
  for (const auto& hook : hooks) {
    if (hook.type != type) continue;
    if (!hook.error.empty()) {
      spdlog::warn("canary {}: {} webhook {} not called: {}", who, type, hook.name, hook.error);
      continue;
    }
    json payload = WebhookPayload(canary, hook, status);
    auto call = Call(hook, payload);
    PostResult r = co_await std::move(call);
    if (!r.Ok()) spdlog::warn("canary {}: {} webhook {} ({}) {}", who, type, hook.name, hook.url, r.Describe());
  }
}

asio::awaitable<void> WebhookGates::FireEvent(const json& canary, const api::CanaryStatus& status,
                                              const std::string& event_type, const std::string& message) {
  auto hooks = ParseWebhooks(canary, defaults_);
  std::string who = Who(canary);
  for (const auto& hook : hooks) {
    if (hook.type != "event" || !hook.error.empty()) continue;
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
