// Discovery (legacy and aggregated v2) and the openapi v2 and v3 documents kubectl's validation
// and `kubectl explain` read (v2 for kubectl up to 1.26, v3 after).
#include "sandbox/emulator/api_server.h"
#include "sandbox/emulator/openapi_v2.h"

#include <algorithm>
#include <functional>
#include <sstream>

namespace sluice::sandbox {
namespace {

constexpr char kOpenApiV2Protobuf[] = "application/com.github.proto-openapi.spec.v2";
constexpr char kAggregatedV2[] = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
constexpr char kAggregatedV2Beta1[] = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";

// The aggregated form the client asked for, or "" for legacy discovery.
std::string AggregatedType(const net::HttpRequest& req) {
  std::string accept = req.Header("accept");
  std::string compact;
  for (char c : accept)
    if (c != ' ') compact.push_back(c);
  if (compact.find("as=APIGroupDiscoveryList") == std::string::npos) return "";
  // Each comma-separated media range names its own version.
  std::stringstream ss(compact);
  std::string range;
  while (std::getline(ss, range, ',')) {
    if (range.find("as=APIGroupDiscoveryList") == std::string::npos) continue;
    if (range.find("v=v2beta1") != std::string::npos) return kAggregatedV2Beta1;
    if (range.find("v=v2") != std::string::npos) return kAggregatedV2;
  }
  return "";
}

nlohmann::json Strings(const std::vector<std::string>& v) { return v; }

const std::vector<std::string> kSubVerbs = {"get", "patch", "update"};

nlohmann::json AggregatedResource(const KindInfo& k) {
  const auto& r = k.res;
  nlohmann::json gvk = {{"group", r.group}, {"version", r.version}, {"kind", r.kind}};
  nlohmann::json e = {{"resource", r.resource},
                      {"responseKind", gvk},
                      {"scope", r.namespaced ? "Namespaced" : "Cluster"},
                      {"singularResource", r.singular},
                      {"verbs", Strings(r.verbs)}};
  if (!r.short_names.empty()) e["shortNames"] = Strings(r.short_names);
  if (!r.categories.empty()) e["categories"] = Strings(r.categories);
  nlohmann::json subs = nlohmann::json::array();
  if (r.has_status) subs.push_back({{"subresource", "status"}, {"responseKind", gvk}, {"verbs", Strings(kSubVerbs)}});
  if (r.has_scale)
    subs.push_back({{"subresource", "scale"},
                    {"responseKind", {{"group", "autoscaling"}, {"version", "v1"}, {"kind", "Scale"}}},
                    {"verbs", Strings(kSubVerbs)}});
  if (!subs.empty()) e["subresources"] = subs;
  return e;
}

std::string ReverseDomain(const std::string& group) {
  std::vector<std::string> parts;
  std::stringstream ss(group);
  std::string part;
  while (std::getline(ss, part, '.')) parts.push_back(part);
  std::string out;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) out += (out.empty() ? "" : ".") + *it;
  return out;
}

std::string SchemaName(const KindInfo& k) {
  if (k.res.group.empty()) return "io.k8s.api.core." + k.res.version + "." + k.res.kind;
  return ReverseDomain(k.res.group) + "." + k.res.version + "." + k.res.kind;
}

nlohmann::json QueryParam(const char* name, const char* type, const char* description) {
  return {{"name", name},
          {"in", "query"},
          {"description", description},
          {"schema", {{"type", type}, {"uniqueItems", true}}}};
}

std::string Hex(size_t v) {
  std::ostringstream os;
  os << std::hex << v;
  return os.str();
}

}  // namespace

nlohmann::json ApiServer::ResourceListEntry(const KindInfo& k, const std::string& sub) const {
  const auto& r = k.res;
  if (sub.empty()) {
    nlohmann::json e = {{"name", r.resource},     {"singularName", r.singular}, {"namespaced", r.namespaced},
                        {"kind", r.kind},         {"verbs", Strings(r.verbs)}};
    if (!r.short_names.empty()) e["shortNames"] = Strings(r.short_names);
    if (!r.categories.empty()) e["categories"] = Strings(r.categories);
    return e;
  }
  nlohmann::json e = {{"name", r.resource + "/" + sub},
                      {"singularName", ""},
                      {"namespaced", r.namespaced},
                      {"kind", sub == "scale" ? "Scale" : r.kind},
                      {"verbs", Strings(kSubVerbs)}};
  if (sub == "scale") {
    e["group"] = "autoscaling";
    e["version"] = "v1";
  }
  return e;
}

