// Create, update and patch, and the admission every write goes through.
#include "sandbox/emulator/api_server.h"
#include "sandbox/emulator/protobuf_decode.h"

#include "apimachinery/managed_fields.h"
#include "apimachinery/patch.h"
#include "apimachinery/selectors.h"
#include "core/base64.h"
#include "core/yaml_json.h"

#include <algorithm>
#include <cctype>
#include <regex>
#include <set>
#include <stdexcept>

namespace sluice::sandbox {
namespace {

using nlohmann::json;

std::string MediaType(const net::HttpRequest& req) {
  std::string ct = req.Header("content-type");
  ct = ct.substr(0, ct.find(';'));
  std::string out;
  for (char c : ct)
    if (!std::isspace(static_cast<unsigned char>(c))) out.push_back(static_cast<char>(std::tolower(c)));
  return out;
}

// As deep as core::ParseYaml lets a YAML body be. Everything that walks an object recurses
// (validation, pruning, patches, managed fields, tables, writing it out): a body of nested
// "[" ended the emulator with a stack overflow. The API server refuses JSON nested too deeply
// for the same reason.
constexpr int kMaxJsonDepth = 512;

json ParseJsonOrYaml(const std::string& body, bool yaml, const char* what) {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos)
    throw core::ApiError::BadRequest(std::string(what) + " is empty: expected a JSON or YAML object");
  if (!yaml) {
    try {
      return json::parse(body, [what](int depth, json::parse_event_t, json&) {
        if (depth > kMaxJsonDepth)
          throw core::ApiError::BadRequest(std::string(what) + " is nested more than " + std::to_string(kMaxJsonDepth) +
                                           " levels deep");
        return true;
      });
    } catch (const json::parse_error& e) {
      throw core::ApiError::BadRequest(std::string(what) + " is not valid JSON: " + e.what());
    }
  }
  try {
    return core::ParseYaml(body);
  } catch (const std::invalid_argument& e) {
    throw core::ApiError::BadRequest(std::string(what) + " is not valid YAML: " + e.what());
  }
}

core::StatusCause Cause(const std::string& reason, const std::string& field, const std::string& message) {
  return core::StatusCause{reason, message, field};
}

const std::regex& Subdomain() {
  static const std::regex re(R"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)");
  return re;
}
const std::regex& Label() {
  static const std::regex re(R"([a-z0-9]([-a-z0-9]*[a-z0-9])?)");
  return re;
}

std::vector<core::StatusCause> ValidateMetadata(const KindInfo& k, const json& obj, bool creating) {
  std::vector<core::StatusCause> causes;
  const json& md = obj["metadata"];
  std::string name = api::Str(md, "name");
  bool label_only = k.res.resource == "namespaces" || k.res.resource == "services";
  if (creating) {
    if (label_only && (name.size() > 63 || !std::regex_match(name, Label())))
      causes.push_back(Cause("FieldValueInvalid", "metadata.name",
                             "Invalid value: \"" + name +
                                 "\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
                                 "or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
                                 "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"));
    else if (!label_only && (name.size() > 253 || !std::regex_match(name, Subdomain())))
      causes.push_back(Cause("FieldValueInvalid", "metadata.name",
                             "Invalid value: \"" + name +
                                 "\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                                 "characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
                                 "'example.com', regex used for validation is "
                                 "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"));
  }
  for (const char* field : {"labels", "annotations"}) {
    if (!md.contains(field) || md[field].is_null()) continue;
    bool ok = md[field].is_object();
    if (ok)
      for (const auto& [key, value] : md[field].items()) ok = ok && value.is_string() && !key.empty();
    if (!ok)
      causes.push_back(Cause("FieldValueTypeInvalid", std::string("metadata.") + field,
                             "Invalid value: " + md[field].dump() + ": must be a map of string keys to string values"));
  }
  if (md.contains("finalizers") && !md["finalizers"].is_null()) {
    bool ok = md["finalizers"].is_array();
    if (ok)
      for (const auto& f : md["finalizers"]) ok = ok && f.is_string();
    if (!ok)
      causes.push_back(Cause("FieldValueTypeInvalid", "metadata.finalizers",
                             "Invalid value: " + md["finalizers"].dump() + ": must be a list of strings"));
  }
  if (md.contains("ownerReferences") && !md["ownerReferences"].is_null()) {
    if (!md["ownerReferences"].is_array()) {
      causes.push_back(Cause("FieldValueTypeInvalid", "metadata.ownerReferences", "Invalid value: must be a list"));
    } else {
      int i = 0;
      for (const auto& ref : md["ownerReferences"]) {
        std::string base = "metadata.ownerReferences[" + std::to_string(i++) + "]";
        for (const char* f : {"apiVersion", "kind", "name", "uid"})
          if (api::Str(ref, f).empty())
            causes.push_back(Cause("FieldValueRequired", base + "." + f, "Required value"));
      }
    }
  }
  return causes;
}

std::set<std::string> Finalizers(const json& obj) {
  std::set<std::string> out;
  const auto& md = api::Meta(obj);
  if (md.contains("finalizers") && md["finalizers"].is_array())
    for (const auto& f : md["finalizers"])
      if (f.is_string()) out.insert(f.get<std::string>());
  return out;
}

// The part of an object whose change bumps metadata.generation.
json GenerationContent(const json& obj, bool has_status) {
  json c = obj;
  c.erase("metadata");
  c.erase("apiVersion");
  c.erase("kind");
  if (has_status) c.erase("status");
  return c;
}

json* DottedPath(json& obj, const std::string& path, bool create) {
  json* cur = &obj;
  size_t i = path.empty() || path[0] != '.' ? 0 : 1;
  while (i < path.size()) {
    size_t j = path.find('.', i);
    if (j == std::string::npos) j = path.size();
    std::string key = path.substr(i, j - i);
    if (!cur->is_object()) {
      if (!create) return nullptr;
      *cur = json::object();
    }
    if (!cur->contains(key) && !create) return nullptr;
    cur = &(*cur)[key];
    i = j + 1;
  }
  return cur;
}

std::string SelectorString(const json& selector) {
  if (!selector.is_object()) return "";
  std::string out;
  if (selector.contains("matchLabels") && selector["matchLabels"].is_object())
    for (const auto& [k, v] : selector["matchLabels"].items())
      out += (out.empty() ? "" : ",") + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
  return out;
}

int service_ip_counter = 0;

}  // namespace

