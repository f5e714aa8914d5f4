#include "kube/event_recorder.h"

#include "core/object_key.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace sluice::kube {
namespace {

const char* TypeName(EventType type) { return type == EventType::kWarning ? "Warning" : "Normal"; }

// Cuts at a character boundary so the API never sees broken UTF-8.
std::string Truncate(const std::string& text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut);
}

}  // namespace

ApiResource EventResource() {
  ApiResource r;
  r.version = "v1";
  r.resource = "events";
  r.kind = "Event";
  r.singular = "event";
  r.short_names = {"ev"};
  r.namespaced = true;
  return r;
}

std::shared_ptr<EventRecorder> EventRecorder::Create(std::shared_ptr<Client> client, EventRecorderOptions options) {
  if (!client) throw std::invalid_argument("event recorder: client is null");
  if (options.component.empty()) throw std::invalid_argument("event recorder: component is required");
  if (options.per_object_burst < 1 || options.per_object_refill.count() <= 0) {
    throw std::invalid_argument("event recorder: per_object_burst must be >= 1 and per_object_refill positive");
  }
  if (options.max_queue == 0) throw std::invalid_argument("event recorder: max_queue must be positive");
  return std::shared_ptr<EventRecorder>(new EventRecorder(std::move(client), std::move(options)));
}

EventRecorder::EventRecorder(std::shared_ptr<Client> client, EventRecorderOptions options)
    : client_(std::move(client)),
      options_(std::move(options)),
      clock_(options_.clock ? *options_.clock : core::SystemClock::Instance()),
      events_(EventResource()),
      idle_signal_(client_->executor(), asio::steady_timer::time_point::max()) {}

void EventRecorder::Record(const json& object, EventType type, const std::string& reason,
                           const std::string& message) {
  if (shut_down_) return;
  const std::string& name = core::MetadataString(object, "name");
  if (name.empty() || reason.empty() || !object.is_object()) {
    ++stats_.invalid;
    spdlog::warn("event recorder: dropped event '{}': the object needs metadata.name and the event a reason",
                 reason);
    return;
  }
  const std::string& ns = core::MetadataString(object, "namespace");
  std::string kind = object.value("kind", std::string());
  std::string api_version = object.value("apiVersion", std::string());
  json involved = {{"kind", kind}, {"apiVersion", api_version}, {"name", name}};
  if (!ns.empty()) involved["namespace"] = ns;
  if (const auto& uid = core::MetadataString(object, "uid"); !uid.empty()) involved["uid"] = uid;
  if (const auto& rv = core::MetadataString(object, "resourceVersion"); !rv.empty()) involved["resourceVersion"] = rv;

  core::TimePoint now = clock_.Now();
  std::string object_key = api_version + "/" + kind + "/" + core::ObjectKey(ns, name) + "/" + core::MetadataString(object, "uid");
  if (!Allow(object_key, now)) {
    ++stats_.rate_limited;
    spdlog::debug("event recorder: rate limit for {} dropped {}", object_key, reason);
    return;
  }
  if (queue_.size() >= options_.max_queue) {
    ++stats_.queue_full;
    spdlog::warn("event recorder: {} events waiting; dropped {} for {}", queue_.size(), reason, object_key);
    return;
  }
  std::string text = Truncate(message, options_.max_message_bytes);
  std::string series_key = object_key + "\n" + reason + "\n" + TypeName(type) + "\n" + text;
  queue_.push_back(Pending{std::move(series_key), std::move(involved),
                           ns.empty() ? std::string("default") : ns,  // cluster-scoped objects: "default", as kubectl looks there
                           type, reason, std::move(text), now});
  if (!draining_) {
    draining_ = true;
    asio::co_spawn(client_->executor(), Drain(), [self = shared_from_this()](std::exception_ptr e) {
      self->draining_ = false;
      self->idle_signal_.cancel();
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("event recorder: writer stopped: {}", ex.what());
      }
    });
  }
}

bool EventRecorder::Allow(const std::string& object_key, core::TimePoint now) {
  double rate = 1.0 / std::chrono::duration<double>(options_.per_object_refill).count();
  auto [it, fresh] = buckets_.try_emplace(object_key, Bucket{static_cast<double>(options_.per_object_burst), now});
  Bucket& b = it->second;
  if (!fresh && now > b.at) {
    b.tokens = std::min<double>(options_.per_object_burst,
                                b.tokens + std::chrono::duration<double>(now - b.at).count() * rate);
    b.at = now;
  }
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  if (buckets_.size() > options_.max_tracked) Prune(now);
  return true;
}

