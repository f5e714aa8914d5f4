// The emulator's object store: every object of every kind under one increasing
// resourceVersion, a bounded history of changes for watches, and watcher fan-out.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sluice::sandbox {

using ObjectPtr = std::shared_ptr<const nlohmann::json>;

struct StoreEvent {
  uint64_t rv = 0;
  std::string key;   // storage key ("apps/deployments")
  std::string type;  // ADDED | MODIFIED | DELETED
  std::string ns;
  ObjectPtr object;    // state after the change (DELETED: last state with the deletion's RV)
  ObjectPtr previous;  // state before (null for ADDED)

  // `{"type":...,"object":...}\n`, serialized once and shared by every watcher that needs
  // the plain form.
  std::shared_ptr<const std::string> Line() const;

 private:
  mutable std::once_flag once_;
  mutable std::shared_ptr<const std::string> line_;
};

using EventPtr = std::shared_ptr<const StoreEvent>;

class Store {
 public:
  explicit Store(size_t history_limit);

  uint64_t CurrentRv() const;
  // Events at or below this RV are gone from the history: older watches and continue tokens
  // are 410 Expired.
  uint64_t CompactedRv() const;

  ObjectPtr Get(const std::string& key, const std::string& ns, const std::string& name) const;
  // Ordered by namespace then name; ns "" lists every namespace. Starts after `after`
  // ("ns/name") when set; stops after `limit` items (0: all) and reports whether more remain.
  std::vector<ObjectPtr> List(const std::string& key, const std::string& ns, const std::string& after = "",
                              size_t limit = 0, bool* more = nullptr) const;
  // Every storage key that holds objects.
  std::vector<std::string> Keys() const;

  // Stores the object under a fresh resourceVersion (written into metadata) and notifies
  // watchers. Returns the stored object. A replace whose content equals the stored one
  // (ignoring resourceVersion and managedFields) is a no-op returning the stored object.
  ObjectPtr Put(const std::string& key, nlohmann::json object);
  // Removes the object; the DELETED event carries the last state at a new resourceVersion.
  ObjectPtr Remove(const std::string& key, const std::string& ns, const std::string& name);
  // Removes every object under a key (a CRD went away).
  void RemoveAll(const std::string& key);

  using Callback = std::function<void(const EventPtr&)>;
  // Subscribes to changes under `key` after `after_rv`; history events newer than it are
  // delivered through the callback first. Returns 0 when after_rv is older than the history
  // (the caller answers 410).
  uint64_t Watch(const std::string& key, uint64_t after_rv, Callback callback);
  void Unwatch(uint64_t id);
  size_t WatcherCount() const;

 private:
  using Bucket = std::map<std::pair<std::string, std::string>, ObjectPtr>;
  void Emit(EventPtr event);

  mutable std::recursive_mutex mu_;
  size_t history_limit_;
  uint64_t rv_ = 1;
  uint64_t compacted_rv_ = 0;
  std::map<std::string, Bucket> objects_;
  std::deque<EventPtr> history_;
  // Indexed by storage key so an event only visits the watchers of its kind.
  std::map<std::string, std::map<uint64_t, Callback>> watchers_;
  std::map<uint64_t, std::string> watcher_keys_;
  uint64_t next_watcher_ = 1;
};

}  // namespace sluice::sandbox