ApiServer::Write ApiServer::NewWrite(const net::HttpRequest& req, const Target& t) {
  Write w;
  w.request = &req;
  w.target = t;
  w.manager = req.Query("fieldManager");
  if (w.manager.empty()) {
    std::string ua = req.Header("user-agent");
    w.manager = ua.substr(0, ua.find('/'));
    if (w.manager.empty()) w.manager = "unknown";
  }
  std::string fv = req.Query("fieldValidation");
  if (!fv.empty()) {
    if (fv != "Strict" && fv != "Warn" && fv != "Ignore")
      throw core::ApiError::BadRequest("fieldValidation parameter unsupported: \"" + fv +
                                       "\" (expected Strict, Warn or Ignore)");
    w.field_validation = fv;
  }
  w.dry_run = !req.Query("dryRun").empty();
  return w;
}

json ApiServer::DecodeBody(const net::HttpRequest& req) const {
  std::string mt = MediaType(req);
  bool yaml = mt == "application/yaml" || mt == "application/x-yaml" || mt == "text/yaml";
  // kubectl create sends built-in kinds as protobuf; the common ones are decoded.
  if (mt == "application/vnd.kubernetes.protobuf") {
    try {
      return DecodeKubernetesProtobuf(req.body);
    } catch (const std::invalid_argument& e) {
      throw core::ApiError::BadRequest(std::string(e.what()) +
                                       " (or: kubectl create <kind> --dry-run=client -o yaml | kubectl apply -f -)");
    }
  }
  if (!yaml && !mt.empty() && mt != "application/json" && mt != "*/*")
    throw core::ApiError::UnsupportedMediaType("the body of the request was in an unknown format (" + mt +
                                               ") - accepted media types include: application/json, application/yaml");
  return ParseJsonOrYaml(req.body, yaml, "the request body");
}

void ApiServer::CheckTypeMeta(json& obj, const Target& t) const {
  const auto& r = t.kind->res;
  if (!obj.is_object())
    throw core::ApiError::BadRequest("the request body must be an object of kind " + r.kind + ", got a JSON " +
                                     std::string(obj.type_name()));
  std::string av = api::Str(obj, "apiVersion");
  if (obj.contains("apiVersion") && !obj["apiVersion"].is_string())
    throw core::ApiError::BadRequest("apiVersion must be a string");
  if (!av.empty() && av != r.ApiVersion())
    throw core::ApiError::BadRequest("the API version in the data (" + av + ") does not match the expected API version (" +
                                     r.ApiVersion() + ")");
  std::string kind = api::Str(obj, "kind");
  if (!kind.empty() && kind != r.kind)
    throw core::ApiError::BadRequest("the kind in the data (" + kind + ") does not match the expected kind (" + r.kind +
                                     ") of " + r.GroupResource());
  obj["apiVersion"] = r.ApiVersion();
  obj["kind"] = r.kind;
  if (!obj.contains("metadata") || obj["metadata"].is_null()) obj["metadata"] = json::object();
  if (!obj["metadata"].is_object()) throw core::ApiError::BadRequest("metadata must be an object");
  auto& md = obj["metadata"];
  if (md.contains("name") && !md["name"].is_string()) throw core::ApiError::BadRequest("metadata.name must be a string");
  if (r.namespaced) {
    std::string ns = api::Str(md, "namespace");
    if (!ns.empty() && !t.ns.empty() && ns != t.ns)
      throw core::ApiError::BadRequest("the namespace of the provided object (" + ns +
                                       ") does not match the namespace sent on the request (" + t.ns + ")");
    md["namespace"] = t.ns;
  } else {
    md.erase("namespace");
  }
}

