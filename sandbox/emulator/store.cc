#include "sandbox/emulator/store.h"

namespace sluice::sandbox {
namespace {

std::string NsOf(const nlohmann::json& o) {
  const auto& md = o["metadata"];
  return md.contains("namespace") && md["namespace"].is_string() ? md["namespace"].get<std::string>() : "";
}

std::string NameOf(const nlohmann::json& o) { return o["metadata"].value("name", ""); }

// Content that decides whether a write changed anything.
nlohmann::json Comparable(const nlohmann::json& o) {
  nlohmann::json c = o;
  if (c.contains("metadata") && c["metadata"].is_object()) {
    c["metadata"].erase("resourceVersion");
    c["metadata"].erase("managedFields");
  }
  return c;
}

}  // namespace

std::shared_ptr<const std::string> StoreEvent::Line() const {
  std::call_once(once_, [this] {
    nlohmann::json ev = {{"type", type}, {"object", *object}};
    line_ = std::make_shared<const std::string>(ev.dump() + "\n");
  });
  return line_;
}

Store::Store(size_t history_limit) : history_limit_(history_limit == 0 ? 1 : history_limit) {}

uint64_t Store::CurrentRv() const {
  std::lock_guard lock(mu_);
  return rv_;
}

uint64_t Store::CompactedRv() const {
  std::lock_guard lock(mu_);
  return compacted_rv_;
}

ObjectPtr Store::Get(const std::string& key, const std::string& ns, const std::string& name) const {
  std::lock_guard lock(mu_);
  auto b = objects_.find(key);
  if (b == objects_.end()) return nullptr;
  auto it = b->second.find({ns, name});
  return it == b->second.end() ? nullptr : it->second;
}

std::vector<ObjectPtr> Store::List(const std::string& key, const std::string& ns, const std::string& after,
                                   size_t limit, bool* more) const {
  std::lock_guard lock(mu_);
  std::vector<ObjectPtr> out;
  if (more) *more = false;
  auto b = objects_.find(key);
  if (b == objects_.end()) return out;
  auto it = b->second.begin();
  if (!after.empty()) {
    auto slash = after.find('/');
    std::pair<std::string, std::string> cursor{after.substr(0, slash),
                                               slash == std::string::npos ? "" : after.substr(slash + 1)};
    it = b->second.upper_bound(cursor);
  } else if (!ns.empty()) {
    it = b->second.lower_bound({ns, ""});
  }
  for (; it != b->second.end(); ++it) {
    if (!ns.empty() && it->first.first != ns) {
      if (it->first.first > ns) break;
      continue;
    }
    if (limit && out.size() == limit) {
      if (more) *more = true;
      break;
    }
    out.push_back(it->second);
  }
  return out;
}

std::vector<std::string> Store::Keys() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [k, b] : objects_)
    if (!b.empty()) out.push_back(k);
  return out;
}

ObjectPtr Store::Put(const std::string& key, nlohmann::json object) {
  std::lock_guard lock(mu_);
  std::pair<std::string, std::string> id{NsOf(object), NameOf(object)};
  auto& bucket = objects_[key];
  auto it = bucket.find(id);
  ObjectPtr previous = it == bucket.end() ? nullptr : it->second;
  if (previous && Comparable(*previous) == Comparable(object)) return previous;
  object["metadata"]["resourceVersion"] = std::to_string(++rv_);
  auto stored = std::make_shared<const nlohmann::json>(std::move(object));
  bucket[id] = stored;
  auto ev = std::make_shared<StoreEvent>();
  ev->rv = rv_;
  ev->key = key;
  ev->type = previous ? "MODIFIED" : "ADDED";
  ev->ns = id.first;
  ev->object = stored;
  ev->previous = previous;
  Emit(ev);
  return stored;
}

ObjectPtr Store::Remove(const std::string& key, const std::string& ns, const std::string& name) {
  std::lock_guard lock(mu_);
  auto b = objects_.find(key);
  if (b == objects_.end()) return nullptr;
  auto it = b->second.find({ns, name});
  if (it == b->second.end()) return nullptr;
  ObjectPtr previous = it->second;
  b->second.erase(it);
  nlohmann::json last = *previous;
  last["metadata"]["resourceVersion"] = std::to_string(++rv_);
  auto stored = std::make_shared<const nlohmann::json>(std::move(last));
  auto ev = std::make_shared<StoreEvent>();
  ev->rv = rv_;
  ev->key = key;
  ev->type = "DELETED";
  ev->ns = ns;
  ev->object = stored;
  ev->previous = previous;
  Emit(ev);
  return stored;
}

void Store::RemoveAll(const std::string& key) {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::string, std::string>> ids;
  auto b = objects_.find(key);
  if (b == objects_.end()) return;
  for (const auto& [id, obj] : b->second) ids.push_back(id);
  for (const auto& id : ids) Remove(key, id.first, id.second);
}

void Store::Emit(EventPtr event) {
  history_.push_back(event);
  while (history_.size() > history_limit_) {
    compacted_rv_ = history_.front()->rv;
    history_.pop_front();
  }
  // Callbacks may unsubscribe themselves (a stream that ended), so iterate over a copy.
  auto it = watchers_.find(event->key);
  if (it == watchers_.end()) return;
  std::vector<Callback> targets;
  targets.reserve(it->second.size());
  for (const auto& [id, cb] : it->second) targets.push_back(cb);
  for (const auto& cb : targets) cb(event);
}

uint64_t Store::Watch(const std::string& key, uint64_t after_rv, Callback callback) {
  std::lock_guard lock(mu_);
  if (after_rv < compacted_rv_) return 0;
  for (const auto& ev : history_)
    if (ev->rv > after_rv && ev->key == key) callback(ev);
  uint64_t id = next_watcher_++;
  watchers_[key][id] = std::move(callback);
  watcher_keys_[id] = key;
  return id;
}

void Store::Unwatch(uint64_t id) {
  std::lock_guard lock(mu_);
  auto k = watcher_keys_.find(id);
  if (k == watcher_keys_.end()) return;
  auto w = watchers_.find(k->second);
  if (w != watchers_.end()) {
    w->second.erase(id);
    if (w->second.empty()) watchers_.erase(w);
  }
  watcher_keys_.erase(k);
}

size_t Store::WatcherCount() const {
  std::lock_guard lock(mu_);
  return watcher_keys_.size();
}

}  // namespace sluice::sandbox
