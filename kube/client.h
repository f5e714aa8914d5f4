// A Kubernetes API client fit for a controller: every verb on any resource as typeless JSON,
// resources resolved through discovery, a deadline on every call, retries with jitter for
// what retrying can fix, and a client-side QPS/burst limit.
//
// Calls are C++20 coroutines on one Boost.Asio executor; Beast stays inside http_transport.cc.
//
// GCC 12 miscompiles a co_await whose call has argument temporaries with destructors
// (a std::string from a literal, `WriteOptions{}`, or a default argument such as the
// `subresource = ""` below): they are destroyed twice. Make the awaitable a named variable
// first, then await it:
//   auto op = client.Get(res, ns, name);   // temporaries die here, after being copied
//   json obj = co_await std::move(op);
#pragma once

#include "core/api_error.h"
#include "kube/config.h"
#include "kube/resource.h"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace sluice::kube {

namespace asio = boost::asio;
using json = nlohmann::json;

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;  // for watches: "" or "0" = synthetic ADDED first
  int64_t limit = 0;             // 0 = no limit
  std::string continue_token;
  std::optional<int> timeout_seconds;  // server-side watch timeout
  bool allow_bookmarks = true;
};

struct WriteOptions {
  std::string field_manager;     // sent as ?fieldManager=
  std::string field_validation;  // Strict | Warn | Ignore, "" = server default
  bool dry_run = false;
};

enum class PatchType { kJson, kMerge, kStrategicMerge, kApply };

struct PatchOptions {
  std::string field_manager;
  bool force = false;  // server-side apply only
  std::string subresource;  // "" or "status"
  std::string field_validation;
  bool dry_run = false;  // ?dryRun=All: validated and answered as if written, never stored
};

struct DeleteOptions {
  std::string propagation_policy;  // Background | Foreground | Orphan, "" = server default
  std::optional<std::string> precondition_uid;
  std::optional<std::string> precondition_resource_version;
  std::optional<int64_t> grace_period_seconds;
};

struct WatchEvent {
  enum class Type { kAdded, kModified, kDeleted, kBookmark, kError };
  Type type;
  json object;  // for kError: the Status object (e.g. 410 Expired)
};

const char* ToString(WatchEvent::Type type);

// One open watch stream. Next() returns nullopt when the server ends the stream cleanly
// (timeoutSeconds); it throws ApiError for a broken stream or a transport error.
class WatchStream {
 public:
  virtual ~WatchStream() = default;
  virtual asio::awaitable<std::optional<WatchEvent>> Next() = 0;
  virtual void Cancel() = 0;
};

struct ClientOptions {
  std::chrono::milliseconds request_timeout{30000};  // deadline of every non-watch call
  std::chrono::milliseconds connect_timeout{10000};
  // A watch that delivers nothing (not even a bookmark) for this long is treated as dead.
  std::chrono::milliseconds watch_idle_timeout{300000};
  double qps = 50;  // client-side rate limit (token bucket)
  int burst = 100;
  int max_retries = 5;  // for RetryAdvice::kBackoff errors, with exponential backoff + jitter
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{10000};
  size_t max_response_bytes = 256u << 20;
  std::string user_agent = "sluice/0.1";
};

// The interface reconcilers, informers and leader election use. HttpClient implements it;
// tests of code in isolation may use a fake.
class Client {
 public:
  virtual ~Client() = default;

  // Resolves "apps/v1" + "Deployment" (or plural "deployments", or a short name) through
  // discovery, cached; a miss refreshes discovery once, then throws ApiError NotFound.
  virtual asio::awaitable<ApiResource> Resolve(std::string api_version, std::string kind_or_resource) = 0;

  virtual asio::awaitable<json> Get(const ApiResource& res, std::string ns, std::string name,
                                    std::string subresource = "") = 0;
  // One page; metadata.continue is set when there are more.
  virtual asio::awaitable<json> List(const ApiResource& res, std::string ns, ListOptions options = {}) = 0;
  // Follows continue tokens to the end; the result's metadata.resourceVersion is the first page's.
  virtual asio::awaitable<json> ListAll(const ApiResource& res, std::string ns, ListOptions options = {}) = 0;
  virtual asio::awaitable<json> Create(const ApiResource& res, std::string ns, json object,
                                       WriteOptions options = {}) = 0;
  // PUT; namespace and name come from object.metadata. subresource "status" updates status.
  virtual asio::awaitable<json> Update(const ApiResource& res, json object, WriteOptions options = {},
                                       std::string subresource = "") = 0;
  virtual asio::awaitable<json> Patch(const ApiResource& res, std::string ns, std::string name, PatchType type,
                                      json patch, PatchOptions options = {}) = 0;
  // Server-side apply of a whole intended object (creates when missing).
  virtual asio::awaitable<json> Apply(const ApiResource& res, json object, std::string field_manager,
                                      bool force = false, std::string subresource = "") = 0;
  // Returns the final Status or the object (when finalizers keep it).
  virtual asio::awaitable<json> Delete(const ApiResource& res, std::string ns, std::string name,
                                       DeleteOptions options = {}) = 0;
  virtual asio::awaitable<std::unique_ptr<WatchStream>> Watch(const ApiResource& res, std::string ns,
                                                              ListOptions options) = 0;
  // A raw GET of a path (discovery, /version, /healthz), JSON decoded.
  virtual asio::awaitable<json> GetPath(std::string path) = 0;

  virtual asio::any_io_executor executor() const = 0;
  virtual const std::string& default_namespace() const = 0;
};

std::shared_ptr<Client> MakeHttpClient(asio::any_io_executor executor, RestConfig config,
                                       ClientOptions options = {});

}  // namespace sluice::kube
