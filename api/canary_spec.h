// Reading a Canary object: spec validation with messages that name the field and what is
// expected, and the status codec (all rollout state lives in .status, so it must round-trip).
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "api/canary_types.h"
#include "api/spec_error.h"

namespace sluice::api {

// Validates and converts a Canary's spec. The routing providers the registry knows are passed
// in, so that an unknown one is refused here with the list of known ones, and a provider that
// cannot split by weight is held to blue/green.
std::variant<CanarySpec, SpecError> ParseCanarySpec(const nlohmann::json& canary,
                                                   const std::vector<ProviderInfo>& providers);

// spec.analysis.metrics and spec.analysis.webhooks alone (ParseCanarySpec uses them), for
// callers that hold only that list. `path` prefixes the field in errors. Names must be
// unique; durations, thresholds, URLs and types are checked here, once.
std::variant<std::vector<MetricSpec>, SpecError> ParseMetrics(const nlohmann::json& metrics,
                                                              const std::string& path = "spec.analysis.metrics");
std::variant<std::vector<WebhookSpec>, SpecError> ParseWebhooks(const nlohmann::json& webhooks,
                                                                const std::string& path = "spec.analysis.webhooks");

std::variant<std::vector<AlertSpec>, SpecError> ParseAlerts(const nlohmann::json& alerts,
                                                            const std::string& path = "spec.analysis.alerts");

nlohmann::json StatusToJson(const CanaryStatus& status);
// Reads what StatusToJson wrote (and what older controllers may have left): unknown phases
// and malformed fields fall back to the start of the state machine, never a crash.
CanaryStatus StatusFromJson(const nlohmann::json& status);

}  // namespace sluice::api
