// What a GitRepository reconcile hands to the syncs that follow it: the checked-out tree of
// one revision, on disk, in a cache directory the controller owns. Both reconcilers run in
// one process, so the hand-over is in memory; after a restart the source publishes again
// before any sync can apply (a sync without an artifact waits, it never applies nothing).
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"

namespace sluice::gitops {

struct Artifact {
  std::string revision;  // "main@sha1:<40 hex>", "v1.2.0@sha1:<hex>" or "sha1:<hex>"
  std::string path;      // directory holding the tree of that revision (ignore rules applied)
  core::TimePoint fetched{};
};

class ArtifactStore {
 public:
  // Sources are keyed "namespace/name" of the GitRepository.
  using Listener = std::function<void(const std::string& source_key)>;

  // Makes `artifact` the latest of `source_key` and tells every listener. The previous tree
  // stays on disk until the source publishes again, so a sync reading it is never cut short.
  void Publish(const std::string& source_key, Artifact artifact);
  // The source was deleted: syncs following it report that they have nothing to apply.
  void Remove(const std::string& source_key);
  std::optional<Artifact> Latest(const std::string& source_key) const;
  // Called (on the publisher's thread) after each Publish/Remove.
  void Subscribe(Listener listener);

 private:
  mutable std::mutex mu_;
  std::map<std::string, Artifact> latest_;
  std::vector<Listener> listeners_;
};

}  // namespace sluice::gitops
