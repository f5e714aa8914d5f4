// The Kubernetes API itself, as the emulator serves it: routing, discovery, openapi, reads,
// watches, writes with admission (CRD schemas, built-in defaults), deletion with finalizers
// and garbage collection, and the Deployment simulator. Transport-free: it maps an
// HttpRequest to an HttpResponse and is driven on one thread (the server's event loop).
#pragma once

#include "core/api_error.h"
#include "core/json_fields.h"
#include "core/clock.h"
#include "net/http_server.h"
#include "sandbox/emulator/registry.h"
#include "sandbox/emulator/store.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace sluice::sandbox {

struct ApiServerOptions {
  // How long the Deployment simulator takes to make a new rollout ready.
  std::chrono::milliseconds deployment_ready_delay{1500};
  // Multiplies spec.progressDeadlineSeconds for the exceed-deadline annotation.
  double progress_deadline_scale = 1.0;
  size_t watch_history = 10000;
  std::chrono::milliseconds bookmark_interval{10000};
  std::chrono::seconds default_watch_timeout{1800};
};

// Runs fn later on the thread that calls Handle (timers of the simulators and the collector).
using Scheduler = std::function<void(std::chrono::milliseconds, std::function<void()>)>;

class ApiServer {
 public:
  ApiServer(ApiServerOptions options, Scheduler scheduler, const core::Clock& clock = core::SystemClock::Instance());

  net::HttpResponse Handle(const net::HttpRequest& request);

  // Creates or replaces a CRD as a client would; throws kube::ApiError.
  nlohmann::json ApplyCustomResourceDefinition(const nlohmann::json& crd);

  Store& store() { return store_; }
  const Registry& registry() const { return registry_; }

 private:
  struct Target {
    KindPtr kind;
    std::string ns;  // empty: cluster-scoped, or a cluster-wide collection of a namespaced kind
    std::string name;
    std::string subresource;
  };
  struct Write {
    const net::HttpRequest* request = nullptr;
    Target target;
    std::string manager;
    std::string field_validation = "Warn";  // Strict | Warn | Ignore
    bool dry_run = false;
    std::vector<std::string> warnings;
  };

  // api_server.cc: routing and reads.
  net::HttpResponse Route(const net::HttpRequest& req);
  net::HttpResponse ServeResource(const net::HttpRequest& req, const std::string& group, const std::string& version,
                             const std::vector<std::string>& segments);
  net::HttpResponse Get(const net::HttpRequest& req, const Target& t);
  net::HttpResponse List(const net::HttpRequest& req, const Target& t);
  net::HttpResponse Watch(const net::HttpRequest& req, const Target& t);
  net::HttpResponse ObjectResponse(int code, const nlohmann::json& object, const net::HttpRequest& req, const Target& t,
                              const std::vector<std::string>& warnings = {});
  nlohmann::json Output(const nlohmann::json& stored, const KindInfo& kind) const;
  nlohmann::json TableOf(const std::vector<nlohmann::json>& objects, const KindInfo& kind, const net::HttpRequest& req,
                         const std::string& rv, const std::string& cont) const;

  // api_discovery.cc: discovery and openapi.
  net::HttpResponse DiscoveryRoot(const net::HttpRequest& req, bool core);
  net::HttpResponse DiscoveryGroupVersion(const std::string& group, const std::string& version);
  net::HttpResponse DiscoveryGroup(const std::string& group);
  net::HttpResponse OpenApi(const net::HttpRequest& req);
  void RebuildOpenApi();
  nlohmann::json ResourceListEntry(const KindInfo& k, const std::string& sub) const;

  // api_writes.cc: create, update, patch and the admission they share.
  net::HttpResponse Create(const net::HttpRequest& req, const Target& t);
  net::HttpResponse Update(const net::HttpRequest& req, const Target& t);
  net::HttpResponse Patch(const net::HttpRequest& req, const Target& t);
  net::HttpResponse ScaleRequest(const net::HttpRequest& req, const Target& t);
  Write NewWrite(const net::HttpRequest& req, const Target& t);
  nlohmann::json DecodeBody(const net::HttpRequest& req) const;
  void CheckTypeMeta(nlohmann::json& obj, const Target& t) const;
  // The shared tail of every write; returns the stored (or removed) object.
  ObjectPtr Commit(Write& w, const ObjectPtr& old, nlohmann::json obj, bool track_managed_fields);
  void Admit(Write& w, nlohmann::json& obj, const ObjectPtr& old);
  void AdmitCustomResource(Write& w, nlohmann::json& obj);
  void AdmitBuiltin(Write& w, nlohmann::json& obj, const ObjectPtr& old);
  std::vector<KindInfo> KindsOfCrd(const nlohmann::json& crd, const std::string& name) const;
  void AfterWrite(const KindInfo& kind, const ObjectPtr& old, const ObjectPtr& stored, bool removed);
  void CheckNamespaceWritable(const Target& t) const;

  // api_delete.cc: delete, finalizers, garbage collection, namespace termination.
  net::HttpResponse Delete(const net::HttpRequest& req, const Target& t);
  net::HttpResponse DeleteCollection(const net::HttpRequest& req, const Target& t);
  // Deletes as the collector would (finalizers respected); returns the answer object.
  nlohmann::json DeleteObject(const KindInfo& kind, const ObjectPtr& obj, const std::string& policy, bool& removed);
  void ScheduleCollection();
  void CollectGarbage();
  bool CollectPass();

  // deployment_simulator.cc.
  void SimulateDeployment(const ObjectPtr& old, const ObjectPtr& stored);
  void DeploymentProgress(const std::string& ns, const std::string& name, int64_t generation);
  void DeploymentReady(const std::string& ns, const std::string& name, int64_t generation);
  void DeploymentDeadline(const std::string& ns, const std::string& name, int64_t generation);
  void WriteDeploymentStatus(const std::string& ns, const std::string& name, int64_t generation,
                             const std::function<void(const nlohmann::json& spec, nlohmann::json& status)>& fill);

  ApiServerOptions options_;
  Scheduler scheduler_;
  const core::Clock& clock_;
  Store store_;
  Registry registry_;
  bool collection_scheduled_ = false;
  // openapi documents by "api/v1" / "apis/g/v", rebuilt when the registry changes.
  uint64_t openapi_generation_ = 0;
  std::map<std::string, std::string> openapi_docs_;  // v3, by "apis/GROUP/VERSION"
  std::string openapi_v2_json_, openapi_v2_protobuf_;
};

// Small helpers shared by the api_*.cc files.
namespace api {
net::HttpResponse Json(int code, const nlohmann::json& body);
net::HttpResponse Error(const core::ApiError& e);
const nlohmann::json& Meta(const nlohmann::json& obj);
using core::Str;  // "" when absent or not a string
std::string NameOf(const nlohmann::json& obj);
std::string NamespaceOf(const nlohmann::json& obj);
bool WantsTable(const net::HttpRequest& req);
std::string RandomSuffix(size_t n);
std::string NewUid();
}  // namespace api

}  // namespace sluice::sandbox
