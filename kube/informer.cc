#include "kube/informer.h"

#include "core/object_key.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

namespace sluice::kube {
namespace {

// Watch ERROR events carry a Status; turn it into the error the client would have raised.
core::ApiError ErrorFromStatus(const json& status) {
  int code = status.value("code", 500);
  std::string reason = status.value("reason", std::string("InternalError"));
  std::string message = status.value("message", std::string("watch error event without a message"));
  json details = status.contains("details") ? status["details"] : json::object();
  return core::ApiError(code, reason, message, details);
}

const char* EventTypeName(WatchEvent::Type type) {
  switch (type) {
    case WatchEvent::Type::kAdded: return "ADDED";
    case WatchEvent::Type::kModified: return "MODIFIED";
    case WatchEvent::Type::kDeleted: return "DELETED";
    case WatchEvent::Type::kBookmark: return "BOOKMARK";
    case WatchEvent::Type::kError: return "ERROR";
  }
  return "UNKNOWN";
}

}  // namespace

void StripForCache(json& object) {
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return;
  meta->erase("managedFields");
  auto annotations = meta->find("annotations");
  if (annotations != meta->end() && annotations->is_object()) {
    annotations->erase("kubectl.kubernetes.io/last-applied-configuration");
    if (annotations->empty()) meta->erase("annotations");
  }
}

std::shared_ptr<Informer> Informer::Create(std::shared_ptr<Client> client, ApiResource resource,
                                           InformerOptions options) {
  if (!client) throw std::invalid_argument("informer: client is null");
  if (resource.resource.empty() || resource.version.empty()) {
    throw std::invalid_argument("informer: resource needs a plural name and a version (got \"" +
                                resource.GroupResource() + "\")");
  }
  if (!resource.namespaced && !options.ns.empty()) {
    throw std::invalid_argument("informer for " + resource.GroupResource() +
                                ": a namespace was given but the resource is cluster-scoped");
  }
  if (options.page_size < 0) throw std::invalid_argument("informer: page_size must be >= 0");
  if (options.initial_backoff.count() <= 0 || options.max_backoff < options.initial_backoff) {
    throw std::invalid_argument("informer: need 0 < initial_backoff <= max_backoff");
  }
  return std::shared_ptr<Informer>(new Informer(std::move(client), std::move(resource), std::move(options)));
}

Informer::Informer(std::shared_ptr<Client> client, ApiResource resource, InformerOptions options)
    : client_(std::move(client)),
      resource_(std::move(resource)),
      options_(std::move(options)),
      backoff_timer_(client_->executor()),
      sync_signal_(client_->executor(), asio::steady_timer::time_point::max()),
      rng_(std::random_device{}()) {}

Informer::~Informer() = default;

std::string Informer::Describe() const {
  std::string d = resource_.GroupResource();
  if (!options_.ns.empty()) d += " in namespace " + options_.ns;
  if (!options_.label_selector.empty()) d += " labels " + options_.label_selector;
  if (!options_.field_selector.empty()) d += " fields " + options_.field_selector;
  return d;
}

Informer::HandlerId Informer::AddHandler(InformerHandler handler) {
  auto entry = std::make_shared<HandlerEntry>(HandlerEntry{next_handler_id_++, std::move(handler)});
  handlers_.push_back(entry);
  // A late handler must see the world as the cache has it, as if it had been there all along.
  if (entry->handler.on_add && !stopped_) {
    std::vector<ObjectPtr> current = List();
    for (const auto& object : current) {
      if (!entry->active) break;
      try {
        entry->handler.on_add(object);
      } catch (const std::exception& e) {
        spdlog::error("informer {}: add handler failed: {}", Describe(), e.what());
      }
    }
  }
  return entry->id;
}

void Informer::RemoveHandler(HandlerId id) {
  for (auto it = handlers_.begin(); it != handlers_.end(); ++it) {
    if ((*it)->id == id) {
      (*it)->active = false;
      handlers_.erase(it);
      return;
    }
  }
}

void Informer::AddIndex(const std::string& name, IndexFunc func) {
  Index& index = indexes_[name];
  index.func = std::move(func);
  index.keys_by_value.clear();
  for (const auto& [key, object] : cache_) {
    for (auto& value : index.func(*object)) index.keys_by_value[value].insert(key);
  }
}

std::vector<ObjectPtr> Informer::ByIndex(const std::string& name, const std::string& value) const {
  auto index = indexes_.find(name);
  if (index == indexes_.end()) throw std::invalid_argument("informer " + Describe() + ": no index named " + name);
  std::vector<ObjectPtr> out;
  auto keys = index->second.keys_by_value.find(value);
  if (keys == index->second.keys_by_value.end()) return out;
  out.reserve(keys->second.size());
  for (const auto& key : keys->second) {
    auto it = cache_.find(key);
    if (it != cache_.end()) out.push_back(it->second);
  }
  return out;
}

void Informer::Start() {
  if (started_) return;
  started_ = true;
  asio::co_spawn(client_->executor(), Run(), [self = shared_from_this()](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("informer {}: stopped by an unexpected error: {}", self->Describe(), ex.what());
    }
  });
}

