#include "controller/gitops/sync_metrics.h"

namespace sluice::gitops {
namespace {

// Label values are quoted; backslash, quote and newline must be escaped in the text format.
std::string Escape(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

void SyncMetrics::Observe(const std::string& ns, const std::string& name, const nlohmann::json& status) {
  Entry e{ns, name, status.is_object() ? status.value("lastAppliedRevision", "") : "", false};
  if (status.is_object())
    for (const auto& c : status.value("conditions", nlohmann::json::array()))
      if (c.is_object() && c.value("type", "") == "Ready") e.ready = c.value("status", "") == "True";
  std::lock_guard lock(mu_);
  entries_[ns + "/" + name] = e;
}

void SyncMetrics::Forget(const std::string& key) {
  std::lock_guard lock(mu_);
  entries_.erase(key);
}

std::string SyncMetrics::Serialize() const {
  std::lock_guard lock(mu_);
  std::string revisions =
      "# HELP sluice_sync_revision_info The Git revision each sync (Kustomization) applied last.\n"
      "# TYPE sluice_sync_revision_info gauge\n";
  std::string ready =
      "# HELP sluice_sync_ready 1 while the sync's Ready condition is True.\n"
      "# TYPE sluice_sync_ready gauge\n";
  for (const auto& [key, e] : entries_) {
    std::string labels = "namespace=\"" + Escape(e.ns) + "\",name=\"" + Escape(e.name) + "\"";
    if (!e.revision.empty()) revisions += "sluice_sync_revision_info{" + labels + ",revision=\"" + Escape(e.revision) + "\"} 1\n";
    ready += "sluice_sync_ready{" + labels + "} " + std::string(e.ready ? "1" : "0") + "\n";
  }
  return revisions + ready;
}

}  // namespace sluice::gitops