net::HttpResponse ApiServer::DiscoveryRoot(const net::HttpRequest& req, bool core) {
  std::string aggregated = AggregatedType(req);
  auto gvs = registry_.GroupVersions();
  if (!aggregated.empty()) {
    nlohmann::json items = nlohmann::json::array();
    for (const auto& [group, versions] : gvs) {
      if (core != group.empty()) continue;
      nlohmann::json jversions = nlohmann::json::array();
      for (const auto& v : versions) {
        nlohmann::json resources = nlohmann::json::array();
        for (const auto& k : registry_.InGroupVersion(group, v)) resources.push_back(AggregatedResource(*k));
        jversions.push_back({{"version", v}, {"resources", resources}, {"freshness", "Current"}});
      }
      nlohmann::json meta = {{"creationTimestamp", nullptr}};
      if (!group.empty()) meta["name"] = group;
      items.push_back({{"metadata", meta}, {"versions", jversions}});
    }
    std::string api_version = aggregated == kAggregatedV2 ? "apidiscovery.k8s.io/v2" : "apidiscovery.k8s.io/v2beta1";
    auto r = api::Json(200, {{"kind", "APIGroupDiscoveryList"},
                             {"apiVersion", api_version},
                             {"metadata", nlohmann::json::object()},
                             {"items", items}});
    r.content_type = aggregated;
    return r;
  }
  std::string host = req.Header("host");
  nlohmann::json cidrs = nlohmann::json::array({{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", host}}});
  if (core) return api::Json(200, {{"kind", "APIVersions"}, {"versions", {"v1"}}, {"serverAddressByClientCIDRs", cidrs}});
  nlohmann::json groups = nlohmann::json::array();
  for (const auto& [group, versions] : gvs) {
    if (group.empty()) continue;
    nlohmann::json jv = nlohmann::json::array();
    for (const auto& v : versions) jv.push_back({{"groupVersion", group + "/" + v}, {"version", v}});
    groups.push_back({{"name", group}, {"versions", jv}, {"preferredVersion", jv[0]}});
  }
  return api::Json(200, {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", groups}});
}

net::HttpResponse ApiServer::DiscoveryGroup(const std::string& group) {
  for (const auto& [g, versions] : registry_.GroupVersions()) {
    if (g != group || g.empty()) continue;
    nlohmann::json jv = nlohmann::json::array();
    for (const auto& v : versions) jv.push_back({{"groupVersion", g + "/" + v}, {"version", v}});
    return api::Json(200, {{"kind", "APIGroup"},
                           {"apiVersion", "v1"},
                           {"name", g},
                           {"versions", jv},
                           {"preferredVersion", jv[0]}});
  }
  throw core::ApiError(404, "NotFound", "the server could not find the requested resource", nlohmann::json::object());
}

net::HttpResponse ApiServer::DiscoveryGroupVersion(const std::string& group, const std::string& version) {
  nlohmann::json resources = nlohmann::json::array();
  for (const auto& k : registry_.InGroupVersion(group, version)) {
    resources.push_back(ResourceListEntry(*k, ""));
    if (k->res.has_status) resources.push_back(ResourceListEntry(*k, "status"));
    if (k->res.has_scale) resources.push_back(ResourceListEntry(*k, "scale"));
  }
  return api::Json(200, {{"kind", "APIResourceList"},
                         {"apiVersion", "v1"},
                         {"groupVersion", group.empty() ? version : group + "/" + version},
                         {"resources", resources}});
}

// One pass over the registry builds both documents, so v2 and v3 can never disagree.
void ApiServer::RebuildOpenApi() {
  openapi_docs_.clear();
  nlohmann::json v2_paths = nlohmann::json::object();
  nlohmann::json v2_definitions = {{kObjectMetaDefinition, ObjectMetaV2Definition()}};
  for (const auto& [group, versions] : registry_.GroupVersions()) {
    for (const auto& v : versions) {
      std::string key = group.empty() ? "api/" + v : "apis/" + group + "/" + v;
      nlohmann::json paths = nlohmann::json::object();
      nlohmann::json schemas = nlohmann::json::object();
      for (const auto& k : registry_.InGroupVersion(group, v)) {
        const auto& r = k->res;
        nlohmann::json gvk = {{"group", r.group}, {"version", r.version}, {"kind", r.kind}};
        std::string path = "/" + key + (r.namespaced ? "/namespaces/{namespace}/" : "/") + r.resource + "/{name}";
        nlohmann::json params = nlohmann::json::array(
            {QueryParam("dryRun", "string", "When present, modifications are not persisted."),
             QueryParam("fieldManager", "string", "A name associated with the actor making these changes."),
             QueryParam("fieldValidation", "string",
                        "How the server treats unknown or duplicate fields: Ignore, Warn or Strict."),
             QueryParam("force", "boolean", "Force is going to \"force\" Apply requests.")});
        nlohmann::json op = {{"description", "partially update the specified " + r.kind},
                             {"operationId", "patch" + r.kind + "_" + r.version},
                             {"parameters", params},
                             {"responses", {{"200", {{"description", "OK"}}}}},
                             {"x-kubernetes-action", "patch"},
                             {"x-kubernetes-group-version-kind", gvk}};
        // v2 spells parameters and responses without the v3 "schema"/"content" wrappers.
        nlohmann::json v2_op = op;
        for (auto& p : v2_op["parameters"]) {
          p["type"] = p["schema"]["type"];
          p["uniqueItems"] = true;
          p.erase("schema");
        }
        if (k->custom && k->open_api_schema.is_object()) {
          std::string name = SchemaName(*k);
          nlohmann::json schema = PublishedCrdSchema(k->open_api_schema, false);
          schema["x-kubernetes-group-version-kind"] = nlohmann::json::array({gvk});
          schemas[kObjectMetaDefinition] = ObjectMetaV2Definition();
          schemas[name] = schema;
          op["responses"]["200"]["content"]["application/json"]["schema"] = {{"$ref", "#/components/schemas/" + name}};
          nlohmann::json v2_schema = PublishedCrdSchema(k->open_api_schema, true);
          v2_schema["x-kubernetes-group-version-kind"] = nlohmann::json::array({gvk});
          v2_definitions[name] = v2_schema;
          v2_op["responses"]["200"]["schema"] = {{"$ref", "#/definitions/" + name}};
        }
        nlohmann::json path_params = nlohmann::json::array(
            {{{"name", "name"}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}}});
        if (r.namespaced)
          path_params.push_back(
              {{"name", "namespace"}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}});
        nlohmann::json v2_path_params = path_params;
        for (auto& p : v2_path_params) {
          p["type"] = "string";
          p.erase("schema");
        }
        paths[path] = {{"patch", op}, {"parameters", path_params}};
        v2_paths[path] = {{"patch", v2_op}, {"parameters", v2_path_params}};
      }
      nlohmann::json doc = {{"openapi", "3.0.0"},
                            {"info", {{"title", "Kubernetes"}, {"version", "v1.32.0"}}},
                            {"paths", paths},
                            {"components", {{"schemas", schemas}}}};
      openapi_docs_[key] = doc.dump();
    }
  }
  nlohmann::json v2 = {{"swagger", "2.0"},
                       {"info", {{"title", "Kubernetes"}, {"version", "v1.32.0"}}},
                       {"paths", v2_paths},
                       {"definitions", v2_definitions}};
  openapi_v2_json_ = v2.dump();
  openapi_v2_protobuf_ = EncodeOpenApiV2Protobuf(v2);
  openapi_generation_ = registry_.generation();
}

net::HttpResponse ApiServer::OpenApi(const net::HttpRequest& req) {
  const std::string& p = req.path;
  if (openapi_generation_ != registry_.generation()) RebuildOpenApi();
  if (p == "/openapi/v2" || p == "/openapi/v2/") {
    // kubectl up to 1.26 asks for protobuf; anything else gets JSON, as from kube-apiserver.
    // kube-openapi answers it as application/octet-stream (Go's mime parser refuses the "@").
    if (req.Header("accept").find(kOpenApiV2Protobuf) != std::string::npos)
      return net::HttpResponse{200, "application/octet-stream", openapi_v2_protobuf_, {}, nullptr};
    return net::HttpResponse{200, "application/json", openapi_v2_json_, {}, nullptr};
  }
  const std::string v3 = "/openapi/v3";
  if (p.rfind(v3, 0) != 0)
    throw core::ApiError(404, "NotFound", "the server could not find the requested resource", nlohmann::json::object());
  std::string rest = p.substr(v3.size());
  while (!rest.empty() && rest.front() == '/') rest.erase(rest.begin());
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.empty()) {
    nlohmann::json paths = nlohmann::json::object();
    for (const auto& [key, doc] : openapi_docs_)
      paths[key] = {{"serverRelativeURL", "/openapi/v3/" + key + "?hash=" + Hex(std::hash<std::string>{}(doc))}};
    return api::Json(200, {{"paths", paths}});
  }
  auto it = openapi_docs_.find(rest);
  if (it == openapi_docs_.end())
    throw core::ApiError(404, "NotFound", "the server could not find the requested resource", nlohmann::json::object());
  net::HttpResponse r{200, "application/json", it->second, {}, nullptr};
  return r;
}

}  // namespace sluice::sandbox
