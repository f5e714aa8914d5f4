// A list+watch cache of one kind (optionally one namespace, label and field selector),
// the read side of every reconciler: reads come from here, never from API GETs per tick.
//
// The informer lists (paged), then watches from the list's resourceVersion with bookmarks.
// A clean end of the stream (server timeout) re-watches from the last version seen; a 410
// Expired relists and delivers only the difference to the cache as add/update/delete; a
// transport or server error backs off with jitter and re-watches. It makes no API call
// other than list and watch.
//
// Not thread-safe: use it on the client's executor. Handlers run on that executor, inline
// with cache updates, and must not block.
#pragma once

#include "kube/client.h"

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sluice::kube {

using ObjectPtr = std::shared_ptr<const json>;

// Drops metadata.managedFields and the last-applied-configuration annotation: reconcilers
// rarely read them and they are often half of an object's size.
void StripForCache(json& object);

struct InformerOptions {
  std::string ns;  // "" = all namespaces
  std::string label_selector;
  std::string field_selector;
  int64_t page_size = 500;
  // Server-side watch timeout; each watch picks a value in [t, 2t) so that many informers
  // do not re-watch in lockstep.
  std::chrono::seconds watch_timeout{300};
  std::chrono::milliseconds initial_backoff{800};
  std::chrono::milliseconds max_backoff{30000};
  // Applied to every object before it is cached. The default drops what reconcilers do not
  // read (see StripForCache); set it empty to cache objects exactly as served.
  std::function<void(json&)> transform = StripForCache;
};

struct InformerHandler {
  std::function<void(const ObjectPtr& object)> on_add;
  std::function<void(const ObjectPtr& old_object, const ObjectPtr& new_object)> on_update;
  // The last state known: the DELETED event's object, or the cached one when a relist found
  // it gone.
  std::function<void(const ObjectPtr& last_known)> on_delete;
};

struct InformerStats {
  uint64_t lists = 0;
  uint64_t watches = 0;
  uint64_t relists_after_expired = 0;
  uint64_t watch_errors = 0;
  uint64_t events = 0;  // watch events applied (bookmarks excluded)
  uint64_t ignored_events = 0;  // duplicates and deletes of unknown objects
};

class Informer : public std::enable_shared_from_this<Informer> {
 public:
  using HandlerId = uint64_t;
  using IndexFunc = std::function<std::vector<std::string>(const json& object)>;
  using Predicate = std::function<bool(const json& object)>;

  static std::shared_ptr<Informer> Create(std::shared_ptr<Client> client, ApiResource resource,
                                          InformerOptions options = {});
  ~Informer();

  // A handler added after objects are cached first receives an add for each of them.
  HandlerId AddHandler(InformerHandler handler);
  void RemoveHandler(HandlerId id);

  // Custom secondary index (e.g. by owner uid). Added before or after start.
  void AddIndex(const std::string& name, IndexFunc func);
  std::vector<ObjectPtr> ByIndex(const std::string& name, const std::string& value) const;

  void Start();
  // Cancels the watch and any backoff; handlers get nothing after Stop returns.
  void Stop();
  bool HasSynced() const { return synced_; }
  // True once synced; false if the informer stopped first.
  asio::awaitable<bool> WaitForSync();

  ObjectPtr Get(std::string_view key) const;
  ObjectPtr Get(std::string_view ns, std::string_view name) const;
  std::vector<ObjectPtr> List() const;
  std::vector<ObjectPtr> List(const Predicate& match) const;
  // Objects in one namespace (the cache is ordered by "ns/name").
  std::vector<ObjectPtr> ListNamespace(std::string_view ns) const;
  size_t size() const { return cache_.size(); }

  const ApiResource& resource() const { return resource_; }
  const std::string& last_resource_version() const { return last_rv_; }
  const InformerStats& stats() const { return stats_; }

 private:
  Informer(std::shared_ptr<Client> client, ApiResource resource, InformerOptions options);

  struct Index {
    IndexFunc func;
    std::unordered_map<std::string, std::set<std::string>> keys_by_value;
  };
  struct HandlerEntry {
    HandlerId id;
    InformerHandler handler;
    bool active = true;  // false once removed, for a dispatch already under way
  };

  asio::awaitable<void> Run();
  asio::awaitable<void> ListAndReplace();
  // Returns when the server ends the stream cleanly; throws ApiError otherwise.
  asio::awaitable<void> WatchOnce();
  void ApplyEvent(WatchEvent&& event);

  ObjectPtr Prepare(json object) const;
  void Upsert(const std::string& key, ObjectPtr object);
  void Remove(const std::string& key, const ObjectPtr& last_known);
  void IndexInsert(const std::string& key, const json& object);
  void IndexErase(const std::string& key, const json& object);

  void NotifyAdd(const ObjectPtr& object);
  void NotifyUpdate(const ObjectPtr& old_object, const ObjectPtr& new_object);
  void NotifyDelete(const ObjectPtr& object);
  std::vector<std::shared_ptr<HandlerEntry>> HandlersSnapshot() const;
  std::string Describe() const;

  std::shared_ptr<Client> client_;
  ApiResource resource_;
  InformerOptions options_;

  std::map<std::string, ObjectPtr, std::less<>> cache_;
  std::map<std::string, Index> indexes_;
  std::vector<std::shared_ptr<HandlerEntry>> handlers_;
  HandlerId next_handler_id_ = 1;

  std::string last_rv_;
  bool started_ = false;
  bool stopped_ = false;
  bool synced_ = false;
  std::unique_ptr<WatchStream> stream_;
  asio::steady_timer backoff_timer_;
  asio::steady_timer sync_signal_;
  std::minstd_rand rng_;
  bool relist_needed_ = true;
  InformerStats stats_;
};

}  // namespace sluice::kube
