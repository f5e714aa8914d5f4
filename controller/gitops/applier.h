// Applying a revision's objects with server-side apply, writing only what differs.
//
// LiveObjects is the read side: one informer per kind a sync touches (started on first use,
// managedFields kept), so that deciding whether an object differs costs no API request, and
// a sync of an unchanged revision sends nothing at all.
//
// Applier runs one revision in stages: Namespaces and CRDs first (server-side dry run of
// those that differ, then apply, then wait until the CRDs are established), then every other
// object the same way. A stage's dry run covers all its objects before any of them is
// written, so an object the API refuses stops the revision with nothing of that stage
// applied. Prune deletes what left Git, never what a person opted out or what another sync
// now owns.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "controller/gitops/inventory.h"
#include "kube/client.h"
#include "kube/informer.h"

namespace sluice::gitops {

inline constexpr const char* kPruneAnnotation = "sluice.dev/prune";  // "disabled" keeps the object
inline constexpr const char* kOwnerNameLabel = "sluice.dev/kustomization-name";
inline constexpr const char* kOwnerNamespaceLabel = "sluice.dev/kustomization-namespace";

class LiveObjects {
 public:
  explicit LiveObjects(std::shared_ptr<kube::Client> client,
                       std::chrono::milliseconds sync_timeout = std::chrono::seconds(30))
      : client_(std::move(client)), sync_timeout_(sync_timeout) {}
  ~LiveObjects() { Stop(); }

  // Discovery, cached by the client; throws kube::ApiError NotFound for a kind not served.
  boost::asio::awaitable<kube::ApiResource> Resolve(std::string api_version, std::string kind);
  // The cached object (nullptr when absent); the kind's informer starts on first use.
  boost::asio::awaitable<kube::ObjectPtr> Get(kube::ApiResource res, std::string ns, std::string name);
  // Only what is cached already (for health checks of kinds the syncs already read).
  kube::ObjectPtr Peek(const kube::ApiResource& res, const std::string& ns, const std::string& name);
  // The informer of a kind, started and synced.
  boost::asio::awaitable<std::shared_ptr<kube::Informer>> InformerOf(kube::ApiResource res);

  // What a write returned, until the watch delivers it: a sync right after an apply must not
  // see the version before it and apply again.
  void Remember(const kube::ApiResource& res, nlohmann::json written);
  void Forget(const kube::ApiResource& res, const std::string& ns, const std::string& name);

  void Stop();
  size_t informers() const { return informers_.size(); }

 private:
  static std::string KindKey(const kube::ApiResource& res) { return res.group + "/" + res.version + "/" + res.resource; }

  std::shared_ptr<kube::Client> client_;
  std::chrono::milliseconds sync_timeout_;
  std::map<std::string, std::shared_ptr<kube::Informer>> informers_;
  std::map<std::string, kube::ObjectPtr> written_;  // KindKey + "|" + ns/name
};

// One object of the revision, prepared (namespace set, labels added, canary-owned fields
// removed) and resolved.
struct ApplyItem {
  nlohmann::json object;
  std::string origin;  // "apps/web.yaml document 2 (line 14)"
  ObjectRef ref;
  kube::ApiResource res;
  bool resolved = false;  // false: its kind comes from a CRD of this same revision
};

struct ApplyCounts {
  int created = 0;
  int configured = 0;
  int unchanged = 0;
  uint64_t dry_runs = 0;
  uint64_t writes = 0;
  std::vector<std::string> changes;  // "Deployment default/web configured"
};

struct PruneCounts {
  std::vector<std::string> deleted;
  std::vector<std::string> kept;  // opted out or owned by another sync, with why
  uint64_t deletes = 0;
};

// An object the API refused, a kind not served, a CRD not established in time. `reason` is
// the condition reason (ValidationFailed, ApplyFailed, ...).
class ApplyError : public std::runtime_error {
 public:
  ApplyError(std::string reason, const std::string& message)
      : std::runtime_error(message), reason_(std::move(reason)) {}
  const std::string& reason() const { return reason_; }

 private:
  std::string reason_;
};

struct ApplierOptions {
  std::string field_manager = "sluice";
  std::chrono::milliseconds crd_wait_poll{100};
};

// True when applying `desired` would change `live`: a value differs or is missing, or a field
// `manager` applied before is no longer in `desired` (server-side apply would remove it).
bool NeedsApply(const nlohmann::json& live, const nlohmann::json& desired, const std::string& manager);

class Applier {
 public:
  Applier(std::shared_ptr<kube::Client> client, std::shared_ptr<LiveObjects> live, ApplierOptions options = {})
      : client_(std::move(client)), live_(std::move(live)), options_(std::move(options)) {}

  // Applies every item (resolving those whose kind a CRD of the set defines after the CRDs
  // are established). Throws ApplyError; `deadline` bounds the whole call.
  boost::asio::awaitable<ApplyCounts> Apply(std::vector<ApplyItem>& items, std::chrono::steady_clock::time_point deadline);

  // Deletes the stale objects still labelled as applied by the sync `owner_ns/owner_name`.
  // Deletions that fail are returned in `kept` and retried at the next sync (they stay in
  // the inventory).
  boost::asio::awaitable<PruneCounts> Prune(std::vector<ObjectRef> stale, std::string owner_ns, std::string owner_name,
                                           std::vector<ObjectRef>* failed);

 private:
  boost::asio::awaitable<void> Stage(std::vector<ApplyItem*> items, ApplyCounts& counts);
  boost::asio::awaitable<void> WaitEstablished(const std::vector<ApplyItem*>& crds,
                                               std::chrono::steady_clock::time_point deadline);

  std::shared_ptr<kube::Client> client_;
  std::shared_ptr<LiveObjects> live_;
  ApplierOptions options_;
};

}  // namespace sluice::gitops
