// An in-memory kube::Client for deterministic unit tests of informers, leader election and
// the event recorder: one global resourceVersion counter, an event history for watches from
// a version, and knobs to inject what real clusters do to controllers (410 Expired, dropped
// and ended streams, failing verbs, slow calls).
//
// Single-threaded: use it on the io_context the code under test runs on.
#pragma once

#include "core/api_error.h"
#include "kube/client.h"
#include "core/clock.h"
#include "core/object_key.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace sluice::kube::testing {

inline ApiResource DeploymentsResource() {
  ApiResource r;
  r.group = "apps";
  r.version = "v1";
  r.resource = "deployments";
  r.kind = "Deployment";
  r.singular = "deployment";
  r.short_names = {"deploy"};
  r.has_status = true;
  r.has_scale = true;
  return r;
}

inline ApiResource ConfigMapsResource() {
  ApiResource r;
  r.version = "v1";
  r.resource = "configmaps";
  r.kind = "ConfigMap";
  r.singular = "configmap";
  r.short_names = {"cm"};
  return r;
}

inline ApiResource LeasesResource() {
  ApiResource r;
  r.group = "coordination.k8s.io";
  r.version = "v1";
  r.resource = "leases";
  r.kind = "Lease";
  r.singular = "lease";
  return r;
}

inline ApiResource EventsResource() {
  ApiResource r;
  r.version = "v1";
  r.resource = "events";
  r.kind = "Event";
  r.singular = "event";
  r.short_names = {"ev"};
  return r;
}

inline ApiResource NamespacesResource() {
  ApiResource r;
  r.version = "v1";
  r.resource = "namespaces";
  r.kind = "Namespace";
  r.singular = "namespace";
  r.namespaced = false;
  return r;
}

// Runs the loop until `done()` holds or `timeout` passes; returns done().
template <class Pred>
bool RunUntil(boost::asio::io_context& io, Pred done,
              std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (io.stopped()) io.restart();
    io.run_one_for(std::chrono::milliseconds(5));
  }
  return true;
}

// Runs the loop for a while (for "nothing more happens" checks).
inline void RunFor(boost::asio::io_context& io, std::chrono::milliseconds d) {
  auto deadline = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < deadline) {
    if (io.stopped()) io.restart();
    io.run_one_for(std::chrono::milliseconds(5));
  }
}

class FakeClient : public Client {
 public:
  explicit FakeClient(boost::asio::any_io_executor executor, std::string default_ns = "default")
      : executor_(std::move(executor)), default_ns_(std::move(default_ns)) {
    for (auto r : {DeploymentsResource(), ConfigMapsResource(), LeasesResource(), EventsResource(),
                   NamespacesResource()}) {
      AddResource(r);
    }
  }

  void AddResource(ApiResource r) { resources_.push_back(std::move(r)); }

  // ---- direct store access (as if another client wrote) ----

  json Seed(const ApiResource& res, json object) { return DoCreate(res, core::MetadataString(object, "namespace"), std::move(object)); }
  json Modify(const ApiResource& res, json object) {
    object["metadata"].erase("resourceVersion");
    return DoUpdate(res, std::move(object));
  }
  void Remove(const ApiResource& res, const std::string& ns, const std::string& name) { DoDelete(res, ns, name); }
  std::optional<json> Peek(const ApiResource& res, const std::string& ns, const std::string& name) const {
    auto bucket = store_.find(res.GroupResource());
    if (bucket == store_.end()) return std::nullopt;
    auto it = bucket->second.find(core::ObjectKey(res.namespaced ? ns : "", name));
    if (it == bucket->second.end()) return std::nullopt;
    return it->second;
  }
  std::vector<json> Objects(const ApiResource& res) const {
    std::vector<json> out;
    auto bucket = store_.find(res.GroupResource());
    if (bucket == store_.end()) return out;
    for (const auto& [k, v] : bucket->second) out.push_back(v);
    return out;
  }
  int64_t resource_version() const { return rv_; }

