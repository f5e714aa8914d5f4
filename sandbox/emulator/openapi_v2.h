// The Swagger 2.0 document at /openapi/v2, which kubectl up to 1.26 reads for client-side
// validation and `kubectl explain`. kubectl asks for it as protobuf (the gnostic
// openapi.v2.Document message), so both the JSON form and that encoding live here.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace sluice::sandbox {

// A CRD version's openAPIV3Schema as kube-apiserver publishes it: apiVersion, kind and a
// reference to the shared ObjectMeta are added at the root and in every
// x-kubernetes-embedded-resource. For v2, what v2 cannot say is dropped the way the API server
// drops it (allOf/oneOf/anyOf/not; nullable fields lose their type and are no longer required;
// x-kubernetes-preserve-unknown-fields loses properties and items, and at the root leaves a
// bare object; an array without items loses its type).
nlohmann::json PublishedCrdSchema(const nlohmann::json& v3_schema, bool v2);

// The ObjectMeta definition every custom kind's `metadata` refers to, under this name (the
// same object serves v3, whose schema keywords for it are the same).
inline constexpr char kObjectMetaDefinition[] = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
nlohmann::json ObjectMetaV2Definition();

// `doc` (a Swagger 2.0 document in JSON) as the protobuf message openapi.v2.Document. The keys
// Sluice's documents use are encoded (info, paths with their operations and parameters,
// definitions with the full Schema object, vendor extensions as YAML text as gnostic keeps
// them); a key the message has no field for is refused with std::invalid_argument naming its
// JSON path, so the two forms can never silently differ.
std::string EncodeOpenApiV2Protobuf(const nlohmann::json& doc);

}  // namespace sluice::sandbox
