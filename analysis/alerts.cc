#include "analysis/alerts.h"

#include <spdlog/spdlog.h>

#include <stdexcept>

#include "api/canary_spec.h"
#include "api/spec_error.h"
#include "core/base64.h"
#include "core/clock.h"
#include "core/json_fields.h"

namespace sluice::analysis {

namespace asio = boost::asio;
using nlohmann::json;

int SeverityRank(const std::string& severity) {
  if (severity == "info") return 0;
  if (severity == "warn") return 1;
  if (severity == "error") return 2;
  return -1;
}

bool SeverityAdmits(const std::string& wanted, const std::string& alert) {
  int w = SeverityRank(wanted.empty() ? "info" : wanted);
  int a = SeverityRank(alert);
  return w >= 0 && a >= w;
}

namespace {

using core::Str;

// The state machine's alerts carry a message; a reason is derived when it has none.
std::string ReasonFor(const analysis::Alert& alert) {
  if (!alert.reason.empty()) return alert.reason;
  if (alert.severity == "error") return "RolloutFailed";
  if (alert.severity == "warn") return "Warning";
  return "Rollout";
}

// Slack attachment colours and the Teams/Discord equivalents, by severity.
std::string HexColour(const std::string& severity) {
  if (severity == "error") return "d32f2f";
  if (severity == "warn") return "f9a825";
  return "2e7d32";
}

std::string SlackColour(const std::string& severity) {
  if (severity == "error") return "danger";
  if (severity == "warn") return "warning";
  return "good";
}

json Facts(const AlertContent& c) {
  json facts = json::array();
  facts.push_back({{"name", "Canary"}, {"value", c.canary + "." + c.ns}});
  facts.push_back({{"name", "Severity"}, {"value", c.severity}});
  facts.push_back({{"name", "Reason"}, {"value", c.reason}});
  if (!c.revision.empty()) facts.push_back({{"name", "Revision"}, {"value", c.revision}});
  return facts;
}

}  // namespace

AlertContent MakeAlertContent(const json& canary, const analysis::Alert& alert, const api::AlertProviderSpec& provider) {
  AlertContent c;
  const json& meta = core::Object(canary, "metadata");
  c.canary = Str(meta, "name");
  c.ns = Str(meta, "namespace");
  c.severity = alert.severity.empty() ? "info" : alert.severity;
  c.reason = ReasonFor(alert);
  c.title = c.canary + "." + c.ns + ": " + c.reason;
  c.message = alert.message;
  c.revision = Str(core::Object(canary, "status"), "lastAppliedSpec");
  c.channel = provider.channel;
  c.username = provider.username;
  if (c.username.empty()) c.username = "sluice";
  auto now = core::SystemClock::Instance().Now();
  c.timestamp = core::FormatTime(now);
  c.epoch_seconds = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  return c;
}

// Slack incoming webhook: `text` is what notifications show; the attachment carries the
// colour bar and the fields.
json SlackPayload(const AlertContent& c) {
  json fields = json::array();
  for (const auto& f : Facts(c)) fields.push_back({{"title", f["name"]}, {"value", f["value"]}, {"short", true}});
  json payload = {
      {"username", c.username},
      {"text", c.title},
      {"attachments", json::array({{{"color", SlackColour(c.severity)},
                                    {"title", c.title},
                                    {"text", c.message},
                                    {"fallback", c.title + ": " + c.message},
                                    {"fields", fields},
                                    {"mrkdwn_in", json::array({"text"})},
                                    {"ts", c.epoch_seconds}}})},
  };
  if (!c.channel.empty()) payload["channel"] = c.channel;
  return payload;
}

// Microsoft Teams incoming webhook connector: a MessageCard.
json TeamsPayload(const AlertContent& c) {
  return {
      {"@type", "MessageCard"},
      {"@context", "https://schema.org/extensions"},
      {"themeColor", HexColour(c.severity)},
      {"summary", c.title},
      {"title", c.title},
      {"sections", json::array({{{"activityTitle", c.message}, {"facts", Facts(c)}, {"markdown", false}}})},
  };
}

// Discord webhook: `content` plus one embed whose colour is an integer.
json DiscordPayload(const AlertContent& c) {
  json fields = json::array();
  for (const auto& f : Facts(c)) fields.push_back({{"name", f["name"]}, {"value", f["value"]}, {"inline", true}});
  return {
      {"username", c.username},
      {"content", c.title},
      {"embeds", json::array({{{"title", c.title},
                               {"description", c.message},
                               {"color", std::stoi(HexColour(c.severity), nullptr, 16)},
                               {"fields", fields},
                               {"timestamp", c.timestamp}}})},
  };
}

json GenericPayload(const AlertContent& c) {
  json payload = {
      {"name", c.canary},     {"namespace", c.ns},   {"severity", c.severity},   {"reason", c.reason},
      {"message", c.message}, {"title", c.title},    {"revision", c.revision},   {"timestamp", c.timestamp},
      {"username", c.username},
  };
  if (!c.channel.empty()) payload["channel"] = c.channel;
  return payload;
}

json AlertPayload(const std::string& type, const AlertContent& c) {
  if (type == "slack") return SlackPayload(c);
  if (type == "msteams") return TeamsPayload(c);
  if (type == "discord") return DiscordPayload(c);
  if (type == "generic") return GenericPayload(c);
  throw std::invalid_argument("spec.type \"" + type + "\" is not one of slack, msteams, discord, generic");
}

AlertDispatcher::AlertDispatcher(AlertOptions options) : options_(std::move(options)) {}

asio::awaitable<std::vector<AlertFailure>> AlertDispatcher::Send(const json& canary, const analysis::Alert& alert,
                                                                 const analysis::ObjectLookup& lookup) {
  std::vector<AlertFailure> failures;
  const json& analysis = core::Object(core::Object(canary, "spec"), "analysis");
  if (!analysis.contains("alerts") || !analysis["alerts"].is_array()) co_return failures;
  const json& entries = analysis["alerts"];
  for (size_t i = 0; i < entries.size(); i++) {
    auto one = SendOne(canary, alert, entries[i], i, lookup);
    if (auto failure = co_await std::move(one)) failures.push_back(std::move(*failure));
  }
  co_return failures;
}

// The address of an AlertProvider: its spec.address, else the key `address` of its Secret.
std::optional<std::string> AlertDispatcher::Address(const api::AlertProviderSpec& spec, const std::string& ns,
                                                    const std::string& provider_id, const analysis::ObjectLookup& lookup,
                                                    std::string& why) {
  if (!spec.address.empty()) return spec.address;
  kube::ObjectPtr secret = lookup("Secret", ns, spec.secret_name);
  std::string encoded = secret ? Str(core::Object(*secret, "data"), "address") : "";
  auto decoded = core::Base64Decode(encoded);
  if (!secret || encoded.empty() || !decoded) {
    why = provider_id + ": Secret " + ns + "/" + spec.secret_name + (secret ? " has no base64 key `address`" : " not found");
    return std::nullopt;
  }
  std::string address = *decoded;
  while (!address.empty() && (address.back() == '\n' || address.back() == '\r' || address.back() == ' '))
    address.pop_back();
  return address;
}

asio::awaitable<std::optional<AlertFailure>> AlertDispatcher::SendOne(const json& canary, const analysis::Alert& alert, const json& entry,
                                               size_t index, const analysis::ObjectLookup& lookup) {
  const json& meta = core::Object(canary, "metadata");
  std::string who = Str(meta, "namespace") + "/" + Str(meta, "name");
  std::string field = "spec.analysis.alerts[" + std::to_string(index) + "]";
  // Failures are reported, counted and swallowed: an alert must never hold the rollout.
  kube::ObjectPtr provider;
  auto fail = [&](const std::string& why) {
    stats_.failed++;
    spdlog::warn("canary {}: alert {} not delivered: {}", who, field, why);
    return AlertFailure{"alert " + field + " (" + alert.reason + ") not delivered: " + why, provider};
  };
  // The controller refuses a Canary whose alerts do not parse; this guards other callers.
  auto parsed = api::ParseAlerts(json::array({entry}), "spec.analysis.alerts");
  if (auto* e = std::get_if<api::SpecError>(&parsed)) {
    co_return fail(field + e->field.substr(std::string("spec.analysis.alerts[0]").size()) + ": " + e->message);
  }
  const api::AlertSpec& want = std::get<std::vector<api::AlertSpec>>(parsed).front();
  if (!SeverityAdmits(want.severity, alert.severity)) co_return std::nullopt;
  std::string provider_ns = want.provider_namespace.empty() ? Str(meta, "namespace") : want.provider_namespace;
  std::string provider_id = "AlertProvider " + provider_ns + "/" + want.provider_name;
  provider = lookup ? lookup("AlertProvider", provider_ns, want.provider_name) : nullptr;
  if (!provider) co_return fail(provider_id + " not found");
  api::AlertProviderSpec spec;
  try {
    spec = api::ParseAlertProviderSpec(*provider);
  } catch (const api::InvalidSpec& e) {
    co_return fail(provider_id + ": " + e.what());
  }
  if (!SeverityAdmits(spec.severity, alert.severity)) co_return std::nullopt;
  std::string why;
  auto address = Address(spec, provider_ns, provider_id, lookup, why);
  if (!address) co_return fail(why);
  json payload = AlertPayload(spec.type, MakeAlertContent(canary, alert, spec));
  auto post = poster_.Post(*address, payload, options_.timeout, options_.retry);
  PostResult r = co_await std::move(post);
  if (!r.Ok()) {
    // The address may hold a token (Slack, Discord): name the provider, not the URL.
    co_return fail(provider_id + " (" + spec.type + ") " + r.Describe());
  }
  stats_.sent++;
  spdlog::debug("canary {}: {} alert sent through {}", who, alert.severity, provider_id);
  co_return std::nullopt;
}

std::shared_ptr<AlertDispatcher> MakeAlertSender(AlertOptions options) {
  return std::make_shared<AlertDispatcher>(std::move(options));
}

}  // namespace sluice::analysis
