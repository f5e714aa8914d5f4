#include "controller/gitops/artifact_store.h"

namespace sluice::gitops {

void ArtifactStore::Publish(const std::string& source_key, Artifact artifact) {
  std::vector<Listener> listeners;
  {
    std::lock_guard lock(mu_);
    latest_[source_key] = std::move(artifact);
    listeners = listeners_;
  }
  // Outside the lock: a listener may read Latest() at once.
  for (const auto& l : listeners) l(source_key);
}

void ArtifactStore::Remove(const std::string& source_key) {
  std::vector<Listener> listeners;
  {
    std::lock_guard lock(mu_);
    latest_.erase(source_key);
    listeners = listeners_;
  }
  for (const auto& l : listeners) l(source_key);
}

std::optional<Artifact> ArtifactStore::Latest(const std::string& source_key) const {
  std::lock_guard lock(mu_);
  auto it = latest_.find(source_key);
  if (it == latest_.end()) return std::nullopt;
  return it->second;
}

void ArtifactStore::Subscribe(Listener listener) {
  std::lock_guard lock(mu_);
  listeners_.push_back(std::move(listener));
}

}  // namespace sluice::gitops