void EventRecorder::Prune(core::TimePoint now) {
  // A bucket that has refilled is no different from a new one; a series past its window
  // will not be patched again.
  double rate = 1.0 / std::chrono::duration<double>(options_.per_object_refill).count();
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    double tokens = it->second.tokens + std::chrono::duration<double>(now - it->second.at).count() * rate;
    it = tokens >= options_.per_object_burst ? buckets_.erase(it) : std::next(it);
  }
  for (auto it = series_.begin(); it != series_.end();) {
    it = now - it->second.last_seen >= options_.aggregation_window ? series_.erase(it) : std::next(it);
  }
  // Still too many live entries: forget arbitrary ones rather than grow without bound.
  while (buckets_.size() > options_.max_tracked) buckets_.erase(buckets_.begin());
  while (series_.size() > options_.max_tracked) series_.erase(series_.begin());
}

asio::awaitable<void> EventRecorder::Drain() {
  auto self = shared_from_this();
  while (!queue_.empty()) {
    Pending event = std::move(queue_.front());
    queue_.pop_front();
    try {
      co_await Write(event);
    } catch (const std::exception& e) {
      ++stats_.failed;
      spdlog::warn("event recorder: could not write {} event {} for {} {}/{}: {}", TypeName(event.type), event.reason,
                   event.involved.value("kind", ""), event.ns, event.involved.value("name", ""), e.what());
    }
  }
  // Cleared here, with no suspension after the last empty check, so a Record() arriving
  // now always starts a new writer.
  draining_ = false;
  idle_signal_.cancel();
}

asio::awaitable<void> EventRecorder::Write(const Pending& event) {
  auto series = series_.find(event.series_key);
  if (series != series_.end() && event.time - series->second.last_seen < options_.aggregation_window) {
    int64_t count = series->second.count + 1;
    json patch = {{"count", count}, {"lastTimestamp", core::FormatTime(event.time)}};
    PatchOptions patch_options;  // named: see the g++ 12 note in kube/client.h
    bool gone = false;
    try {
      auto op = client_->Patch(events_, series->second.ns, series->second.name, PatchType::kMerge, patch,
                               patch_options);
      co_await std::move(op);
    } catch (const core::ApiError& e) {
      // Events expire (the API server's event TTL) or get deleted: start a new one.
      if (!e.IsNotFound()) throw;
      gone = true;
    }
    series = series_.find(event.series_key);
    if (!gone) {
      if (series != series_.end()) {
        series->second.count = count;
        series->second.last_seen = event.time;
      }
      ++stats_.patched;
      co_return;
    }
    if (series != series_.end()) series_.erase(series);
  }

  WriteOptions write_options;
  for (int attempt = 0;; ++attempt) {
    std::string name = NextName(event.involved["name"].get<std::string>());
    json body = NewEvent(event, name);
    try {
      auto op = client_->Create(events_, event.ns, body, write_options);
      co_await std::move(op);
    } catch (const core::ApiError& e) {
      if (e.IsAlreadyExists() && attempt == 0) continue;  // another replica picked the same suffix
      throw;
    }
    series_[event.series_key] = Series{name, event.ns, 1, event.time};
    if (series_.size() > options_.max_tracked) Prune(event.time);
    ++stats_.created;
    co_return;
  }
}

std::string EventRecorder::NextName(const std::string& object_name) {
  auto nanos = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(clock_.Now().time_since_epoch()).count());
  last_suffix_ = std::max(nanos, last_suffix_ + 1);
  char suffix[24];
  std::snprintf(suffix, sizeof suffix, "%llx", static_cast<unsigned long long>(last_suffix_));
  // Names are at most 253 characters; keep the suffix whole.
  std::string prefix = object_name.substr(0, 253 - 1 - std::string(suffix).size());
  return prefix + "." + suffix;
}

json EventRecorder::NewEvent(const Pending& event, const std::string& name) const {
  std::string when = core::FormatTime(event.time);
  json source = {{"component", options_.component}};
  if (!options_.instance.empty()) source["host"] = options_.instance;
  return json{{"apiVersion", "v1"},
              {"kind", "Event"},
              {"metadata", {{"name", name}, {"namespace", event.ns}}},
              {"involvedObject", event.involved},
              {"reason", event.reason},
              {"message", event.message},
              {"type", TypeName(event.type)},
              {"source", source},
              {"firstTimestamp", when},
              {"lastTimestamp", when},
              {"count", 1},
              {"reportingComponent", options_.component},
              {"reportingInstance", options_.instance}};
}

asio::awaitable<void> EventRecorder::Flush() {
  auto self = shared_from_this();
  while (draining_ || !queue_.empty()) {
    boost::system::error_code ec;
    co_await idle_signal_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

}  // namespace sluice::kube
