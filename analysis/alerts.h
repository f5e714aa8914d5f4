// Rollout alerts to chat and webhooks: the Canary's spec.analysis.alerts entries name an
// AlertProvider (slack, msteams, discord or generic) and the lowest severity they want. The
// provider's address comes from its spec or from the key `address` of a Secret. A failed
// delivery is logged and counted and never holds the rollout. Payloads: docs/alerts.md.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "analysis/runner.h"
#include "analysis/webhooks.h"
#include "api/alert_provider.h"

namespace sluice::analysis {

// info < warn < error; -1 for anything else.
int SeverityRank(const std::string& severity);
// True when an entry (or provider) asking for `wanted` and up should get `alert`.
bool SeverityAdmits(const std::string& wanted, const std::string& alert);

// What every payload is made of, gathered once per alert.
struct AlertContent {
  std::string canary;     // name
  std::string ns;         // namespace
  std::string severity;   // info | warn | error
  std::string title;      // "podinfo.default: Promoted"
  std::string reason;     // the alert's reason, or one derived from the severity
  std::string message;
  std::string revision;   // status.lastAppliedSpec of the Canary as the controller saw it
  std::string channel;    // from the provider's spec; may be empty
  std::string username;   // from the provider's spec; "sluice" when empty
  std::string timestamp;  // RFC 3339
  int64_t epoch_seconds = 0;
};

AlertContent MakeAlertContent(const nlohmann::json& canary, const analysis::Alert& alert,
                              const api::AlertProviderSpec& provider);

nlohmann::json SlackPayload(const AlertContent& c);
nlohmann::json TeamsPayload(const AlertContent& c);
nlohmann::json DiscordPayload(const AlertContent& c);
nlohmann::json GenericPayload(const AlertContent& c);
// By provider type; throws std::invalid_argument for an unknown type.
nlohmann::json AlertPayload(const std::string& type, const AlertContent& c);

struct AlertOptions {
  std::chrono::milliseconds timeout{10000};
  RetryPolicy retry{2, std::chrono::milliseconds(500), std::chrono::milliseconds(5000)};
};

struct AlertStats {
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> failed{0};  // bad provider, missing Secret, transport or non-2xx
};

class AlertDispatcher final : public analysis::AlertSender {
 public:
  explicit AlertDispatcher(AlertOptions options = {});
  boost::asio::awaitable<std::vector<AlertFailure>> Send(const nlohmann::json& canary, const analysis::Alert& alert,
                                                         const analysis::ObjectLookup& lookup) override;
  const AlertStats& stats() const { return stats_; }

 private:
  // Empty when delivered or not wanted (severity); else why not.
  boost::asio::awaitable<std::optional<AlertFailure>> SendOne(const nlohmann::json& canary,
                                                              const analysis::Alert& alert,
                                                              const nlohmann::json& entry, size_t index,
                                                              const analysis::ObjectLookup& lookup);
  static std::optional<std::string> Address(const api::AlertProviderSpec& spec, const std::string& ns,
                                            const std::string& provider_id, const analysis::ObjectLookup& lookup,
                                            std::string& why);

  AlertOptions options_;
  JsonPoster poster_;
  AlertStats stats_;
};

std::shared_ptr<AlertDispatcher> MakeAlertSender(AlertOptions options = {});

}  // namespace sluice::analysis
