#include "controller/gitops/sync_metrics.h"

#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "kube/runtime/metrics.h"

namespace sluice::gitops {

SyncMetrics::SyncMetrics(std::shared_ptr<prometheus::Registry> registry)
    : registry_(registry ? std::move(registry) : kube::runtime::NewMetricsRegistry()),
      revisions_(&prometheus::BuildGauge()
                      .Name("sluice_sync_revision_info")
                      .Help("The Git revision each sync (Kustomization) applied last.")
                      .Register(*registry_)),
      ready_(&prometheus::BuildGauge()
                  .Name("sluice_sync_ready")
                  .Help("1 while the sync's Ready condition is True.")
                  .Register(*registry_)) {}

SyncMetrics::~SyncMetrics() = default;

void SyncMetrics::Observe(const std::string& ns, const std::string& name, const nlohmann::json& status) {
  std::string revision = status.is_object() ? status.value("lastAppliedRevision", "") : "";
  bool ready = false;
  if (status.is_object())
    for (const auto& c : status.value("conditions", nlohmann::json::array()))
      if (c.is_object() && c.value("type", "") == "Ready") ready = c.value("status", "") == "True";
  std::lock_guard lock(mu_);
  Entry& e = entries_[ns + "/" + name];
  if (!e.ready_gauge) e.ready_gauge = &ready_->Add({{"namespace", ns}, {"name", name}});
  e.ready_gauge->Set(ready ? 1 : 0);
  if (revision == e.revision) return;
  // A new revision replaces the old series: one revision per sync at a time.
  if (e.revision_gauge) revisions_->Remove(e.revision_gauge);
  e.revision_gauge = nullptr;
  e.revision = revision;
  if (!revision.empty()) {
    e.revision_gauge = &revisions_->Add({{"namespace", ns}, {"name", name}, {"revision", revision}});
    e.revision_gauge->Set(1);
  }
}

void SyncMetrics::Forget(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  if (it->second.revision_gauge) revisions_->Remove(it->second.revision_gauge);
  if (it->second.ready_gauge) ready_->Remove(it->second.ready_gauge);
  entries_.erase(it);
}

std::string SyncMetrics::Serialize() const { return kube::runtime::ExpositionText(*registry_); }

}  // namespace sluice::gitops