  // ---- fault injection ----

  // Forget history: watches from any version before now get an ERROR 410 event.
  void Compact() { compacted_rv_ = rv_; history_.clear(); }
  // Open streams receive ERROR 410 Expired (what a server does when its watch cache moved on).
  void ExpireWatches() {
    Compact();
    json status = core::ApiError::Expired("too old resource version: injected").ToStatus();
    ForEachWatch([&](WatchState& w) { w.Push({WatchEvent::Type::kError, status}); });
  }
  // Open streams fail with a transport error on their next read.
  void DropWatches() {
    ForEachWatch([](WatchState& w) {
      w.dropped = true;
      w.signal.cancel();
    });
  }
  // Open streams end cleanly (as at timeoutSeconds).
  void EndWatches() {
    ForEachWatch([](WatchState& w) {
      w.ended = true;
      w.signal.cancel();
    });
  }
  void SendBookmarks() {
    ForEachWatch([&](WatchState& w) {
      json bookmark = {{"kind", w.kind}, {"apiVersion", w.api_version},
                       {"metadata", {{"resourceVersion", std::to_string(rv_)}}}};
      if (w.options.allow_bookmarks) w.Push({WatchEvent::Type::kBookmark, bookmark});
    });
  }
  // The next `times` calls of `verb` (get, list, create, update, patch, apply, delete, watch)
  // throw `error`.
  void FailNext(const std::string& verb, const core::ApiError& error, int times = 1) {
    for (int i = 0; i < times; ++i) failures_[verb].push_back(error);
  }
  void ClearFailures() { failures_.clear(); }
  // Every call but watch reads takes this long (a slow or hung API server).
  void SetLatency(std::chrono::milliseconds latency) { latency_ = latency; }

  int Calls(const std::string& verb) const {
    auto it = calls_.find(verb);
    return it == calls_.end() ? 0 : it->second;
  }
  int TotalCalls() const {
    int n = 0;
    for (const auto& [verb, count] : calls_) n += count;
    return n;
  }
  int OpenWatches() {
    int n = 0;
    ForEachWatch([&](WatchState&) { ++n; });
    return n;
  }
  const std::vector<ListOptions>& watch_requests() const { return watch_requests_; }

  // ---- Client ----

  boost::asio::awaitable<ApiResource> Resolve(std::string api_version, std::string kind_or_resource) override {
    co_await Enter("resolve");
    for (const auto& r : resources_) {
      if (r.ApiVersion() != api_version) continue;
      if (r.kind == kind_or_resource || r.resource == kind_or_resource || r.singular == kind_or_resource ||
          std::count(r.short_names.begin(), r.short_names.end(), kind_or_resource)) {
        co_return r;
      }
    }
    throw core::ApiError(404, "NotFound", "the server doesn't have a resource type \"" + kind_or_resource + "\" in " + api_version);
  }

  boost::asio::awaitable<json> Get(const ApiResource& res, std::string ns, std::string name,
                                   [[maybe_unused]] std::string subresource = "") override {
    co_await Enter("get");
    auto found = Peek(res, ns, name);
    if (!found) throw core::ApiError::NotFound(res.group, res.resource, name);
    co_return *found;
  }

  boost::asio::awaitable<json> List(const ApiResource& res, std::string ns, ListOptions options = {}) override {
    co_await Enter("list");
    co_return ListPage(res, ns, options);
  }

  boost::asio::awaitable<json> ListAll(const ApiResource& res, std::string ns, ListOptions options = {}) override {
    co_await Enter("list");
    json result = ListPage(res, ns, options);
    while (!result["metadata"].value("continue", std::string()).empty()) {
      ListOptions next = options;
      next.continue_token = result["metadata"]["continue"];
      json page = ListPage(res, ns, next);
      for (auto& item : page["items"]) result["items"].push_back(std::move(item));
      result["metadata"]["continue"] = page["metadata"].value("continue", std::string());
    }
    result["metadata"].erase("continue");
    co_return result;
  }

