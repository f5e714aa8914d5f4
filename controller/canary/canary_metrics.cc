#include "controller/canary/canary_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <limits>

#include "kube/runtime/metrics.h"

namespace sluice::canary {

using api::Phase;

namespace {
// Every verdict a metric may have (crds/sluice.dev_canaries.yaml status.metrics[].verdict).
constexpr const char* kVerdicts[] = {"Pass", "Fail", "High", "Low", "NoData", "Error"};
}  // namespace

struct ControllerMetrics::Families {
  prometheus::Family<prometheus::Gauge>& weight;
  prometheus::Family<prometheus::Gauge>& phase;
  prometheus::Family<prometheus::Gauge>& failed_checks;
  prometheus::Family<prometheus::Counter>& rollouts;
  prometheus::Family<prometheus::Histogram>& duration;
  prometheus::Family<prometheus::Gauge>& metric_value;
  prometheus::Family<prometheus::Gauge>& metric_verdict;
  prometheus::Family<prometheus::Gauge>& metric_threshold;
  prometheus::Counter& reconcile_errors;
  prometheus::Gauge& queue_depth;
};

ControllerMetrics::ControllerMetrics(std::shared_ptr<prometheus::Registry> registry, const core::Clock& clock)
    : clock_(clock), registry_(registry ? std::move(registry) : kube::runtime::NewMetricsRegistry()) {
  auto& errors = prometheus::BuildCounter()
                     .Name("sluice_reconcile_errors_total")
                     .Help("Reconciles that ended in an error")
                     .Register(*registry_);
  auto& depth = prometheus::BuildGauge().Name("sluice_workqueue_depth").Help("Keys waiting for a worker").Register(*registry_);
  f_ = std::make_unique<Families>(Families{
      prometheus::BuildGauge().Name("sluice_canary_weight").Help("Percent of traffic routed to the canary").Register(*registry_),
      prometheus::BuildGauge()
          .Name("sluice_canary_phase")
          .Help("1 for the Canary's current phase, 0 for the others")
          .Register(*registry_),
      prometheus::BuildGauge().Name("sluice_canary_failed_checks").Help("Failed checks of the current rollout").Register(*registry_),
      prometheus::BuildCounter()
          .Name("sluice_canary_rollouts_total")
          .Help("Finished rollouts by strategy and result (succeeded, failed, aborted)")
          .Register(*registry_),
      prometheus::BuildHistogram()
          .Name("sluice_canary_rollout_duration_seconds")
          .Help("Time from the start of a rollout to its end")
          .Register(*registry_),
      prometheus::BuildGauge()
          .Name("sluice_canary_metric_value")
          .Help("Last value of each analysis metric (NaN: no data or an error)")
          .Register(*registry_),
      prometheus::BuildGauge()
          .Name("sluice_canary_metric_verdict")
          .Help("1 for each analysis metric's last verdict, 0 for the others")
          .Register(*registry_),
      prometheus::BuildGauge()
          .Name("sluice_canary_metric_threshold")
          .Help("The thresholdRange bound (bound=min|max) each analysis metric is held to")
          .Register(*registry_),
      errors.Add({}),
      depth.Add({}),
  });
}

ControllerMetrics::~ControllerMetrics() = default;

void ControllerMetrics::ObserveCanary(const std::string& ns, const std::string& name, const api::CanaryStatus& s,
                                      api::Strategy strategy) {
  std::lock_guard lock(mu_);
  std::map<std::string, std::string> id = {{"namespace", ns}, {"name", name}};
  f_->weight.Add(id).Set(s.canary_weight);
  f_->failed_checks.Add(id).Set(s.failed_checks);
  for (int p = 0; p <= static_cast<int>(Phase::kTerminated); ++p) {
    auto labels = id;
    labels["phase"] = api::ToString(static_cast<Phase>(p));
    f_->phase.Add(labels).Set(static_cast<Phase>(p) == s.phase ? 1 : 0);
  }
  std::string key = ns + "/" + name;
  ObserveMetrics(id, key, s);
  auto it = seen_.find(key);
  if (it == seen_.end()) {
    seen_[key] = {s.phase, api::InProgress(s.phase) ? clock_.Now() : core::TimePoint{}};
    return;
  }
  Seen& seen = it->second;
  bool was_running = api::InProgress(seen.phase);
  if (!was_running && api::InProgress(s.phase)) seen.started = clock_.Now();
  bool finished = was_running && (s.phase == Phase::kSucceeded || s.phase == Phase::kFailed);
  if (finished) {
    const api::Condition* ready = s.FindCondition("Ready");
    std::string result = s.phase == Phase::kSucceeded ? "succeeded"
                         : ready && ready->reason == "Aborted" ? "aborted"
                                                                : "failed";
    f_->rollouts.Add({{"strategy", api::ToString(strategy)}, {"result", result}}).Increment();
    double seconds = std::chrono::duration<double>(clock_.Now() - seen.started).count();
    f_->duration
        .Add({{"strategy", api::ToString(strategy)}},
             prometheus::Histogram::BucketBoundaries{10, 30, 60, 120, 300, 600, 1800, 3600, 7200})
        .Observe(seconds);
  }
  seen.phase = s.phase;
}

void ControllerMetrics::ObserveMetrics(const std::map<std::string, std::string>& id, const std::string& key,
                                       const api::CanaryStatus& s) {
  std::set<std::string> now;
  for (const auto& m : s.metrics) {
    auto labels = id;
    labels["metric"] = m.name;
    f_->metric_value.Add(labels).Set(m.value ? *m.value : std::numeric_limits<double>::quiet_NaN());
    for (const char* verdict : kVerdicts) {
      auto with_verdict = labels;
      with_verdict["verdict"] = verdict;
      f_->metric_verdict.Add(with_verdict).Set(m.verdict == verdict ? 1 : 0);
    }
    SetThreshold(labels, "min", m.min);
    SetThreshold(labels, "max", m.max);
    now.insert(m.name);
  }
  for (const auto& gone : exported_metrics_[key]) {
    if (now.count(gone)) continue;
    auto labels = id;
    labels["metric"] = gone;
    f_->metric_value.Remove(&f_->metric_value.Add(labels));
    for (const char* verdict : kVerdicts) {
      auto with_verdict = labels;
      with_verdict["verdict"] = verdict;
      f_->metric_verdict.Remove(&f_->metric_verdict.Add(with_verdict));
    }
    SetThreshold(labels, "min", std::nullopt);
    SetThreshold(labels, "max", std::nullopt);
  }
  exported_metrics_[key] = std::move(now);
}

// A bound that is set is exported; one that is not (or no longer) is removed.
void ControllerMetrics::SetThreshold(std::map<std::string, std::string> labels, const std::string& bound,
                                     std::optional<double> value) {
  labels["bound"] = bound;
  if (value)
    f_->metric_threshold.Add(labels).Set(*value);
  else if (f_->metric_threshold.Has(labels))
    f_->metric_threshold.Remove(&f_->metric_threshold.Add(labels));
}

void ControllerMetrics::ReconcileError() { f_->reconcile_errors.Increment(); }
void ControllerMetrics::SetQueueDepth(size_t depth) { f_->queue_depth.Set(static_cast<double>(depth)); }
std::string ControllerMetrics::Serialize() const {
  std::lock_guard lock(mu_);
  return kube::runtime::ExpositionText(*registry_);
}

}  // namespace sluice::canary
