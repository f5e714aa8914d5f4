// Per-sync figures for /metrics: which Git revision each Kustomization applied last and
// whether it is Ready. Written by the sync reconciler, read by the ops server's thread.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <mutex>
#include <string>

namespace sluice::gitops {

class SyncMetrics {
 public:
  // From a Kustomization's status (lastAppliedRevision, the Ready condition).
  void Observe(const std::string& ns, const std::string& name, const nlohmann::json& status);
  void Forget(const std::string& key);  // "namespace/name"
  // Text exposition: sluice_sync_revision_info{namespace,name,revision} 1 and
  // sluice_sync_ready{namespace,name} 0|1.
  std::string Serialize() const;

 private:
  struct Entry {
    std::string ns, name, revision;
    bool ready = false;
  };
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

}  // namespace sluice::gitops