  boost::asio::awaitable<json> Create(const ApiResource& res, std::string ns, json object,
                                      [[maybe_unused]] WriteOptions options = {}) override {
    co_await Enter("create");
    co_return DoCreate(res, ns, std::move(object));
  }

  boost::asio::awaitable<json> Update(const ApiResource& res, json object, [[maybe_unused]] WriteOptions options = {},
                                      [[maybe_unused]] std::string subresource = "") override {
    co_await Enter("update");
    co_return DoUpdate(res, std::move(object));
  }

  boost::asio::awaitable<json> Patch(const ApiResource& res, std::string ns, std::string name, PatchType type,
                                     json patch, [[maybe_unused]] PatchOptions options = {}) override {
    co_await Enter("patch");
    auto current = Peek(res, ns, name);
    if (!current) {
      if (type != PatchType::kApply) throw core::ApiError::NotFound(res.group, res.resource, name);
      patch["metadata"]["name"] = name;
      co_return DoCreate(res, ns, std::move(patch));
    }
    json updated = *current;
    if (type == PatchType::kJson) {
      updated = updated.patch(patch);
    } else {
      // Merge semantics are close enough to strategic merge for the flat fields tests patch.
      const std::string& want_rv = core::MetadataString(patch, "resourceVersion");
      if (!want_rv.empty() && want_rv != core::MetadataString(*current, "resourceVersion")) {
        throw core::ApiError::Conflict(res.group, res.resource, name, "the object has been modified");
      }
      updated.merge_patch(patch);
    }
    updated["metadata"]["resourceVersion"] = (*current)["metadata"]["resourceVersion"];
    co_return DoUpdate(res, std::move(updated));
  }

  boost::asio::awaitable<json> Apply(const ApiResource& res, json object, [[maybe_unused]] std::string field_manager,
                                     [[maybe_unused]] bool force = false,
                                     [[maybe_unused]] std::string subresource = "") override {
    co_await Enter("apply");
    std::string ns = core::MetadataString(object, "namespace");
    std::string name = core::MetadataString(object, "name");
    auto current = Peek(res, ns, name);
    if (!current) co_return DoCreate(res, ns, std::move(object));
    json updated = *current;
    updated.merge_patch(object);
    updated["metadata"]["resourceVersion"] = (*current)["metadata"]["resourceVersion"];
    co_return DoUpdate(res, std::move(updated));
  }