void Informer::Stop() {
  stopped_ = true;
  if (stream_) stream_->Cancel();
  backoff_timer_.cancel();
  sync_signal_.cancel();
}

asio::awaitable<bool> Informer::WaitForSync() {
  auto self = shared_from_this();
  while (!synced_ && !stopped_) {
    boost::system::error_code ec;
    co_await sync_signal_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return synced_;
}

ObjectPtr Informer::Get(std::string_view key) const {
  auto it = cache_.find(key);
  return it == cache_.end() ? nullptr : it->second;
}

ObjectPtr Informer::Get(std::string_view ns, std::string_view name) const { return Get(core::ObjectKey(ns, name)); }

std::vector<ObjectPtr> Informer::List() const {
  std::vector<ObjectPtr> out;
  out.reserve(cache_.size());
  for (const auto& [key, object] : cache_) out.push_back(object);
  return out;
}

std::vector<ObjectPtr> Informer::List(const Predicate& match) const {
  std::vector<ObjectPtr> out;
  for (const auto& [key, object] : cache_) {
    if (match(*object)) out.push_back(object);
  }
  return out;
}

std::vector<ObjectPtr> Informer::ListNamespace(std::string_view ns) const {
  if (ns.empty()) return List();
  std::string prefix = std::string(ns) + "/";
  std::vector<ObjectPtr> out;
  // Keys sharing a prefix are contiguous in the ordered map: this is the namespace index.
  for (auto it = cache_.lower_bound(prefix); it != cache_.end() && it->first.starts_with(prefix); ++it) {
    out.push_back(it->second);
  }
  return out;
}

asio::awaitable<void> Informer::Run() {
  auto self = shared_from_this();
  int failures = 0;
  bool expired_without_progress = false;
  while (!stopped_) {
    uint64_t events_before = stats_.events;
    try {
      if (relist_needed_) {
        co_await ListAndReplace();
        relist_needed_ = false;
      }
      if (stopped_) break;
      events_before = stats_.events;
      co_await WatchOnce();
      failures = 0;
      expired_without_progress = false;
      continue;
    } catch (const core::ApiError& e) {
      stream_.reset();
      if (stopped_) break;
      // A watch that delivered events was healthy: what follows is a new failure streak.
      if (stats_.events != events_before) {
        failures = 0;
        expired_without_progress = false;
      }
      if (e.IsExpired()) {
        ++stats_.relists_after_expired;
        relist_needed_ = true;
        spdlog::info("informer {}: resourceVersion {} expired, relisting", Describe(), last_rv_);
        // One immediate relist is right; a server that expires every fresh list version
        // would otherwise make us spin.
        if (!expired_without_progress) {
          expired_without_progress = true;
          continue;
        }
      } else {
        spdlog::warn("informer {}: list/watch failed ({} {}): {}", Describe(), e.code(), e.reason(), e.what());
      }
      ++stats_.watch_errors;
    } catch (const std::exception& e) {
      stream_.reset();
      if (stopped_) break;
      if (stats_.events != events_before) failures = 0;
      ++stats_.watch_errors;
      spdlog::warn("informer {}: list/watch failed: {}", Describe(), e.what());
    }
    ++failures;
    // Exponential backoff with jitter in [d/2, d): many informers failing together (an API
    // server restart) must not come back in lockstep.
    double base = std::chrono::duration<double, std::milli>(options_.initial_backoff).count() *
                  std::pow(2.0, std::min(failures - 1, 30));
    double cap = std::chrono::duration<double, std::milli>(options_.max_backoff).count();
    double d = std::min(base, cap);
    double jittered = d / 2 + std::uniform_real_distribution<double>(0, d / 2)(rng_);
    backoff_timer_.expires_after(std::chrono::milliseconds(static_cast<int64_t>(jittered)));
    boost::system::error_code ec;
    co_await backoff_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  stream_.reset();
}

ObjectPtr Informer::Prepare(json object) const {
  // The API leaves kind and apiVersion out of list items of built-in kinds; handlers should
  // not have to care whether an object came from a list or a watch.
  if (object.is_object()) {
    if (!object.contains("kind")) object["kind"] = resource_.kind;
    if (!object.contains("apiVersion")) object["apiVersion"] = resource_.ApiVersion();
  }
  if (options_.transform) options_.transform(object);
  return std::make_shared<const json>(std::move(object));
}

asio::awaitable<void> Informer::ListAndReplace() {
  ListOptions list_options;
  list_options.label_selector = options_.label_selector;
  list_options.field_selector = options_.field_selector;
  list_options.limit = options_.page_size;
  // Named first: g++ 12 destroys argument temporaries of an awaited call twice (client.h).
  auto list_op = client_->ListAll(resource_, options_.ns, list_options);
  json list = co_await std::move(list_op);
  ++stats_.lists;
  if (stopped_) co_return;
  auto items = list.find("items");
  if (items == list.end() || !(items->is_array() || items->is_null())) {
    throw core::ApiError(500, "InternalError", "list of " + Describe() + ": response has no items array");
  }
  std::string rv;
  if (auto meta = list.find("metadata"); meta != list.end() && meta->is_object()) {
    rv = meta->value("resourceVersion", std::string());
  }
  if (rv.empty()) {
    throw core::ApiError(500, "InternalError", "list of " + Describe() + ": response has no metadata.resourceVersion");
  }

  std::map<std::string, json*, std::less<>> fresh;
  if (items->is_array()) {
    for (auto& item : *items) {
      std::string key = core::ObjectKey(item);
      if (key.empty()) {
        spdlog::warn("informer {}: list item without metadata.name skipped", Describe());
        continue;
      }
      fresh.emplace(std::move(key), &item);
    }
  }
  // Deliver only the difference: handlers see what changed while the watch was broken.
  std::vector<std::pair<std::string, ObjectPtr>> gone;
  for (const auto& [key, object] : cache_) {
    if (!fresh.count(key)) gone.emplace_back(key, object);
  }
  for (auto& [key, item] : fresh) {
    if (stopped_) co_return;
    auto existing = cache_.find(key);
    if (existing == cache_.end()) {
      ObjectPtr object = Prepare(std::move(*item));
      Upsert(key, object);
      NotifyAdd(object);
    } else if (core::MetadataString(*existing->second, "resourceVersion") != core::MetadataString(*item, "resourceVersion")) {
      ObjectPtr old_object = existing->second;
      ObjectPtr object = Prepare(std::move(*item));
      Upsert(key, object);
      NotifyUpdate(old_object, object);
    }
  }
  for (auto& [key, object] : gone) {
    if (stopped_) co_return;
    Remove(key, object);
    NotifyDelete(object);
  }
  last_rv_ = rv;
  if (!synced_) {
    synced_ = true;
    sync_signal_.cancel();
    spdlog::debug("informer {}: synced {} objects at resourceVersion {}", Describe(), cache_.size(), rv);
  }
}

asio::awaitable<void> Informer::WatchOnce() {
  ListOptions watch_options;
  watch_options.label_selector = options_.label_selector;
  watch_options.field_selector = options_.field_selector;
  watch_options.resource_version = last_rv_;
  watch_options.allow_bookmarks = true;
  auto t = static_cast<int>(options_.watch_timeout.count());
  if (t > 0) watch_options.timeout_seconds = t + std::uniform_int_distribution<int>(0, t - 1)(rng_);
  auto watch_op = client_->Watch(resource_, options_.ns, watch_options);
  auto stream = co_await std::move(watch_op);
  ++stats_.watches;
  if (stopped_) {
    stream->Cancel();
    co_return;
  }
  stream_ = std::move(stream);
  for (;;) {
    std::optional<WatchEvent> event = co_await stream_->Next();
    if (stopped_ || !event) break;
    ApplyEvent(std::move(*event));
  }
  stream_.reset();
}

void Informer::ApplyEvent(WatchEvent&& event) {
  json& object = event.object;
  if (event.type == WatchEvent::Type::kError) {
    core::ApiError error = ErrorFromStatus(object);
    // Any error but Expired leaves us unsure what we missed: relist after the backoff.
    if (!error.IsExpired()) relist_needed_ = true;
    throw error;
  }
  // A copy: the object is moved into the cache below.
  const std::string rv = core::MetadataString(object, "resourceVersion");
  if (event.type == WatchEvent::Type::kBookmark) {
    if (!rv.empty()) last_rv_ = rv;
    return;
  }
  std::string key = core::ObjectKey(object);
  if (key.empty()) {
    ++stats_.ignored_events;
    spdlog::warn("informer {}: {} event without metadata.name ignored", Describe(), EventTypeName(event.type));
    return;
  }
  auto existing = cache_.find(key);
  if (event.type == WatchEvent::Type::kDeleted) {
    if (existing == cache_.end()) {
      ++stats_.ignored_events;
    } else {
      ObjectPtr last = Prepare(std::move(object));
      Remove(key, last);
      NotifyDelete(last);
      ++stats_.events;
    }
  } else if (existing != cache_.end() && !rv.empty() &&
             core::MetadataString(*existing->second, "resourceVersion") == rv) {
    // Seen already (a server replaying from an older version): not news to handlers.
    ++stats_.ignored_events;
  } else {
    ObjectPtr old_object = existing == cache_.end() ? nullptr : existing->second;
    ObjectPtr fresh = Prepare(std::move(object));
    Upsert(key, fresh);
    if (old_object) {
      NotifyUpdate(old_object, fresh);
    } else {
      NotifyAdd(fresh);
    }
    ++stats_.events;
  }
  if (!rv.empty()) last_rv_ = rv;
}

void Informer::Upsert(const std::string& key, ObjectPtr object) {
  auto it = cache_.find(key);
  if (it != cache_.end()) {
    IndexErase(key, *it->second);
    it->second = std::move(object);
    IndexInsert(key, *it->second);
  } else {
    auto inserted = cache_.emplace(key, std::move(object)).first;
    IndexInsert(key, *inserted->second);
  }
}

void Informer::Remove(const std::string& key, const ObjectPtr& last_known) {
  (void)last_known;
  auto it = cache_.find(key);
  if (it == cache_.end()) return;
  IndexErase(key, *it->second);
  cache_.erase(it);
}

void Informer::IndexInsert(const std::string& key, const json& object) {
  for (auto& [name, index] : indexes_) {
    for (auto& value : index.func(object)) index.keys_by_value[value].insert(key);
  }
}

void Informer::IndexErase(const std::string& key, const json& object) {
  for (auto& [name, index] : indexes_) {
    for (auto& value : index.func(object)) {
      auto it = index.keys_by_value.find(value);
      if (it == index.keys_by_value.end()) continue;
      it->second.erase(key);
      if (it->second.empty()) index.keys_by_value.erase(it);
    }
  }
}

std::vector<std::shared_ptr<Informer::HandlerEntry>> Informer::HandlersSnapshot() const { return handlers_; }

void Informer::NotifyAdd(const ObjectPtr& object) {
  for (const auto& entry : HandlersSnapshot()) {
    if (stopped_) return;
    if (!entry->active || !entry->handler.on_add) continue;
    try {
      entry->handler.on_add(object);
    } catch (const std::exception& e) {
      spdlog::error("informer {}: add handler failed for {}: {}", Describe(), core::ObjectKey(*object), e.what());
    }
  }
}

void Informer::NotifyUpdate(const ObjectPtr& old_object, const ObjectPtr& new_object) {
  for (const auto& entry : HandlersSnapshot()) {
    if (stopped_) return;
    if (!entry->active || !entry->handler.on_update) continue;
    try {
      entry->handler.on_update(old_object, new_object);
    } catch (const std::exception& e) {
      spdlog::error("informer {}: update handler failed for {}: {}", Describe(), core::ObjectKey(*new_object), e.what());
    }
  }
}

void Informer::NotifyDelete(const ObjectPtr& object) {
  for (const auto& entry : HandlersSnapshot()) {
    if (stopped_) return;
    if (!entry->active || !entry->handler.on_delete) continue;
    try {
      entry->handler.on_delete(object);
    } catch (const std::exception& e) {
      spdlog::error("informer {}: delete handler failed for {}: {}", Describe(), core::ObjectKey(*object), e.what());
    }
  }
}

}  // namespace sluice::kube