void ApiServer::CheckNamespaceWritable(const Target& t) const {
  if (!t.kind->res.namespaced) return;
  auto ns = store_.Get("/namespaces", "", t.ns);
  if (!ns) throw core::ApiError::NotFound("", "namespaces", t.ns);
  if (api::Meta(*ns).contains("deletionTimestamp"))
    throw core::ApiError::Forbidden(t.kind->res.resource + " is forbidden: unable to create new content in namespace " +
                                    t.ns + " because it is being terminated");
}

net::HttpResponse ApiServer::Create(const net::HttpRequest& req, const Target& t) {
  Write w = NewWrite(req, t);
  json obj = DecodeBody(req);
  CheckTypeMeta(obj, t);
  auto& md = obj["metadata"];
  std::string name = api::Str(md, "name");
  if (name.empty()) {
    std::string prefix = api::Str(md, "generateName");
    if (prefix.empty())
      throw core::ApiError::Invalid(t.kind->QualifiedKind(), "",
                                    {Cause("FieldValueRequired", "metadata.name",
                                           "Required value: name or generateName is required")},
                                    t.kind->res.group, t.kind->res.kind);
    name = prefix + api::RandomSuffix(5);
    md["name"] = name;
  }
  CheckNamespaceWritable(t);
  if (store_.Get(t.kind->StorageKey(), t.ns, name))
    throw core::ApiError::AlreadyExists(t.kind->res.group, t.kind->res.resource, name);
  Target named = t;
  named.name = name;
  w.target = named;
  auto stored = Commit(w, nullptr, std::move(obj), true);
  return ObjectResponse(201, Output(*stored, *t.kind), req, t, w.warnings);
}

net::HttpResponse ApiServer::Update(const net::HttpRequest& req, const Target& t) {
  Write w = NewWrite(req, t);
  json obj = DecodeBody(req);
  CheckTypeMeta(obj, t);
  std::string name = api::Str(obj["metadata"], "name");
  if (name.empty()) obj["metadata"]["name"] = name = t.name;
  if (name != t.name)
    throw core::ApiError::BadRequest("the name of the object (" + name + ") does not match the name on the URL (" +
                                     t.name + ")");
  auto old = store_.Get(t.kind->StorageKey(), t.ns, t.name);
  if (!old) throw core::ApiError::NotFound(t.kind->res.group, t.kind->res.resource, t.name);
  std::string rv = api::Str(obj["metadata"], "resourceVersion");
  if (rv.empty() && t.kind->custom)
    throw core::ApiError::Invalid(
        t.kind->QualifiedKind(), t.name,
        {Cause("FieldValueInvalid", "metadata.resourceVersion", "Invalid value: 0x0: must be specified for an update")},
        t.kind->res.group, t.kind->res.kind);
  if (!rv.empty() && rv != api::Str(api::Meta(*old), "resourceVersion"))
    throw core::ApiError::Conflict(t.kind->res.group, t.kind->res.resource, t.name,
                                   "the object has been modified; please apply your changes to the latest version "
                                   "and try again");
  auto stored = Commit(w, old, std::move(obj), true);
  return ObjectResponse(200, Output(*stored, *t.kind), req, t, w.warnings);
}

