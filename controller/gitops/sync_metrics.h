// Per-sync figures for /metrics: which Git revision each Kustomization applied last and
// whether it is Ready. Written by the sync reconciler; the registry is read by the ops
// server's thread (prometheus-cpp's families are thread-safe).
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace prometheus {
class Registry;
template <typename T>
class Family;
class Gauge;
}  // namespace prometheus

namespace sluice::gitops {

class SyncMetrics {
 public:
  // Registers sluice_sync_revision_info and sluice_sync_ready in `registry` (the Manager's;
  // a registry of its own when null).
  explicit SyncMetrics(std::shared_ptr<prometheus::Registry> registry = nullptr);
  ~SyncMetrics();

  // From a Kustomization's status (lastAppliedRevision, the Ready condition):
  // sluice_sync_revision_info{namespace,name,revision} 1 and sluice_sync_ready{namespace,name} 0|1.
  void Observe(const std::string& ns, const std::string& name, const nlohmann::json& status);
  void Forget(const std::string& key);  // "namespace/name"
  // Its registry in the text exposition format.
  std::string Serialize() const;

 private:
  struct Entry {
    std::string revision;
    prometheus::Gauge* revision_gauge = nullptr;
    prometheus::Gauge* ready_gauge = nullptr;
  };
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Gauge>* revisions_;
  prometheus::Family<prometheus::Gauge>* ready_;
  std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

}  // namespace sluice::gitops