  boost::asio::awaitable<json> Delete(const ApiResource& res, std::string ns, std::string name,
                                      [[maybe_unused]] DeleteOptions options = {}) override {
    co_await Enter("delete");
    DoDelete(res, ns, name);
    co_return json{{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Success"},
                   {"details", {{"name", name}, {"group", res.group}, {"kind", res.resource}}}};
  }

  boost::asio::awaitable<std::unique_ptr<WatchStream>> Watch(const ApiResource& res, std::string ns,
                                                             ListOptions options) override {
    co_await Enter("watch");
    watch_requests_.push_back(options);
    auto state = std::make_shared<WatchState>(executor_);
    state->group_resource = res.GroupResource();
    state->kind = res.kind;
    state->api_version = res.ApiVersion();
    state->ns = res.namespaced ? ns : "";
    state->options = options;
    const std::string& from = options.resource_version;
    if (from.empty() || from == "0") {
      for (const auto& object : Objects(res)) {
        if (Matches(*state, object)) state->Push({WatchEvent::Type::kAdded, object});
      }
    } else {
      int64_t from_rv = std::stoll(from);
      if (from_rv < compacted_rv_) {
        state->Push({WatchEvent::Type::kError,
                     core::ApiError::Expired("too old resource version: " + from + " (" + std::to_string(compacted_rv_) + ")")
                         .ToStatus()});
      } else {
        for (const auto& entry : history_) {
          if (entry.rv > from_rv && entry.group_resource == state->group_resource && Matches(*state, entry.object)) {
            state->Push({entry.type, entry.object});
          }
        }
      }
    }
    watches_.push_back(state);
    co_return std::make_unique<Stream>(state);
  }

  boost::asio::awaitable<json> GetPath(std::string path) override {
    co_await Enter("getpath");
    if (path == "/version") co_return json{{"gitVersion", "v1.32.0"}};
    throw core::ApiError(404, "NotFound", "the server could not find the requested resource");
  }

  boost::asio::any_io_executor executor() const override { return executor_; }
  const std::string& default_namespace() const override { return default_ns_; }

 private:
  struct WatchState {
    explicit WatchState(boost::asio::any_io_executor ex) : signal(ex, boost::asio::steady_timer::time_point::max()) {}
    void Push(WatchEvent event) {
      pending.push_back(std::move(event));
      signal.cancel();
    }
    std::string group_resource, kind, api_version, ns;
    ListOptions options;
    std::deque<WatchEvent> pending;
    bool ended = false, dropped = false, cancelled = false, closed = false;
    boost::asio::steady_timer signal;
  };

  class Stream : public WatchStream {
   public:
    explicit Stream(std::shared_ptr<WatchState> state) : state_(std::move(state)) {}
    ~Stream() override { state_->closed = true; }
    boost::asio::awaitable<std::optional<WatchEvent>> Next() override {
      for (;;) {
        if (state_->cancelled) co_return std::nullopt;
        if (!state_->pending.empty()) {
          WatchEvent event = std::move(state_->pending.front());
          state_->pending.pop_front();
          co_return event;
        }
        if (state_->dropped) {
          state_->closed = true;
          throw core::ApiError::Unavailable("watch stream reset (injected)");
        }
        if (state_->ended) {
          state_->closed = true;
          co_return std::nullopt;
        }
        boost::system::error_code ec;
        co_await state_->signal.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
      }
    }
    void Cancel() override {
      state_->cancelled = true;
      state_->closed = true;
      state_->signal.cancel();
    }

   private:
    std::shared_ptr<WatchState> state_;
  };

  struct HistoryEntry {
    int64_t rv;
    std::string group_resource;
    WatchEvent::Type type;
    json object;
  };

  boost::asio::awaitable<void> Enter(const char* verb) {
    ++calls_[verb];
    // Yield as a network call would, so concurrent coroutines interleave.
    if (latency_.count() > 0) {
      boost::asio::steady_timer timer(executor_, latency_);
      boost::system::error_code ec;
      co_await timer.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    } else {
      co_await boost::asio::post(executor_, boost::asio::use_awaitable);
    }
    auto it = failures_.find(verb);
    if (it != failures_.end() && !it->second.empty()) {
      core::ApiError error = it->second.front();
      it->second.pop_front();
      throw error;
    }
  }

  template <class F>
  void ForEachWatch(F f) {
    std::vector<std::shared_ptr<WatchState>> live;
    for (auto& w : watches_) {
      if (!w->closed) live.push_back(w);
    }
    watches_ = live;
    for (auto& w : live) f(*w);
  }

  static bool LabelsMatch(const std::string& selector, const json& object) {
    json labels = object.contains("metadata") ? object["metadata"].value("labels", json::object()) : json::object();
    size_t start = 0;
    while (start < selector.size()) {
      size_t comma = selector.find(',', start);
      std::string term = selector.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      start = comma == std::string::npos ? selector.size() : comma + 1;
      if (term.empty()) continue;
      if (term.find(" in ") != std::string::npos || term.find(" notin ") != std::string::npos) {
        throw core::ApiError::BadRequest("fake client: set-based selector not supported: " + term);
      }
      if (auto ne = term.find("!="); ne != std::string::npos) {
        std::string k = term.substr(0, ne), v = term.substr(ne + 2);
        if (labels.contains(k) && labels[k] == v) return false;
      } else if (auto eq = term.find('='); eq != std::string::npos) {
        std::string k = term.substr(0, eq), v = term.substr(term[eq + 1] == '=' ? eq + 2 : eq + 1);
        if (!labels.contains(k) || labels[k] != v) return false;
      } else if (term[0] == '!') {
        if (labels.contains(term.substr(1))) return false;
      } else if (!labels.contains(term)) {
        return false;
      }
    }
    return true;
  }

  static bool FieldsMatch(const std::string& selector, const json& object) {
    size_t start = 0;
    while (start < selector.size()) {
      size_t comma = selector.find(',', start);
      std::string term = selector.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      start = comma == std::string::npos ? selector.size() : comma + 1;
      bool negate = term.find("!=") != std::string::npos;
      auto op = term.find(negate ? "!=" : "=");
      if (op == std::string::npos) throw core::ApiError::BadRequest("fake client: bad field selector " + term);
      std::string field = term.substr(0, op);
      std::string value = term.substr(op + (negate ? 2 : (term[op + 1] == '=' ? 2 : 1)));
      std::string actual;
      if (field == "metadata.name") {
        actual = core::MetadataString(object, "name");
      } else if (field == "metadata.namespace") {
        actual = core::MetadataString(object, "namespace");
      } else {
        throw core::ApiError::BadRequest("field label not supported: " + field);
      }
      if ((actual == value) == negate) return false;
    }
    return true;
  }

  static bool Matches(const WatchState& w, const json& object) {
    if (!w.ns.empty() && core::MetadataString(object, "namespace") != w.ns) return false;
    return LabelsMatch(w.options.label_selector, object) && FieldsMatch(w.options.field_selector, object);
  }

  const ApiResource& Known(const ApiResource& res) const {
    for (const auto& r : resources_) {
      if (r.GroupResource() == res.GroupResource()) return r;
    }
    return res;
  }

  json ListPage(const ApiResource& res, const std::string& ns, const ListOptions& options) {
    WatchState filter(executor_);
    filter.ns = res.namespaced ? ns : "";
    filter.options = options;
    json items = json::array();
    std::string next;
    auto bucket = store_.find(res.GroupResource());
    if (bucket != store_.end()) {
      auto it = options.continue_token.empty() ? bucket->second.begin() : bucket->second.upper_bound(options.continue_token);
      for (; it != bucket->second.end(); ++it) {
        if (!Matches(filter, it->second)) continue;
        if (options.limit > 0 && static_cast<int64_t>(items.size()) == options.limit) {
          next = core::ObjectKey(items.back());
          break;
        }
        json item = it->second;
        // Like the API server: list items of built-in kinds carry no kind/apiVersion.
        item.erase("kind");
        item.erase("apiVersion");
        items.push_back(std::move(item));
      }
    }
    json meta = {{"resourceVersion", std::to_string(rv_)}};
    if (!next.empty()) meta["continue"] = next;
    return json{{"kind", res.kind + "List"}, {"apiVersion", res.ApiVersion()}, {"metadata", meta}, {"items", items}};
  }

  std::string NextRv() { return std::to_string(++rv_); }

  void Record(const ApiResource& res, WatchEvent::Type type, const json& object) {
    history_.push_back({rv_, res.GroupResource(), type, object});
    ForEachWatch([&](WatchState& w) {
      if (w.group_resource == res.GroupResource() && Matches(w, object)) w.Push({type, object});
    });
  }

  json DoCreate(const ApiResource& res, const std::string& ns_arg, json object) {
    if (!object.is_object()) throw core::ApiError::BadRequest("fake client: object is not a JSON object");
    json& meta = object["metadata"];
    std::string ns = ns_arg.empty() ? meta.value("namespace", std::string()) : ns_arg;
    if (res.namespaced && ns.empty()) ns = default_ns_;
    if (!res.namespaced) ns.clear();
    if (!meta.contains("name") || meta["name"].get<std::string>().empty()) {
      if (meta.value("generateName", std::string()).empty()) {
        throw core::ApiError::Invalid(res.kind, "", {{"FieldValueRequired", "name or generateName is required", "metadata.name"}});
      }
      meta["name"] = meta["generateName"].get<std::string>() + std::to_string(++uid_);
    }
    std::string name = meta["name"];
    std::string key = core::ObjectKey(ns, name);
    auto& bucket = store_[res.GroupResource()];
    if (bucket.count(key)) throw core::ApiError::AlreadyExists(res.group, res.resource, name);
    if (!ns.empty()) meta["namespace"] = ns;
    meta["uid"] = "uid-" + std::to_string(++uid_);
    meta["resourceVersion"] = NextRv();
    meta["creationTimestamp"] = core::FormatTime(core::SystemClock::Instance().Now());
    meta["generation"] = 1;
    const ApiResource& known = Known(res);
    object["kind"] = known.kind.empty() ? res.kind : known.kind;
    object["apiVersion"] = res.ApiVersion();
    bucket[key] = object;
    Record(res, WatchEvent::Type::kAdded, object);
    return object;
  }

  json DoUpdate(const ApiResource& res, json object) {
    std::string ns = res.namespaced ? core::MetadataString(object, "namespace") : "";
    std::string name = core::MetadataString(object, "name");
    auto& bucket = store_[res.GroupResource()];
    auto it = bucket.find(core::ObjectKey(ns, name));
    if (it == bucket.end()) throw core::ApiError::NotFound(res.group, res.resource, name);
    const std::string& want_rv = core::MetadataString(object, "resourceVersion");
    if (!want_rv.empty() && want_rv != core::MetadataString(it->second, "resourceVersion")) {
      throw core::ApiError::Conflict(res.group, res.resource, name,
                               "the object has been modified; please apply your changes to the latest version and try again");
    }
    json& meta = object["metadata"];
    const json& old_meta = it->second["metadata"];
    meta["uid"] = old_meta["uid"];
    meta["creationTimestamp"] = old_meta["creationTimestamp"];
    int64_t generation = old_meta.value("generation", 1);
    if (object.value("spec", json()) != it->second.value("spec", json())) ++generation;
    meta["generation"] = generation;
    object["kind"] = it->second["kind"];
    object["apiVersion"] = it->second["apiVersion"];
    json without_rv = object;
    without_rv["metadata"].erase("resourceVersion");
    json old_without_rv = it->second;
    old_without_rv["metadata"].erase("resourceVersion");
    // A no-op write does not bump resourceVersion or emit an event, as on a real server.
    if (without_rv == old_without_rv) return it->second;
    meta["resourceVersion"] = NextRv();
    it->second = object;
    Record(res, WatchEvent::Type::kModified, object);
    return object;
  }

  void DoDelete(const ApiResource& res, const std::string& ns, const std::string& name) {
    auto& bucket = store_[res.GroupResource()];
    auto it = bucket.find(core::ObjectKey(res.namespaced ? ns : "", name));
    if (it == bucket.end()) throw core::ApiError::NotFound(res.group, res.resource, name);
    json last = it->second;
    bucket.erase(it);
    last["metadata"]["resourceVersion"] = NextRv();
    Record(res, WatchEvent::Type::kDeleted, last);
  }

  boost::asio::any_io_executor executor_;
  std::string default_ns_;
  std::vector<ApiResource> resources_;
  std::map<std::string, std::map<std::string, json>> store_;  // group-resource -> key -> object
  std::vector<HistoryEntry> history_;
  std::vector<std::shared_ptr<WatchState>> watches_;
  std::map<std::string, std::deque<core::ApiError>> failures_;
  std::map<std::string, int> calls_;
  std::vector<ListOptions> watch_requests_;
  std::chrono::milliseconds latency_{0};
  int64_t rv_ = 100;
  int64_t compacted_rv_ = 0;
  int64_t uid_ = 0;
};

}  // namespace sluice::kube::testing