net::HttpResponse ApiServer::Patch(const net::HttpRequest& req, const Target& t) {
  Write w = NewWrite(req, t);
  const auto& r = t.kind->res;
  std::string mt = MediaType(req);
  bool json_patch = mt == "application/json-patch+json";
  bool merge = mt == "application/merge-patch+json";
  bool strategic = mt == "application/strategic-merge-patch+json";
  bool apply = mt == "application/apply-patch+yaml";
  if (!(json_patch || merge || apply || (strategic && !t.kind->custom))) {
    std::string accepted = t.kind->custom ? "application/json-patch+json, application/merge-patch+json, "
                                            "application/apply-patch+yaml"
                                          : "application/json-patch+json, application/merge-patch+json, "
                                            "application/strategic-merge-patch+json, application/apply-patch+yaml";
    throw core::ApiError::UnsupportedMediaType("the body of the request was in an unknown format - accepted media types "
                                               "include: " +
                                               accepted);
  }
  auto old = store_.Get(t.kind->StorageKey(), t.ns, t.name);
  if (!old && !apply) throw core::ApiError::NotFound(r.group, r.resource, t.name);
  json patch = ParseJsonOrYaml(req.body, apply, "the patch");
  auto lists = t.kind->custom && t.kind->schema ? t.kind->schema->ListSemanticsOf()
                                                : apimachinery::BuiltinListSemantics(r.group, r.kind);
  if (apply) {
    if (req.Query("fieldManager").empty())
      throw core::ApiError::Invalid(t.kind->QualifiedKind(), t.name,
                                    {Cause("FieldValueRequired", "fieldManager",
                                           "Required value: is required for apply patch")},
                                    r.group, r.kind);
    CheckTypeMeta(patch, t);
    std::string name = api::Str(patch["metadata"], "name");
    if (name.empty()) patch["metadata"]["name"] = name = t.name;
    if (name != t.name)
      throw core::ApiError::BadRequest("the name of the object (" + name + ") does not match the name on the URL (" +
                                       t.name + ")");
    apimachinery::ApplyRequest ar{w.manager, r.ApiVersion(), req.QueryBool("force"), t.subresource};
    if (!old) {
      CheckNamespaceWritable(t);
      json created = apimachinery::ServerSideApply(nullptr, patch, ar, lists, clock_.Now());
      created["metadata"]["name"] = t.name;
      auto stored = Commit(w, nullptr, std::move(created), false);
      return ObjectResponse(201, Output(*stored, *t.kind), req, t, w.warnings);
    }
    std::string rv = api::Str(patch["metadata"], "resourceVersion");
    if (!rv.empty() && rv != api::Str(api::Meta(*old), "resourceVersion"))
      throw core::ApiError::Conflict(r.group, r.resource, t.name,
                                     "the object has been modified; please apply your changes to the latest version "
                                     "and try again");
    json applied = apimachinery::ServerSideApply(Output(*old, *t.kind), patch, ar, lists, clock_.Now());
    auto stored = Commit(w, old, std::move(applied), false);
    return ObjectResponse(200, Output(*stored, *t.kind), req, t, w.warnings);
  }
  json base = Output(*old, *t.kind);
  json result;
  if (json_patch) {
    if (!patch.is_array())
      throw core::ApiError::BadRequest("a JSON patch must be a list of operations, got a JSON " +
                                       std::string(patch.type_name()));
    result = apimachinery::ApplyJsonPatch(base, patch);
  } else {
    if (!patch.is_object())
      throw core::ApiError::BadRequest("a merge patch must be a JSON object, got a JSON " + std::string(patch.type_name()));
    result = merge ? apimachinery::ApplyMergePatch(base, patch)
                   : apimachinery::ApplyStrategicMergePatch(base, patch, lists);
  }
  CheckTypeMeta(result, t);
  std::string rv = api::Str(result["metadata"], "resourceVersion");
  if (!rv.empty() && rv != api::Str(api::Meta(*old), "resourceVersion"))
    throw core::ApiError::Conflict(r.group, r.resource, t.name,
                                   "the object has been modified; please apply your changes to the latest version "
                                   "and try again");
  auto stored = Commit(w, old, std::move(result), true);
  return ObjectResponse(200, Output(*stored, *t.kind), req, t, w.warnings);
}

