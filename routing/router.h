// How traffic reaches the primary and the canary: one Router per service-mesh provider, one
// file per provider, registered explicitly in registry.cc. A Router is pure: it says what the
// routing objects must look like and reads weights back from live ones; the reconciler does
// the writes (server-side apply, only when the object differs), so providers are unit-tested
// without a cluster.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/canary_types.h"

namespace sluice::routing {

using json = nlohmann::json;

// What a provider needs to know about one Canary.
struct RouteContext {
  json canary;             // the whole Canary object (spec.service, spec.analysis.match, ...)
  std::string name;        // Canary name
  std::string ns;          // namespace
  std::string uid;         // for owner references
  std::string service;     // apex Service name (spec.service.name or the target name)
  int port = 0;            // spec.service.port
  std::string selector_label;  // the pod label the Services select on, e.g. "app"
  std::string target;      // target Deployment name: the canary pods carry selector_label=target
};

struct Weights {
  int primary = 100;
  int canary = 0;
  bool ab_match = false;  // A/B: requests matching spec.analysis.match go to the canary
  bool mirror = false;    // mirror primary traffic to the canary
  bool operator==(const Weights&) const = default;
};

struct ObjectKind {
  std::string api_version;
  std::string kind;
};

class Router {
 public:
  virtual ~Router() = default;
  virtual std::string name() const = 0;
  // The kinds this provider writes (informers watch them; RBAC grants them).
  virtual std::vector<ObjectKind> Kinds() const = 0;
  // Whether it splits traffic by weight; one that cannot runs blue/green only.
  virtual bool Weighted() const { return true; }
  // The full desired routing objects at these weights, each with an owner reference to the
  // Canary. Throws std::invalid_argument naming the Canary field when the spec cannot be routed.
  virtual std::vector<json> Desired(const RouteContext& ctx, const Weights& weights) const = 0;
  // Weights as the live objects say; nullopt when the objects are missing or not ours.
  virtual std::optional<Weights> Read(const RouteContext& ctx, const std::vector<json>& live) const = 0;
  // What to leave behind when a Canary with revertOnDeletion is deleted: objects to write so
  // traffic goes to the target Deployment again (the routing objects themselves are garbage
  // collected through their owner reference).
  virtual std::vector<json> Revert(const RouteContext& ctx) const = 0;
};

// The providers this build knows, by name. Unknown names are refused, never replaced by a
// default provider.
class RouterRegistry {
 public:
  static const RouterRegistry& Builtin();
  void Register(std::unique_ptr<Router> router);
  // Throws std::invalid_argument: `unknown provider "x"; supported: gatewayapi, kubernetes`.
  const Router& Get(const std::string& name) const;
  std::vector<std::string> Names() const;
  // What the spec parser needs of each provider (api::ParseCanarySpec).
  std::vector<api::ProviderInfo> Providers() const;

 private:
  std::vector<std::unique_ptr<Router>> routers_;
};

// Shared by providers: an ownerReference to the Canary (controller=true, blockOwnerDeletion).
json OwnerReference(const RouteContext& ctx);

}  // namespace sluice::routing
