// The canary engine's eyes: the checks and gates a step needs (metrics, webhooks), and the
// alerts it sends. The engine calls it once per step with the plan the state machine made;
// tests inject results.
//
// The live runner is composed of three parts, each optional: gates (webhooks), metric checks
// (Prometheus and the canary-versus-primary judge) and alert senders. They read the objects
// they need (MetricTemplate, AlertProvider, Secret) through an ObjectLookup backed by the
// controller's informer caches, so a step costs no API reads.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <string>

#include "analysis/plan.h"
#include "api/canary_types.h"
#include "kube/informer.h"

namespace sluice::analysis {

// Finds a cached object by kind ("MetricTemplate", "AlertProvider", "Secret", ...), namespace
// and name; nullptr when the cache does not hold it (or the kind is not served).
using ObjectLookup =
    std::function<kube::ObjectPtr(const std::string& kind, const std::string& ns, const std::string& name)>;

// A message for the Canary's alert providers (spec.analysis.alerts).
struct Alert {
  std::string severity;  // info | warn | error
  std::string reason;    // the Event reason, e.g. Promoted, RolledBack, Aborted
  std::string message;   // in words
};

// An alert that did not reach one provider: why, in words that name the entry and the
// provider (never its address, which may hold a token), and the AlertProvider when it exists.
struct AlertFailure {
  std::string message;
  kube::ObjectPtr provider;
};

class AnalysisRunner {
 public:
  virtual ~AnalysisRunner() = default;
  // Evaluates what `plan` asks for, for this Canary at this status.
  // `canary` is the object (names, payloads); `spec` its spec, parsed and validated once.
  virtual boost::asio::awaitable<analysis::AnalysisOutcome> Evaluate(const nlohmann::json& canary,
                                                                   const api::CanarySpec& spec,
                                                                   const analysis::AnalysisPlan& plan,
                                                                   const api::CanaryStatus& status,
                                                                   const ObjectLookup& lookup) = 0;
  // Fire-and-forget webhooks of one type (post-rollout, rollback, event).
  virtual boost::asio::awaitable<void> RunWebhooks(const nlohmann::json& canary, const api::CanarySpec& spec,
                                                   const std::string& type,
                                                   const api::CanaryStatus& status, const ObjectLookup& lookup) = 0;
  // Sends `alert` to the Canary's alert providers whose severity admits it; returns what
  // could not be delivered (the reconciler reports it on the Canary and the AlertProvider).
  virtual boost::asio::awaitable<std::vector<AlertFailure>> SendAlert(const nlohmann::json& canary, const Alert& alert,
                                                                      const ObjectLookup& lookup) = 0;
};

// Webhooks: confirm-rollout, pre-rollout, rollout, confirm-traffic-increase,
// confirm-promotion, rollback (gates and checks) and post-rollout, rollback, event (fired).
class GateRunner {
 public:
  virtual ~GateRunner() = default;
  // Runs the webhooks `plan` asks for (the "rollout" type when plan.checks) and records
  // their answers in `outcome` (gates open or closed, pre_rollout_failure, check_failure).
  virtual boost::asio::awaitable<void> Evaluate(const nlohmann::json& canary, const api::CanarySpec& spec,
                                                const analysis::AnalysisPlan& plan, const api::CanaryStatus& status,
                                                const ObjectLookup& lookup, analysis::AnalysisOutcome& outcome) = 0;
  virtual boost::asio::awaitable<void> Fire(const nlohmann::json& canary, const api::CanarySpec& spec,
                                            const std::string& type,
                                            const api::CanaryStatus& status, const ObjectLookup& lookup) = 0;
};

// spec.analysis.metrics: evaluates every metric, appends each result to outcome.metrics and
// sets outcome.check_failure (naming the metric, its value and threshold) for the first one
// that does not pass.
class MetricChecker {
 public:
  virtual ~MetricChecker() = default;
  virtual boost::asio::awaitable<void> Check(const nlohmann::json& canary, const api::CanarySpec& spec,
                                             const api::CanaryStatus& status,
                                             const ObjectLookup& lookup, analysis::AnalysisOutcome& outcome) = 0;
};

class AlertSender {
 public:
  virtual ~AlertSender() = default;
  virtual boost::asio::awaitable<std::vector<AlertFailure>> Send(const nlohmann::json& canary, const Alert& alert,
                                                                 const ObjectLookup& lookup) = 0;
};

// Gates first, then (when plan.checks and no gate or webhook check failed) the metrics. A
// null part counts as "open / passed"; a null alert sender logs the alert.
std::shared_ptr<AnalysisRunner> ComposeAnalysis(std::shared_ptr<GateRunner> gates,
                                                std::shared_ptr<MetricChecker> metrics,
                                                std::shared_ptr<AlertSender> alerts);

// A Canary without metrics or webhooks: every check passes and every gate is open, as
// with the peers; alerts go to the log.
std::shared_ptr<AnalysisRunner> MakeNoAnalysis();

}  // namespace sluice::analysis