ObjectPtr ApiServer::Commit(Write& w, const ObjectPtr& old, json obj, bool track_managed_fields) {
  const KindInfo& k = *w.target.kind;
  const std::string& sub = w.target.subresource;
  auto now = clock_.Now();
  if (old) {
    const json& om = (*old)["metadata"];
    if (sub == "status") {
      json merged = Output(*old, k);
      if (obj.contains("status") && !obj["status"].is_null())
        merged["status"] = obj["status"];
      else
        merged.erase("status");
      if (obj["metadata"].contains("managedFields")) merged["metadata"]["managedFields"] = obj["metadata"]["managedFields"];
      obj = std::move(merged);
    } else if (sub == "finalize") {
      json merged = Output(*old, k);
      merged["spec"]["finalizers"] = obj.contains("spec") ? obj["spec"].value("finalizers", json::array()) : json::array();
      obj = std::move(merged);
    } else if (k.res.has_status) {
      if (old->contains("status"))
        obj["status"] = (*old)["status"];
      else
        obj.erase("status");
    }
    auto& md = obj["metadata"];
    for (const char* key :
         {"uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "name", "namespace"}) {
      if (om.contains(key))
        md[key] = om[key];
      else
        md.erase(key);
    }
    if (om.contains("deletionTimestamp")) {
      auto before = Finalizers(*old);
      std::vector<std::string> added;
      for (const auto& f : Finalizers(obj))
        if (!before.count(f)) added.push_back(f);
      if (!added.empty()) {
        std::string list;
        for (const auto& f : added) list += (list.empty() ? "\"" : ", \"") + f + "\"";
        throw core::ApiError::Invalid(k.QualifiedKind(), w.target.name,
                                      {Cause("FieldValueForbidden", "metadata.finalizers",
                                             "Forbidden: no new finalizers can be added if the object is being "
                                             "deleted, found new finalizers [" + list + "]")},
                                      k.res.group, k.res.kind);
      }
    }
  } else {
    if (k.res.has_status) obj.erase("status");
    auto& md = obj["metadata"];
    md["uid"] = api::NewUid();
    md["creationTimestamp"] = core::FormatTime(now);
    md.erase("deletionTimestamp");
    md.erase("deletionGracePeriodSeconds");
    if (k.tracks_generation)
      md["generation"] = 1;
    else
      md.erase("generation");
  }
  Admit(w, obj, old);
  if (old && k.tracks_generation &&
      GenerationContent(obj, k.res.has_status) != GenerationContent(*old, k.res.has_status))
    obj["metadata"]["generation"] = api::Meta(*old).value("generation", 0) + 1;
  if (track_managed_fields) {
    auto lists = k.custom && k.schema ? k.schema->ListSemanticsOf()
                                      : apimachinery::BuiltinListSemantics(k.res.group, k.res.kind);
    obj = apimachinery::TrackUpdate(old ? Output(*old, k) : json(nullptr), obj, w.manager, k.res.ApiVersion(), lists,
                                    now, sub == "status" ? "status" : "");
  }
  if (w.dry_run) {
    if (old) obj["metadata"]["resourceVersion"] = api::Meta(*old).value("resourceVersion", "");
    return std::make_shared<const json>(std::move(obj));
  }
  if (old && obj["metadata"].contains("deletionTimestamp") && Finalizers(obj).empty()) {
    auto removed = store_.Remove(k.StorageKey(), w.target.ns, w.target.name);
    AfterWrite(k, old, removed, true);
    return removed;
  }
  obj["metadata"].erase("resourceVersion");
  auto stored = store_.Put(k.StorageKey(), std::move(obj));
  if (stored != old) AfterWrite(k, old, stored, false);
  return stored;
}

void ApiServer::Admit(Write& w, json& obj, const ObjectPtr& old) {
  const KindInfo& k = *w.target.kind;
  auto causes = ValidateMetadata(k, obj, old == nullptr);
  if (!causes.empty())
    throw core::ApiError::Invalid(k.QualifiedKind(), w.target.name, causes, k.res.group, k.res.kind);
  if (k.custom)
    AdmitCustomResource(w, obj);
  else
    AdmitBuiltin(w, obj, old);
}

void ApiServer::AdmitCustomResource(Write& w, json& obj) {
  const KindInfo& k = *w.target.kind;
  if (!k.schema) return;
  auto dropped = k.schema->Prune(obj);
  if (!dropped.empty()) {
    if (w.field_validation == "Strict") {
      std::string list;
      for (const auto& d : dropped) list += (list.empty() ? "" : ", ") + std::string("unknown field \"") + d + "\"";
      throw core::ApiError::BadRequest(k.res.kind + " in version \"" + k.res.version + "\" cannot be handled as a " +
                                       k.res.kind + ": strict decoding error: " + list);
    }
    if (w.field_validation == "Warn")
      for (const auto& d : dropped) w.warnings.push_back("unknown field \"" + d + "\"");
  }
  k.schema->ApplyDefaults(obj);
  auto causes = k.schema->Validate(obj);
  if (!causes.empty())
    throw core::ApiError::Invalid(k.QualifiedKind(), w.target.name, causes, k.res.group, k.res.kind);
}

void ApiServer::AdmitBuiltin(Write& w, json& obj, const ObjectPtr& old) {
  const KindInfo& k = *w.target.kind;
  const std::string& kind = k.res.kind;
  const std::string& name = w.target.name;
  auto invalid = [&](std::vector<core::StatusCause> causes) {
    return core::ApiError::Invalid(k.QualifiedKind(), name, causes, k.res.group, kind);
  };
  if (kind == "Namespace") {
    if (!obj.contains("spec") || !obj["spec"].is_object()) obj["spec"] = json::object();
    if (!obj["spec"].contains("finalizers")) obj["spec"]["finalizers"] = {"kubernetes"};
    if (!old) obj["status"] = {{"phase", "Active"}};
    obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = api::NameOf(obj);
  } else if (kind == "Secret") {
    if (obj.contains("stringData") && !obj["stringData"].is_null()) {
      if (!obj["stringData"].is_object()) throw invalid({Cause("FieldValueTypeInvalid", "stringData", "must be a map")});
      for (const auto& [key, value] : obj["stringData"].items()) {
        if (!value.is_string())
          throw invalid({Cause("FieldValueTypeInvalid", "stringData[" + key + "]", "Invalid value: must be a string")});
        obj["data"][key] = core::Base64Encode(value.get<std::string>());
      }
    }
    obj.erase("stringData");
    if (obj.contains("data") && !obj["data"].is_null()) {
      if (!obj["data"].is_object()) throw core::ApiError::BadRequest("Secret.data must be a map of base64 strings");
      for (const auto& [key, value] : obj["data"].items())
        if (!value.is_string() || !core::Base64Decode(value.get<std::string>()))
          throw core::ApiError::BadRequest("Secret \"" + name + "\": data[" + key +
                                           "] is not valid base64: illegal base64 data");
    }
    if (!obj.contains("type")) obj["type"] = "Opaque";
  } else if (kind == "ConfigMap") {
    if (obj.contains("data") && !obj["data"].is_null()) {
      bool ok = obj["data"].is_object();
      if (ok)
        for (const auto& [key, value] : obj["data"].items()) ok = ok && value.is_string();
      if (!ok) throw core::ApiError::BadRequest("ConfigMap \"" + name + "\": data must be a map of strings");
    }
  } else if (kind == "Service") {
    if (!obj.contains("spec") || !obj["spec"].is_object()) obj["spec"] = json::object();
    auto& spec = obj["spec"];
    if (!spec.contains("type")) spec["type"] = "ClusterIP";
    if (!spec.contains("sessionAffinity")) spec["sessionAffinity"] = "None";
    if (spec["type"] != "ExternalName" && !spec.contains("clusterIP")) {
      if (old && old->contains("spec") && (*old)["spec"].contains("clusterIP")) {
        spec["clusterIP"] = (*old)["spec"]["clusterIP"];
      } else {
        ++service_ip_counter;
        spec["clusterIP"] = "10.96." + std::to_string((service_ip_counter / 250) % 250) + "." +
                            std::to_string(service_ip_counter % 250 + 2);
      }
      spec["clusterIPs"] = {spec["clusterIP"]};
    }
    if (spec.contains("ports") && spec["ports"].is_array())
      for (auto& p : spec["ports"]) {
        if (!p.is_object()) continue;
        if (!p.contains("protocol")) p["protocol"] = "TCP";
        if (!p.contains("targetPort") && p.contains("port")) p["targetPort"] = p["port"];
      }
    if (!old) obj["status"] = {{"loadBalancer", json::object()}};
  } else if (kind == "Deployment" || kind == "DaemonSet" || kind == "ReplicaSet") {
    if (!obj.contains("spec") || !obj["spec"].is_object())
      throw invalid({Cause("FieldValueRequired", "spec", "Required value")});
    auto& spec = obj["spec"];
    std::vector<core::StatusCause> causes;
    json selector = spec.value("selector", json());
    if (!selector.is_object() || (SelectorString(selector).empty() && !selector.contains("matchExpressions"))) {
      causes.push_back(Cause("FieldValueRequired", "spec.selector", "Required value"));
    } else {
      json labels = spec.contains("template") && spec["template"].is_object() && spec["template"].contains("metadata")
                        ? spec["template"]["metadata"].value("labels", json::object())
                        : json::object();
      bool matches = false;
      try {
        matches = apimachinery::LabelSelector::FromObject(selector).Matches(labels);
      } catch (const std::invalid_argument& e) {
        causes.push_back(Cause("FieldValueInvalid", "spec.selector", std::string("Invalid value: ") + e.what()));
        matches = true;
      }
      if (!matches)
        causes.push_back(Cause("FieldValueInvalid", "spec.template.metadata.labels",
                               "Invalid value: " + labels.dump() + ": `selector` does not match template `labels`"));
    }
    if (!causes.empty()) throw invalid(causes);
    if (kind != "DaemonSet" && !spec.contains("replicas")) spec["replicas"] = 1;
    if (kind == "Deployment") {
      if (!spec.contains("progressDeadlineSeconds")) spec["progressDeadlineSeconds"] = 600;
      if (!spec.contains("revisionHistoryLimit")) spec["revisionHistoryLimit"] = 10;
      if (!spec.contains("strategy"))
        spec["strategy"] = {{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxSurge", "25%"}, {"maxUnavailable", "25%"}}}};
    }
  } else if (kind == "CustomResourceDefinition") {
    auto kinds = KindsOfCrd(obj, name);
    const auto& spec = obj["spec"];
    std::string storage;
    for (const auto& v : spec["versions"])
      if (v.value("storage", false)) storage = v.value("name", "");
    json names = spec["names"];
    if (!names.contains("singular")) names["singular"] = kinds.front().res.singular;
    if (!names.contains("listKind")) names["listKind"] = names.value("kind", "") + "List";
    std::string ts = core::FormatTime(clock_.Now());
    json stored_versions = old && old->contains("status") && (*old)["status"].contains("storedVersions")
                               ? (*old)["status"]["storedVersions"]
                               : json::array();
    if (std::find(stored_versions.begin(), stored_versions.end(), json(storage)) == stored_versions.end())
      stored_versions.push_back(storage);
    obj["status"] = {
        {"acceptedNames", names},
        {"conditions",
         {{{"type", "NamesAccepted"}, {"status", "True"}, {"lastTransitionTime", ts}, {"reason", "NoConflicts"},
           {"message", "no conflicts found"}},
          {{"type", "Established"}, {"status", "True"}, {"lastTransitionTime", ts}, {"reason", "InitialNamesAccepted"},
           {"message", "the initial names have been accepted"}}}},
        {"storedVersions", stored_versions}};
    if (old && old->contains("status") && (*old)["status"].contains("conditions")) {
      // Keep transition times of conditions that did not change.
      obj["status"]["conditions"] = (*old)["status"]["conditions"];
    }
  }
}

std::vector<KindInfo> ApiServer::KindsOfCrd(const json& crd, const std::string& name) const {
  auto invalid = [&](const std::string& field, const std::string& message, const char* reason = "FieldValueInvalid") {
    return core::ApiError::Invalid("CustomResourceDefinition.apiextensions.k8s.io", name, {Cause(reason, field, message)},
                                   "apiextensions.k8s.io", "CustomResourceDefinition");
  };
  if (!crd.contains("spec") || !crd["spec"].is_object()) throw invalid("spec", "Required value", "FieldValueRequired");
  const json& spec = crd["spec"];
  std::string group = api::Str(spec, "group");
  if (group.empty()) throw invalid("spec.group", "Required value", "FieldValueRequired");
  if (group.find('.') == std::string::npos)
    throw invalid("spec.group", "Invalid value: \"" + group + "\": should be a domain with at least one dot");
  const json names = spec.value("names", json::object());
  std::string plural = api::Str(names, "plural");
  std::string kind = api::Str(names, "kind");
  if (plural.empty()) throw invalid("spec.names.plural", "Required value", "FieldValueRequired");
  if (kind.empty()) throw invalid("spec.names.kind", "Required value", "FieldValueRequired");
  if (name != plural + "." + group)
    throw invalid("metadata.name", "Invalid value: \"" + name + "\": must be spec.names.plural+\".\"+spec.group");
  std::string scope = api::Str(spec, "scope");
  if (scope != "Namespaced" && scope != "Cluster")
    throw invalid("spec.scope", "Unsupported value: \"" + scope + "\": supported values: \"Cluster\", \"Namespaced\"",
                  "FieldValueNotSupported");
  if (!spec.contains("versions") || !spec["versions"].is_array() || spec["versions"].empty())
    throw invalid("spec.versions", "Required value: must have at least one version", "FieldValueRequired");
  int storage = 0;
  for (const auto& v : spec["versions"]) storage += v.is_object() && v.value("storage", false) ? 1 : 0;
  if (storage != 1) throw invalid("spec.versions", "Invalid value: must have exactly one version marked as storage version");
  std::string singular = api::Str(names, "singular");
  if (singular.empty()) {
    singular = kind;
    std::transform(singular.begin(), singular.end(), singular.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  }
  std::vector<KindInfo> out;
  for (size_t i = 0; i < spec["versions"].size(); ++i) {
    const json& v = spec["versions"][i];
    std::string field = "spec.versions[" + std::to_string(i) + "]";
    std::string vname = api::Str(v, "name");
    if (vname.empty()) throw invalid(field + ".name", "Required value", "FieldValueRequired");
    if (!v.value("served", false)) continue;
    KindInfo k;
    k.res.group = group;
    k.res.version = vname;
    k.res.resource = plural;
    k.res.kind = kind;
    k.res.singular = singular;
    k.res.namespaced = scope == "Namespaced";
    for (const char* list : {"shortNames", "categories"}) {
      if (!names.contains(list) || !names[list].is_array()) continue;
      for (const auto& s : names[list])
        if (s.is_string()) (std::string(list) == "shortNames" ? k.res.short_names : k.res.categories).push_back(s);
    }
    k.res.verbs = {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"};
    json subs = v.contains("subresources") ? v["subresources"] : spec.value("subresources", json());
    k.res.has_status = subs.is_object() && subs.contains("status");
    k.res.has_scale = subs.is_object() && subs.contains("scale");
    if (k.res.has_scale) k.scale = subs["scale"];
    k.custom = true;
    k.tracks_generation = true;
    json schema = v.contains("schema") && v["schema"].is_object() ? v["schema"].value("openAPIV3Schema", json())
                                                                   : json();
    if (schema.is_null() && spec.contains("validation") && spec["validation"].is_object())
      schema = spec["validation"].value("openAPIV3Schema", json());
    if (schema.is_object()) {
      try {
        k.schema = std::make_shared<const apimachinery::StructuralSchema>(schema);
      } catch (const std::invalid_argument& e) {
        throw invalid(field + ".schema.openAPIV3Schema", std::string("Invalid value: ") + e.what());
      }
      k.open_api_schema = schema;
    }
    json columns = v.contains("additionalPrinterColumns") ? v["additionalPrinterColumns"]
                                                          : spec.value("additionalPrinterColumns", json());
    if (columns.is_array()) k.printer_columns = columns;
    out.push_back(std::move(k));
  }
  if (out.empty()) throw invalid("spec.versions", "Invalid value: must have at least one served version");
  return out;
}

void ApiServer::AfterWrite(const KindInfo& kind, const ObjectPtr& old, const ObjectPtr& stored, bool removed) {
  if (kind.res.kind == "CustomResourceDefinition" && kind.res.group == "apiextensions.k8s.io") {
    std::string name = api::NameOf(*stored);
    if (removed) {
      for (const auto& k : registry_.All())
        if (k->crd_name == name) {
          store_.RemoveAll(k->StorageKey());
          break;
        }
      registry_.UnregisterCrd(name);
    } else {
      registry_.RegisterCrd(name, KindsOfCrd(*stored, name));
    }
  }
  if (kind.res.kind == "Deployment" && kind.res.group == "apps" && !removed) SimulateDeployment(old, stored);
  const auto& md = api::Meta(*stored);
  if (removed || md.contains("deletionTimestamp") || md.contains("ownerReferences")) ScheduleCollection();
}

net::HttpResponse ApiServer::ScaleRequest(const net::HttpRequest& req, const Target& t) {
  const KindInfo& k = *t.kind;
  auto old = store_.Get(k.StorageKey(), t.ns, t.name);
  if (!old) throw core::ApiError::NotFound(k.res.group, k.res.resource, t.name);
  std::string spec_path = k.custom ? api::Str(k.scale, "specReplicasPath") : ".spec.replicas";
  std::string status_path = k.custom ? api::Str(k.scale, "statusReplicasPath") : ".status.replicas";
  std::string selector_path = k.custom ? api::Str(k.scale, "labelSelectorPath") : "";
  json copy = *old;
  auto number = [&](const std::string& path) {
    json* p = DottedPath(copy, path, false);
    return p && p->is_number_integer() ? p->get<int64_t>() : 0;
  };
  std::string selector;
  if (!selector_path.empty()) {
    json* p = DottedPath(copy, selector_path, false);
    if (p && p->is_string()) selector = p->get<std::string>();
  } else if (copy.contains("spec")) {
    selector = SelectorString(copy["spec"].value("selector", json()));
  }
  const auto& om = api::Meta(*old);
  json scale = {{"kind", "Scale"},
                {"apiVersion", "autoscaling/v1"},
                {"metadata",
                 {{"name", t.name},
                  {"namespace", t.ns},
                  {"uid", om.value("uid", "")},
                  {"resourceVersion", om.value("resourceVersion", "")},
                  {"creationTimestamp", om.value("creationTimestamp", "")}}},
                {"spec", {{"replicas", number(spec_path)}}},
                {"status", {{"replicas", number(status_path)}}}};
  if (!selector.empty()) scale["status"]["selector"] = selector;
  if (req.method == "GET") return api::Json(200, scale);
  json updated;
  if (req.method == "PUT") {
    updated = DecodeBody(req);
  } else {
    std::string mt = MediaType(req);
    json patch = ParseJsonOrYaml(req.body, false, "the patch");
    if (mt == "application/json-patch+json")
      updated = apimachinery::ApplyJsonPatch(scale, patch);
    else if (mt == "application/merge-patch+json" || mt == "application/strategic-merge-patch+json")
      updated = apimachinery::ApplyMergePatch(scale, patch);
    else
      throw core::ApiError::UnsupportedMediaType(
          "the body of the request was in an unknown format - accepted media types include: "
          "application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json");
  }
  if (!updated.is_object() || !updated.contains("spec") || !updated["spec"].is_object() ||
      !updated["spec"].value("replicas", json()).is_number_integer())
    throw core::ApiError::BadRequest("a Scale must carry spec.replicas as an integer");
  std::string rv = api::Str(api::Meta(updated), "resourceVersion");
  if (!rv.empty() && rv != om.value("resourceVersion", ""))
    throw core::ApiError::Conflict(k.res.group, k.res.resource, t.name,
                                   "the object has been modified; please apply your changes to the latest version "
                                   "and try again");
  int64_t replicas = updated["spec"]["replicas"].get<int64_t>();
  if (replicas < 0)
    throw core::ApiError::Invalid("Scale.autoscaling", t.name,
                                  {Cause("FieldValueInvalid", "spec.replicas",
                                         "Invalid value: " + std::to_string(replicas) +
                                             ": must be greater than or equal to 0")});
  json obj = Output(*old, k);
  *DottedPath(obj, spec_path, true) = replicas;
  Target main = t;
  main.subresource.clear();
  Write w = NewWrite(req, main);
  auto stored = Commit(w, old, std::move(obj), true);
  scale["spec"]["replicas"] = replicas;
  scale["metadata"]["resourceVersion"] = api::Meta(*stored).value("resourceVersion", "");
  return api::Json(200, scale);
}

json ApiServer::ApplyCustomResourceDefinition(const json& crd) {
  std::string name = api::NameOf(crd);
  net::HttpRequest req;
  req.headers["content-type"] = "application/json";
  req.headers["user-agent"] = "sluice-emulator";
  req.query["fieldManager"] = "sluice-emulator";
  auto existing = store_.Get("apiextensions.k8s.io/customresourcedefinitions", "", name);
  json body = crd;
  if (existing) {
    body["metadata"]["resourceVersion"] = api::Meta(*existing).value("resourceVersion", "");
    req.method = "PUT";
    req.path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/" + name;
  } else {
    req.method = "POST";
    req.path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
  }
  req.target = req.path;
  req.body = body.dump();
  auto res = Handle(req);
  if (res.status >= 400) throw core::ApiError::FromResponse(res.status, res.body);
  return json::parse(res.body);
}

}  // namespace sluice::sandbox
