// Field numbers are those of gnostic's openapiv2/OpenAPIv2.proto (package openapi.v2), the
// message kubectl's discovery client unmarshals.
#include "sandbox/emulator/openapi_v2.h"

#include <cstdint>
#include <cstring>
#include <map>
#include <stdexcept>

namespace sluice::sandbox {
namespace {

using nlohmann::json;

// Protobuf wire format: a message is a run of (tag, value) pairs.
class Message {
 public:
  void Varint(int field, uint64_t v) {
    Key(field, 0);
    Raw(v);
  }
  void Bool(int field, bool v) { Varint(field, v ? 1 : 0); }
  void Double(int field, double v) {
    Key(field, 1);
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
  }
  void Bytes(int field, const std::string& v) {
    Key(field, 2);
    Raw(v.size());
    out_ += v;
  }
  void Sub(int field, const Message& m) { Bytes(field, m.out_); }
  const std::string& str() const { return out_; }

 private:
  void Key(int field, int wire) { Raw((static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(wire)); }
  void Raw(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  std::string out_;
};

[[noreturn]] void Refuse(const std::string& path, const std::string& what) {
  throw std::invalid_argument("openapi v2 protobuf: " + path + ": " + what);
}

const json& Expect(const json& v, json::value_t type, const std::string& path) {
  if (v.type() != type && !(type == json::value_t::number_float && v.is_number()) &&
      !(type == json::value_t::number_integer && v.is_number_integer()))
    Refuse(path, "expected " + std::string(json(type).type_name()) + ", got " + v.type_name());
  return v;
}

const std::string& Text(const json& v, const std::string& path) {
  return Expect(v, json::value_t::string, path).get_ref<const std::string&>();
}

bool IsExtension(const std::string& key) { return key.rfind("x-", 0) == 0; }

// gnostic keeps free-form values (default, enum, example, x-*) as YAML text; JSON is YAML.
Message AnyValue(const json& v) {
  Message m;
  m.Bytes(2, v.dump());
  return m;
}

Message NamedAny(const std::string& name, const json& v) {
  Message m;
  m.Bytes(1, name);
  m.Sub(2, AnyValue(v));
  return m;
}

// Calls encode(element, its path) for each element of the array `v`.
template <typename Encode>
void EachElement(const json& v, const std::string& path, Encode encode) {
  for (size_t i = 0; i < Expect(v, json::value_t::array, path).size(); ++i)
    encode(v[i], path + "[" + std::to_string(i) + "]");
}

void Strings(Message& m, int field, const json& v, const std::string& path) {
  EachElement(v, path, [&](const json& e, const std::string& at) { m.Bytes(field, Text(e, at)); });
}

Message ExternalDocs(const json& v, const std::string& path) {
  Message m;
  for (const auto& [k, x] : Expect(v, json::value_t::object, path).items()) {
    if (k == "description") m.Bytes(1, Text(x, path + "." + k));
    else if (k == "url") m.Bytes(2, Text(x, path + "." + k));
    else if (IsExtension(k)) m.Sub(3, NamedAny(k, x));
    else Refuse(path + "." + k, "not a field of ExternalDocs");
  }
  return m;
}

Message Schema(const json& s, const std::string& path);

void SchemaKey(Message& m, const std::string& k, const json& x, const std::string& path) {
  static const std::map<std::string, int> kStrings = {
      {"$ref", 1}, {"format", 2}, {"title", 3}, {"description", 4}, {"pattern", 13}, {"discriminator", 26}};
  static const std::map<std::string, int> kDoubles = {{"multipleOf", 6}, {"maximum", 7}, {"minimum", 9}};
  static const std::map<std::string, int> kBools = {
      {"exclusiveMaximum", 8}, {"exclusiveMinimum", 10}, {"uniqueItems", 16}, {"readOnly", 27}};
  static const std::map<std::string, int> kInts = {{"maxLength", 11}, {"minLength", 12},    {"maxItems", 14},
                                                   {"minItems", 15},  {"maxProperties", 17}, {"minProperties", 18}};
  const std::string at = path + "." + k;
  if (auto it = kStrings.find(k); it != kStrings.end()) return m.Bytes(it->second, Text(x, at));
  if (auto it = kDoubles.find(k); it != kDoubles.end())
    return m.Double(it->second, Expect(x, json::value_t::number_float, at).get<double>());
  if (auto it = kBools.find(k); it != kBools.end())
    return m.Bool(it->second, Expect(x, json::value_t::boolean, at).get<bool>());
  if (auto it = kInts.find(k); it != kInts.end())
    return m.Varint(it->second, static_cast<uint64_t>(Expect(x, json::value_t::number_integer, at).get<int64_t>()));
  if (k == "default") return m.Sub(5, AnyValue(x));
  if (k == "example") return m.Sub(30, AnyValue(x));
  if (k == "required") return Strings(m, 19, x, at);
  if (k == "enum") {
    for (const auto& e : Expect(x, json::value_t::array, at)) m.Sub(20, AnyValue(e));
    return;
  }
  if (k == "additionalProperties") {
    Message item;
    if (x.is_boolean()) item.Bool(2, x.get<bool>());
    else item.Sub(1, Schema(x, at));
    return m.Sub(21, item);
  }
  if (k == "type") {
    Message t;
    if (x.is_array()) Strings(t, 1, x, at);
    else t.Bytes(1, Text(x, at));
    return m.Sub(22, t);
  }
  if (k == "items") {
    Message items;
    if (x.is_array()) {
      for (size_t i = 0; i < x.size(); ++i) items.Sub(1, Schema(x[i], at + "[" + std::to_string(i) + "]"));
    } else {
      items.Sub(1, Schema(x, at));
    }
    return m.Sub(23, items);
  }
  if (k == "allOf") {
    return EachElement(x, at, [&](const json& e, const std::string& e_at) { m.Sub(24, Schema(e, e_at)); });
  }
  if (k == "properties") {
    Message props;
    for (const auto& [name, sub] : Expect(x, json::value_t::object, at).items()) {
      Message named;
      named.Bytes(1, name);
      named.Sub(2, Schema(sub, at + "." + name));
      props.Sub(1, named);
    }
    return m.Sub(25, props);
  }
  if (k == "externalDocs") return m.Sub(29, ExternalDocs(x, at));
  if (IsExtension(k)) return m.Sub(31, NamedAny(k, x));
  Refuse(at, "not a field of a Swagger 2.0 Schema");
}

Message Schema(const json& s, const std::string& path) {
  Message m;
  for (const auto& [k, x] : Expect(s, json::value_t::object, path).items()) SchemaKey(m, k, x, path);
  return m;
}

// Non-body parameters: the sub-schema message per `in`, with that message's field numbers
// for the keys Sluice's documents use.
struct ParamFields {
  int oneof_field, required, in, description, name, type, format, unique_items, extension;
};
const ParamFields* NonBodyFields(const std::string& in) {
  static const ParamFields kHeader{1, 1, 2, 3, 4, 5, 6, 19, 22};
  static const ParamFields kQuery{3, 1, 2, 3, 4, 6, 7, 20, 23};
  static const ParamFields kPath{4, 1, 2, 3, 4, 5, 6, 19, 22};
  if (in == "header") return &kHeader;
  if (in == "query") return &kQuery;
  if (in == "path") return &kPath;
  return nullptr;
}

Message Parameter(const json& p, const std::string& path) {
  Expect(p, json::value_t::object, path);
  Message item;
  if (p.contains("$ref")) {
    Message ref;
    ref.Bytes(1, Text(p["$ref"], path + ".$ref"));
    item.Sub(2, ref);
    return item;
  }
  const std::string in = p.contains("in") ? Text(p["in"], path + ".in") : "";
  Message param, sub;
  if (in == "body") {
    for (const auto& [k, x] : p.items()) {
      const std::string at = path + "." + k;
      if (k == "description") sub.Bytes(1, Text(x, at));
      else if (k == "name") sub.Bytes(2, Text(x, at));
      else if (k == "in") sub.Bytes(3, Text(x, at));
      else if (k == "required") sub.Bool(4, Expect(x, json::value_t::boolean, at).get<bool>());
      else if (k == "schema") sub.Sub(5, Schema(x, at));
      else if (IsExtension(k)) sub.Sub(6, NamedAny(k, x));
      else Refuse(at, "not a field of a body parameter");
    }
    param.Sub(1, sub);
  } else {
    const ParamFields* f = NonBodyFields(in);
    if (!f) Refuse(path + ".in", "expected body, header, query or path, got \"" + in + "\"");
    for (const auto& [k, x] : p.items()) {
      const std::string at = path + "." + k;
      if (k == "required") sub.Bool(f->required, Expect(x, json::value_t::boolean, at).get<bool>());
      else if (k == "in") sub.Bytes(f->in, Text(x, at));
      else if (k == "description") sub.Bytes(f->description, Text(x, at));
      else if (k == "name") sub.Bytes(f->name, Text(x, at));
      else if (k == "type") sub.Bytes(f->type, Text(x, at));
      else if (k == "format") sub.Bytes(f->format, Text(x, at));
      else if (k == "uniqueItems") sub.Bool(f->unique_items, Expect(x, json::value_t::boolean, at).get<bool>());
      else if (IsExtension(k)) sub.Sub(f->extension, NamedAny(k, x));
      else Refuse(at, "not a field Sluice encodes for a " + in + " parameter");
    }
    Message non_body;
    non_body.Sub(f->oneof_field, sub);
    param.Sub(2, non_body);
  }
  item.Sub(1, param);
  return item;
}

void Parameters(Message& m, int field, const json& v, const std::string& path) {
  EachElement(v, path, [&](const json& e, const std::string& at) { m.Sub(field, Parameter(e, at)); });
}

Message Responses(const json& v, const std::string& path) {
  Message m;
  for (const auto& [code, r] : Expect(v, json::value_t::object, path).items()) {
    const std::string at = path + "." + code;
    if (IsExtension(code)) {
      m.Sub(2, NamedAny(code, r));
      continue;
    }
    Message response;
    for (const auto& [k, x] : Expect(r, json::value_t::object, at).items()) {
      if (k == "description") {
        response.Bytes(1, Text(x, at + "." + k));
      } else if (k == "schema") {
        Message item;
        item.Sub(1, Schema(x, at + "." + k));
        response.Sub(2, item);
      } else if (IsExtension(k)) {
        response.Sub(5, NamedAny(k, x));
      } else {
        Refuse(at + "." + k, "not a field Sluice encodes for a Response");
      }
    }
    Message value, named;
    value.Sub(1, response);
    named.Bytes(1, code);
    named.Sub(2, value);
    m.Sub(1, named);
  }
  return m;
}

Message Operation(const json& op, const std::string& path) {
  Message m;
  for (const auto& [k, x] : Expect(op, json::value_t::object, path).items()) {
    const std::string at = path + "." + k;
    if (k == "tags") Strings(m, 1, x, at);
    else if (k == "summary") m.Bytes(2, Text(x, at));
    else if (k == "description") m.Bytes(3, Text(x, at));
    else if (k == "externalDocs") m.Sub(4, ExternalDocs(x, at));
    else if (k == "operationId") m.Bytes(5, Text(x, at));
    else if (k == "produces") Strings(m, 6, x, at);
    else if (k == "consumes") Strings(m, 7, x, at);
    else if (k == "parameters") Parameters(m, 8, x, at);
    else if (k == "responses") m.Sub(9, Responses(x, at));
    else if (k == "schemes") Strings(m, 10, x, at);
    else if (k == "deprecated") m.Bool(11, Expect(x, json::value_t::boolean, at).get<bool>());
    else if (IsExtension(k)) m.Sub(13, NamedAny(k, x));
    else Refuse(at, "not a field Sluice encodes for an Operation");
  }
  return m;
}

Message PathItem(const json& item, const std::string& path) {
  static const std::map<std::string, int> kVerbs = {{"get", 2},     {"put", 3},  {"post", 4}, {"delete", 5},
                                                    {"options", 6}, {"head", 7}, {"patch", 8}};
  Message m;
  for (const auto& [k, x] : Expect(item, json::value_t::object, path).items()) {
    const std::string at = path + "." + k;
    if (auto it = kVerbs.find(k); it != kVerbs.end()) m.Sub(it->second, Operation(x, at));
    else if (k == "$ref") m.Bytes(1, Text(x, at));
    else if (k == "parameters") Parameters(m, 9, x, at);
    else if (IsExtension(k)) m.Sub(10, NamedAny(k, x));
    else Refuse(at, "not a field of a PathItem");
  }
  return m;
}

Message Info(const json& v, const std::string& path) {
  Message m;
  for (const auto& [k, x] : Expect(v, json::value_t::object, path).items()) {
    if (k == "title") m.Bytes(1, Text(x, path + "." + k));
    else if (k == "version") m.Bytes(2, Text(x, path + "." + k));
    else if (k == "description") m.Bytes(3, Text(x, path + "." + k));
    else if (IsExtension(k)) m.Sub(7, NamedAny(k, x));
    else Refuse(path + "." + k, "not a field Sluice encodes for Info");
  }
  return m;
}

// Named maps (paths, definitions) are repeated (name, value) messages in name order.
template <typename Encode>
Message NamedMap(const json& v, const std::string& path, int field, Encode encode) {
  Message m;
  for (const auto& [name, x] : Expect(v, json::value_t::object, path).items()) {
    Message named;
    named.Bytes(1, name);
    named.Sub(2, encode(x, path + "." + name));
    m.Sub(field, named);
  }
  return m;
}

json StringMap() { return {{"type", "object"}, {"additionalProperties", {{"type", "string"}}}}; }

}  // namespace

std::string EncodeOpenApiV2Protobuf(const json& doc) {
  Message m;
  for (const auto& [k, x] : Expect(doc, json::value_t::object, "$").items()) {
    const std::string at = "$." + k;
    if (k == "swagger") m.Bytes(1, Text(x, at));
    else if (k == "info") m.Sub(2, Info(x, at));
    else if (k == "host") m.Bytes(3, Text(x, at));
    else if (k == "basePath") m.Bytes(4, Text(x, at));
    else if (k == "schemes") Strings(m, 5, x, at);
    else if (k == "consumes") Strings(m, 6, x, at);
    else if (k == "produces") Strings(m, 7, x, at);
    else if (k == "paths") m.Sub(8, NamedMap(x, at, 2, PathItem));
    else if (k == "definitions") m.Sub(9, NamedMap(x, at, 1, Schema));
    else if (IsExtension(k)) m.Sub(16, NamedAny(k, x));
    else Refuse(at, "not a field Sluice encodes for a Document");
  }
  return m.str();
}

namespace {

// kube-apiserver's ToStructuralOpenAPIV2, applied to one schema node and its children.
json ToV2(json s) {
  if (!s.is_object()) return s;
  // Composition keywords have no v2 meaning for kubectl; the rest are JSON Schema keywords a
  // v1 CRD cannot hold anyway, dropped here so a hand-loaded schema cannot break the document.
  for (const char* k : {"allOf", "oneOf", "anyOf", "not", "patternProperties", "dependencies", "additionalItems",
                        "definitions", "id", "$schema"})
    s.erase(k);
  const bool nullable = s.value("nullable", false);
  s.erase("nullable");
  if (nullable) {
    s.erase("type");
    s.erase("items");
    s.erase("properties");
  }
  if (s.value("x-kubernetes-preserve-unknown-fields", false)) {
    s.erase("items");
    s.erase("properties");
  }
  if (s.value("type", "") == "array" && !s.contains("items")) s.erase("type");
  if (s.contains("properties") && s["properties"].is_object()) {
    json required = json::array();
    for (const auto& r : s.value("required", json::array())) {
      const json& props = s["properties"];
      const bool drop = r.is_string() && props.contains(r.get<std::string>()) &&
                        props[r.get<std::string>()].value("nullable", false);
      if (!drop) required.push_back(r);
    }
    if (s.contains("required")) s["required"] = required;
    for (auto& [name, sub] : s["properties"].items()) sub = ToV2(sub);
  }
  if (s.contains("items")) s["items"] = ToV2(s["items"]);
  if (s.contains("additionalProperties") && s["additionalProperties"].is_object())
    s["additionalProperties"] = ToV2(s["additionalProperties"]);
  return s;
}

}  // namespace

namespace {

json TypeMetaField(const char* description) { return {{"type", "string"}, {"description", description}}; }

// What kube-apiserver adds to every kind it publishes: apiVersion, kind and the shared
// ObjectMeta (v3 wraps the reference in allOf so that it can carry a description).
void AddKubeNativeFields(json& s, bool v2) {
  json& props = s["properties"];
  const std::string ref = std::string(v2 ? "#/definitions/" : "#/components/schemas/") + kObjectMetaDefinition;
  if (v2) props["metadata"] = {{"$ref", ref}};
  else props["metadata"] = {{"allOf", json::array({{{"$ref", ref}}})}, {"description", "Standard object's metadata."}};
  props["apiVersion"] = TypeMetaField("APIVersion defines the versioned schema of this representation of an object.");
  props["kind"] = TypeMetaField("Kind is a string value representing the REST resource this object represents.");
}

// x-kubernetes-embedded-resource objects are whole objects of their own (a template, a
// RawExtension): they get the same fields.
void AddEmbeddedFields(json& s, bool v2) {
  if (!s.is_object()) return;
  if (s.contains("properties") && s["properties"].is_object()) {
    for (auto& [name, sub] : s["properties"].items()) AddEmbeddedFields(sub, v2);
    if (s.value("x-kubernetes-embedded-resource", false)) AddKubeNativeFields(s, v2);
  }
  if (s.contains("items")) AddEmbeddedFields(s["items"], v2);
  if (s.contains("additionalProperties")) AddEmbeddedFields(s["additionalProperties"], v2);
}

}  // namespace

json PublishedCrdSchema(const json& v3_schema, bool v2) {
  // A root that keeps unknown fields publishes no properties in v2: kubectl would otherwise
  // refuse every field it does not list.
  if (!v3_schema.is_object() || (v2 && v3_schema.value("x-kubernetes-preserve-unknown-fields", false)))
    return {{"type", "object"}};
  json s = v2 ? ToV2(v3_schema) : v3_schema;
  AddEmbeddedFields(s, v2);
  AddKubeNativeFields(s, v2);
  return s;
}

json ObjectMetaV2Definition() {
  json str = {{"type", "string"}};
  json integer = {{"type", "integer"}, {"format", "int64"}};
  json time = {{"type", "string"}, {"format", "date-time"}};
  json owner = {{"type", "object"},
                {"required", {"apiVersion", "kind", "name", "uid"}},
                {"properties",
                 {{"apiVersion", str},
                  {"kind", str},
                  {"name", str},
                  {"uid", str},
                  {"controller", {{"type", "boolean"}}},
                  {"blockOwnerDeletion", {{"type", "boolean"}}}}}};
  json managed = {{"type", "object"},
                  {"properties",
                   {{"apiVersion", str},
                    {"fieldsType", str},
                    {"fieldsV1", {{"type", "object"}}},
                    {"manager", str},
                    {"operation", str},
                    {"subresource", str},
                    {"time", time}}}};
  return {{"description",
           "ObjectMeta is metadata that all persisted resources must have, which includes all objects users must "
           "create."},
          {"type", "object"},
          {"properties",
           {{"annotations", StringMap()},
            {"creationTimestamp", time},
            {"deletionGracePeriodSeconds", integer},
            {"deletionTimestamp", time},
            {"finalizers", {{"type", "array"}, {"items", str}}},
            {"generateName", str},
            {"generation", integer},
            {"labels", StringMap()},
            {"managedFields", {{"type", "array"}, {"items", managed}}},
            {"name", str},
            {"namespace", str},
            {"ownerReferences", {{"type", "array"}, {"items", owner}}},
            {"resourceVersion", str},
            {"selfLink", str},
            {"uid", str}}}};
}

}  // namespace sluice::sandbox
