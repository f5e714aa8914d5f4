// The Canary API as the rollout logic sees it: a parsed, validated spec and the status that
// holds all rollout state (so a restarted controller resumes exactly where it stopped).
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"

namespace sluice::api {

using core::TimePoint;
using Millis = std::chrono::milliseconds;

enum class Phase {
  kInitializing,
  kInitialized,
  kWaiting,
  kProgressing,
  kWaitingPromotion,
  kPromoting,
  kFinalising,
  kSucceeded,
  kFailed,
  kTerminating,
  kTerminated,
};

const char* ToString(Phase phase);
std::optional<Phase> ParsePhase(const std::string& text);
// A rollout is under way: the analysis or the promotion still has steps to take.
bool InProgress(Phase phase);

// Chosen by the fields present, as users of the peers expect: match + iterations = A/B,
// iterations alone = blue/green, otherwise a progressive weight shift.
enum class Strategy { kCanary, kABTesting, kBlueGreen };
const char* ToString(Strategy strategy);

// spec.analysis.metrics[i], parsed and validated once. It names a builtin (name alone), a
// MetricTemplate (templateRef) or an inline query.
struct MetricSpec {
  std::string name;  // unique within the Canary
  std::optional<Millis> interval;  // the query's window ({{ interval }}); absent: 1m
  std::optional<double> min, max;  // thresholdRange
  std::string template_name;       // templateRef.name ("" = no template)
  std::string template_namespace;  // templateRef.namespace ("" = the Canary's)
  std::string query;               // inline PromQL
  std::map<std::string, std::string> template_variables;
  // compare: judge against the primary instead of a threshold; null when absent. Its fields
  // are the judge's (analysis/comparison.h), which reads them.
  nlohmann::json compare;
};

inline constexpr const char* kWebhookTypes[] = {"confirm-rollout", "pre-rollout",  "rollout",  "confirm-traffic-increase",
                                                "confirm-promotion", "post-rollout", "rollback", "event"};

// spec.analysis.webhooks[i], parsed and validated once.
struct WebhookSpec {
  std::string name;  // unique within the Canary
  std::string type = "rollout";
  std::string url;  // http:// or https://
  std::optional<Millis> timeout;  // absent: the controller's default (10s)
  std::optional<int> retries;     // absent: the controller's default (2)
  nlohmann::json metadata = nlohmann::json::object();
};

// spec.analysis.alerts[i] (Flagger's field names), parsed and validated once.
struct AlertSpec {
  std::string name;                // unique within the Canary
  std::string severity = "info";   // the least severe alert sent: info, warn or error
  std::string provider_name;       // providerRef.name: an AlertProvider
  std::string provider_namespace;  // providerRef.namespace; "" = the Canary's
};

inline constexpr const char* kAlertSeverities[] = {"info", "warn", "error"};

struct AnalysisSpec {
  Millis interval{60000};
  int threshold = 5;
  int max_weight = 0;  // 0 = unset (the last of stepWeights, or 100 for stepWeight)
  int step_weight = 0;
  std::vector<int> step_weights;
  int step_weight_promotion = 0;  // 0 = return to primary in one step
  int iterations = 0;
  bool has_match = false;  // A/B matches present
  bool mirror = false;
  int mirror_weight = 0;
  std::vector<MetricSpec> metrics;
  std::vector<WebhookSpec> webhooks;
  std::vector<AlertSpec> alerts;
};

// The routing provider a Canary names when spec.provider is empty.
inline constexpr const char* kDefaultProvider = "gatewayapi";

// What the spec parser must know of a routing provider (the routing registry supplies it).
struct ProviderInfo {
  std::string name;
  // Splits traffic by weight. One that cannot (kubernetes: a Service switch) runs blue/green
  // only, so a Canary on it needs analysis.iterations.
  bool weighted = true;
};

struct CanarySpec {
  std::string provider = kDefaultProvider;
  bool provider_weighted = true;  // from the provider's ProviderInfo
  std::string target_name;
  std::string service_name;  // service.name, defaulting to the target name
  int service_port = 0;
  AnalysisSpec analysis;
  std::string metrics_server;  // spec.metricsServer: this Canary's Prometheus ("" = the controller's)
  std::chrono::seconds progress_deadline{600};
  bool skip_analysis = false;
  bool suspend = false;
  bool revert_on_deletion = false;

  Strategy strategy() const;
  // The weight schedule's ceiling: maxWeight, else the last stepWeights entry, else 100.
  int EffectiveMaxWeight() const;
};

// The requests users make with `kubectl annotate canary NAME sluice.dev/<verb>=<value>`.
enum class RequestKind { kAbort, kPromote, kRetry, kReconcile };
const char* ToString(RequestKind kind);
// The annotation key for a request, e.g. "sluice.dev/abort".
std::string AnnotationKey(RequestKind kind);

struct RequestRecord {
  std::string value;    // the annotation's value (for abort: the reason)
  std::string outcome;  // what the controller did, in words
  TimePoint time{};
};

struct Condition {
  std::string type;    // Ready | Promoted
  std::string status;  // True | False | Unknown
  std::string reason;
  std::string message;
  TimePoint last_transition{};
};

// The last evaluation of one analysis metric, kept in status so users see why a step passed.
struct MetricResult {
  std::string name;
  std::optional<double> value;  // nullopt: no data (an empty result or NaN) or an error
  std::string verdict;          // Pass | Fail | High | Low | NoData | Error
  std::string message;          // in words: the value against its threshold, or the error
  TimePoint time{};
  std::optional<double> min, max;  // the thresholdRange it was held to, when set (for dashboards)
};

// An alert decided by a step and not yet delivered. It is written to status with the step that
// decided it (so a step that is re-run after a failed status write decides it again instead of
// sending it twice) and removed once delivered; see docs/reliability.md.
struct PendingAlert {
  std::string severity;  // info | warn | error
  std::string reason;
  std::string message;
  bool operator==(const PendingAlert&) const = default;
};

struct CanaryStatus {
  Phase phase = Phase::kInitializing;
  int canary_weight = 0;
  int failed_checks = 0;
  int iterations = 0;
  int step_index = 0;  // next entry of stepWeights
  std::string last_applied_spec;   // revision hash being (or last) rolled out
  std::string last_promoted_spec;  // revision hash that primary runs
  std::string failed_spec;  // revision that failed or was aborted: it does not restart by itself
  std::map<std::string, std::string> tracked_configs;  // "configmap/name" -> data hash
  TimePoint last_transition{};  // last phase change
  TimePoint last_step{};        // last analysis step (the interval counts from here)
  TimePoint canary_wait_started{};  // since when we wait for the canary to be ready
  int64_t observed_generation = 0;
  std::vector<Condition> conditions;
  std::map<std::string, RequestRecord> requests;  // by RequestKind name
  std::vector<MetricResult> metrics;  // the last analysis, one entry per metric
  std::vector<PendingAlert> pending_alerts;

  const Condition* FindCondition(const std::string& type) const;
  // Sets a condition, keeping lastTransitionTime when the status does not change.
  void SetCondition(Condition condition, TimePoint now);
};

}  // namespace sluice::api
