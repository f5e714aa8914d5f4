// kube::Client over the HTTP transport: paths and query strings for every verb, discovery,
// the client-side rate limit and retries with backoff. Beast stays in http_transport.cc.
#include "core/backoff.h"
#include "core/object_key.h"
#include "kube/client.h"
#include "kube/discovery.h"
#include "kube/http_transport.h"
#include "kube/rate_limiter.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <map>
#include <utility>

// GCC 12 reports asio's awaitable frame deallocation in some coroutines (here ListAll, at -O1
// with sanitizers) as a mismatched new/delete: a false positive, as the frame's operator new
// and operator delete are the pair asio declares together.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace sluice::kube {
namespace {

using asio::use_awaitable;

std::string PercentEncode(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

class Query {
 public:
  Query& Add(const std::string& key, const std::string& value) {
    if (!value.empty()) params_.emplace_back(key, value);
    return *this;
  }
  std::string Apply(std::string path) const {
    char sep = '?';
    for (const auto& [k, v] : params_) {
      path += sep;
      path += k + "=" + PercentEncode(v);
      sep = '&';
    }
    return path;
  }

 private:
  std::vector<std::pair<std::string, std::string>> params_;
};

void AddWriteParams(Query& q, const std::string& field_manager, const std::string& field_validation, bool dry_run) {
  q.Add("fieldManager", field_manager).Add("fieldValidation", field_validation);
  if (dry_run) q.Add("dryRun", "All");
}

void AddListParams(Query& q, const ListOptions& o) {
  q.Add("labelSelector", o.label_selector).Add("fieldSelector", o.field_selector);
  if (o.limit > 0) q.Add("limit", std::to_string(o.limit));
  q.Add("continue", o.continue_token);
}

const char* PatchContentType(PatchType type) {
  switch (type) {
    case PatchType::kJson:
      return "application/json-patch+json";
    case PatchType::kMerge:
      return "application/merge-patch+json";
    case PatchType::kStrategicMerge:
      return "application/strategic-merge-patch+json";
    case PatchType::kApply:
      return "application/apply-patch+yaml";
  }
  return "application/merge-patch+json";
}

// The API server decodes a body by its apiVersion and kind; callers may leave them to us.
json WithTypeMeta(json object, const ApiResource& res) {
  if (!object.is_object()) throw core::ApiError::BadRequest("a " + res.kind + " must be a JSON object");
  if (!object.contains("apiVersion")) object["apiVersion"] = res.ApiVersion();
  if (!object.contains("kind")) object["kind"] = res.kind;
  return object;
}

json ParseBody(const net::ClientResponse& r, const std::string& what) {
  auto parsed = json::parse(r.body, nullptr, false);
  if (parsed.is_discarded())
    throw core::ApiError(500, "InternalError",
                   what + ": the server answered HTTP " + std::to_string(r.status) + " with a body that is not JSON: " +
                       r.body.substr(0, 200));
  return parsed;
}

core::ApiError WithRetryAfter(core::ApiError e, const std::string& retry_after) {
  if (retry_after.empty() || e.retry_after_seconds() > 0) return e;
  int seconds = std::atoi(retry_after.c_str());
  if (seconds <= 0) return e;
  json details = e.details().is_object() ? e.details() : json::object();
  details["retryAfterSeconds"] = seconds;
  return core::ApiError(e.code(), e.reason(), e.message(), details);
}

std::optional<WatchEvent::Type> ParseEventType(const std::string& s) {
  if (s == "ADDED") return WatchEvent::Type::kAdded;
  if (s == "MODIFIED") return WatchEvent::Type::kModified;
  if (s == "DELETED") return WatchEvent::Type::kDeleted;
  if (s == "BOOKMARK") return WatchEvent::Type::kBookmark;
  if (s == "ERROR") return WatchEvent::Type::kError;
  return std::nullopt;
}

class HttpWatchStream final : public WatchStream {
 public:
  HttpWatchStream(std::unique_ptr<net::LineStream> lines, std::string what) : lines_(std::move(lines)), what_(std::move(what)) {}

  asio::awaitable<std::optional<WatchEvent>> Next() override {
    auto line = co_await lines_->NextLine();
    if (!line) co_return std::nullopt;
    auto doc = json::parse(*line, nullptr, false);
    if (!doc.is_object())
      throw core::ApiError(500, "InternalError", what_ + ": a line of the watch stream is not a JSON object: " +
                                               line->substr(0, 200));
    auto type = doc.contains("type") && doc["type"].is_string() ? ParseEventType(doc["type"].get<std::string>())
                                                                 : std::nullopt;
    if (!type) throw core::ApiError(500, "InternalError", what_ + ": watch event with an unknown type: " + line->substr(0, 200));
    if (!doc.contains("object") || !doc["object"].is_object())
      throw core::ApiError(500, "InternalError", what_ + ": watch event without an object: " + line->substr(0, 200));
    co_return WatchEvent{*type, std::move(doc["object"])};
  }

  void Cancel() override { lines_->Cancel(); }

 private:
  std::unique_ptr<net::LineStream> lines_;
  std::string what_;
};

class HttpClient final : public Client, public std::enable_shared_from_this<HttpClient> {
 public:
  HttpClient(asio::any_io_executor ex, RestConfig config, ClientOptions options)
      : ex_(std::move(ex)), config_(std::move(config)), options_(std::move(options)),
        transport_(MakeHttpTransport(ex_, config_,
                                     TransportOptions{.client = {.connect_timeout = options_.connect_timeout,
                                                                 .max_response_bytes = options_.max_response_bytes,
                                                                 .user_agent = options_.user_agent}})),
        limiter_(options_.qps, options_.burst), backoff_(options_.initial_backoff, options_.max_backoff) {}

  asio::awaitable<ApiResource> Resolve(std::string api_version, std::string kind_or_resource) override {
    auto self = shared_from_this();
    bool fetched = false;
    if (!discovery_.contains(api_version)) {
      co_await FetchDiscovery(api_version);
      fetched = true;
    }
    if (const ApiResource* r = FindResource(discovery_[api_version], kind_or_resource)) co_return *r;
    if (!fetched) {
      // A CRD installed after we cached discovery: look once more.
      co_await FetchDiscovery(api_version);
      if (const ApiResource* r = FindResource(discovery_[api_version], kind_or_resource)) co_return *r;
    }
    auto [group, version] = SplitApiVersion(api_version);
    throw core::ApiError(404, "NotFound",
                   "the server has no resource \"" + kind_or_resource + "\" in " + api_version,
                   json{{"group", group}, {"kind", kind_or_resource}});
  }

  asio::awaitable<json> Get(const ApiResource& res, std::string ns, std::string name, std::string subresource) override {
    auto self = shared_from_this();
    RequireName(res, name, "get");
    net::ClientRequest request{.method = "GET", .target = res.Path(Ns(res, ns), name, subresource)};
    co_return co_await CallJson(std::move(request), true);
  }

  asio::awaitable<json> List(const ApiResource& res, std::string ns, ListOptions options) override {
    auto self = shared_from_this();
    Query q;
    AddListParams(q, options);
    q.Add("resourceVersion", options.resource_version);
    net::ClientRequest request{.method = "GET", .target = q.Apply(res.Path(ns))};
    co_return co_await CallJson(std::move(request), true);
  }

  asio::awaitable<json> ListAll(const ApiResource& res, std::string ns, ListOptions options) override {
    auto self = shared_from_this();
    json first = co_await List(res, ns, options);
    json items = first.value("items", json::array());
    if (!items.is_array()) items = json::array();
    std::string token = first.contains("metadata") ? first["metadata"].value("continue", "") : "";
    while (!token.empty()) {
      ListOptions page = options;
      page.continue_token = token;
      page.resource_version.clear();  // the token carries the version
      std::optional<json> next;
      bool expired = false;
      try {
        next = co_await List(res, ns, page);
      } catch (const core::ApiError& e) {
        if (!e.IsExpired()) throw;
        expired = true;
      }
      if (expired) {
        // The snapshot behind the token was compacted: start over with one unpaged list, as
        // client-go's pager does.
        ListOptions whole = options;
        whole.limit = 0;
        whole.continue_token.clear();
        json all = co_await List(res, ns, whole);
        if (all.contains("metadata") && all["metadata"].is_object()) all["metadata"].erase("continue");
        co_return all;
      }
      if (next->contains("items") && (*next)["items"].is_array())
        for (auto& item : (*next)["items"]) items.push_back(std::move(item));
      token = next->contains("metadata") ? (*next)["metadata"].value("continue", "") : "";
    }
    first["items"] = std::move(items);
    if (first.contains("metadata") && first["metadata"].is_object()) {
      first["metadata"].erase("continue");
      first["metadata"].erase("remainingItemCount");
    }
    co_return first;
  }

  asio::awaitable<json> Create(const ApiResource& res, std::string ns, json object, WriteOptions options) override {
    auto self = shared_from_this();
    if (ns.empty()) ns = core::MetadataString(object, "namespace");
    Query q;
    AddWriteParams(q, options.field_manager, options.field_validation, options.dry_run);
    net::ClientRequest request{.method = "POST",
                        .target = q.Apply(res.Path(Ns(res, ns))),
                        .body = WithTypeMeta(std::move(object), res).dump(),
                        .content_type = "application/json"};
    co_return co_await CallJson(std::move(request), false);
  }

  asio::awaitable<json> Update(const ApiResource& res, json object, WriteOptions options,
                               std::string subresource) override {
    auto self = shared_from_this();
    std::string name = core::MetadataString(object, "name");
    RequireName(res, name, "update");
    Query q;
    AddWriteParams(q, options.field_manager, options.field_validation, options.dry_run);
    std::string target = q.Apply(res.Path(Ns(res, core::MetadataString(object, "namespace")), name, subresource));
    net::ClientRequest request{.method = "PUT",
                        .target = target,
                        .body = WithTypeMeta(std::move(object), res).dump(),
                        .content_type = "application/json"};
    co_return co_await CallJson(std::move(request), true);
  }

  asio::awaitable<json> Patch(const ApiResource& res, std::string ns, std::string name, PatchType type, json patch,
                              PatchOptions options) override {
    auto self = shared_from_this();
    RequireName(res, name, "patch");
    Query q;
    AddWriteParams(q, options.field_manager, options.field_validation, options.dry_run);
    if (type == PatchType::kApply && options.force) q.Add("force", "true");
    std::string target = q.Apply(res.Path(Ns(res, ns), name, options.subresource));
    // A JSON patch may add to a list each time it is sent; every other kind converges.
    bool idempotent = type != PatchType::kJson;
    net::ClientRequest request{
        .method = "PATCH", .target = target, .body = patch.dump(), .content_type = PatchContentType(type)};
    co_return co_await CallJson(std::move(request), idempotent);
  }

  asio::awaitable<json> Apply(const ApiResource& res, json object, std::string field_manager, bool force,
                              std::string subresource) override {
    auto self = shared_from_this();
    if (field_manager.empty()) throw core::ApiError::BadRequest("server-side apply needs a field manager");
    std::string name = core::MetadataString(object, "name");
    std::string ns = core::MetadataString(object, "namespace");
    json body = WithTypeMeta(std::move(object), res);
    PatchOptions options{.field_manager = field_manager, .force = force, .subresource = subresource};
    co_return co_await Patch(res, ns, name, PatchType::kApply, std::move(body), std::move(options));
  }

  asio::awaitable<json> Delete(const ApiResource& res, std::string ns, std::string name,
                               DeleteOptions options) override {
    auto self = shared_from_this();
    RequireName(res, name, "delete");
    json body = {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
    if (!options.propagation_policy.empty()) body["propagationPolicy"] = options.propagation_policy;
    if (options.grace_period_seconds) body["gracePeriodSeconds"] = *options.grace_period_seconds;
    if (options.precondition_uid) body["preconditions"]["uid"] = *options.precondition_uid;
    if (options.precondition_resource_version)
      body["preconditions"]["resourceVersion"] = *options.precondition_resource_version;
    net::ClientRequest request{.method = "DELETE",
                        .target = res.Path(Ns(res, ns), name),
                        .body = body.dump(),
                        .content_type = "application/json"};
    co_return co_await CallJson(std::move(request), true);
  }

  asio::awaitable<std::unique_ptr<WatchStream>> Watch(const ApiResource& res, std::string ns,
                                                      ListOptions options) override {
    auto self = shared_from_this();
    Query q;
    q.Add("watch", "true").Add("resourceVersion", options.resource_version);
    if (options.allow_bookmarks) q.Add("allowWatchBookmarks", "true");
    if (options.timeout_seconds) q.Add("timeoutSeconds", std::to_string(*options.timeout_seconds));
    q.Add("labelSelector", options.label_selector).Add("fieldSelector", options.field_selector);
    net::ClientRequest req{.method = "GET", .target = q.Apply(res.Path(ns))};
    std::string what = "watch " + res.GroupResource() + (ns.empty() ? "" : " in " + ns);
    auto lines = co_await RetryLoop<std::unique_ptr<net::LineStream>>(true, [&]() -> asio::awaitable<std::unique_ptr<net::LineStream>> {
      co_return co_await transport_->Stream(req, options_.request_timeout, options_.watch_idle_timeout);
    });
    co_return std::make_unique<HttpWatchStream>(std::move(lines), what);
  }

  asio::awaitable<json> GetPath(std::string path) override {
    auto self = shared_from_this();
    if (path.empty() || path[0] != '/') throw core::ApiError::BadRequest("path \"" + path + "\" must start with /");
    net::ClientRequest request{.method = "GET", .target = path};
    co_return co_await CallJson(std::move(request), true);
  }

  asio::any_io_executor executor() const override { return ex_; }
  const std::string& default_namespace() const override { return config_.ns; }

 private:
  std::string Ns(const ApiResource& res, const std::string& ns) const {
    if (!res.namespaced) return "";
    return ns.empty() ? config_.ns : ns;
  }

  static void RequireName(const ApiResource& res, const std::string& name, const char* verb) {
    if (name.empty()) throw core::ApiError::BadRequest(std::string("cannot ") + verb + " " + res.GroupResource() + " without a name");
  }

  asio::awaitable<void> Sleep(std::chrono::nanoseconds d) {
    asio::steady_timer timer(ex_, d);
    co_await timer.async_wait(use_awaitable);
  }

  asio::awaitable<void> Throttle() {
    auto wait = limiter_.Reserve(std::chrono::steady_clock::now());
    if (wait.count() > 0) co_await Sleep(wait);
  }

  // Runs `send` with the rate limit, retrying what backing off can fix. An answered request
  // that is not idempotent is never repeated; one that never left is.
  template <class T, class Send>
  asio::awaitable<T> RetryLoop(bool idempotent, Send send) {
    bool reauthenticated = false;
    for (int attempt = 0;; ++attempt) {
      co_await Throttle();
      std::optional<core::ApiError> failure;
      bool retryable = false;
      try {
        co_return co_await send();
      } catch (const net::TransportError& e) {
        retryable = e.reason() != "ResponseTooLarge" && (idempotent || !e.maybe_sent());
        failure = static_cast<const core::ApiError&>(e);
      } catch (const core::ApiError& e) {
        failure = e;
        retryable = idempotent && e.retry_advice() == core::RetryAdvice::kBackoff;
        // Rotated credentials: fetch them anew once and repeat (the server did nothing).
        if (e.code() == 401 && !reauthenticated && transport_->CredentialsRefreshable()) {
          reauthenticated = true;
          transport_->InvalidateCredentials();
          --attempt;
          continue;
        }
      }
      if (!retryable || attempt >= options_.max_retries) throw *failure;
      co_await Sleep(backoff_.Delay(attempt, std::chrono::seconds(failure->retry_after_seconds())));
    }
  }

  asio::awaitable<json> CallJson(net::ClientRequest req, bool idempotent) {
    net::ClientResponse r = co_await RetryLoop<net::ClientResponse>(idempotent, [&]() -> asio::awaitable<net::ClientResponse> {
      net::ClientResponse res = co_await transport_->Send(req, options_.request_timeout);
      if (res.status < 200 || res.status > 299)
        throw WithRetryAfter(core::ApiError::FromResponse(res.status, res.body), res.retry_after);
      co_return res;
    });
    co_return ParseBody(r, req.method + " " + req.target);
  }

  asio::awaitable<void> FetchDiscovery(const std::string& api_version) {
    auto [group, version] = SplitApiVersion(api_version);
    if (version.empty()) throw core::ApiError::BadRequest("apiVersion \"" + api_version + "\" has no version");
    std::string path = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
    json list;
    try {
      list = co_await GetPath(path);
    } catch (const core::ApiError& e) {
      if (!e.IsNotFound()) throw;
      throw core::ApiError(404, "NotFound", "the server does not serve " + api_version + " (" + path + " is 404)",
                     json{{"group", group}});
    }
    discovery_[api_version] = ParseApiResourceList(list, api_version);
  }

  asio::any_io_executor ex_;
  RestConfig config_;
  ClientOptions options_;
  std::shared_ptr<net::HttpClient> transport_;
  RateLimiter limiter_;
  core::Backoff backoff_;
  std::map<std::string, std::vector<ApiResource>> discovery_;
};

}  // namespace

std::shared_ptr<Client> MakeHttpClient(asio::any_io_executor executor, RestConfig config, ClientOptions options) {
  return std::make_shared<HttpClient>(std::move(executor), std::move(config), std::move(options));
}

}  // namespace sluice::kube
