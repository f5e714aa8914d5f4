// Decodes the Kubernetes protobuf request bodies kubectl sends for `kubectl create namespace`,
// `create configmap` and `create secret` (Content-Type application/vnd.kubernetes.protobuf)
// into the JSON object the API would have received had the client sent JSON.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

namespace sluice::sandbox {

// `body` is the whole request body: the magic "k8s\0" then a runtime.Unknown envelope whose
// raw bytes hold the object. Decodes v1 Namespace, ConfigMap and Secret; fields that a JSON
// encoder would omit (empty strings, zero generation, zero timestamps, empty maps) are omitted,
// and bytes maps (Secret data, ConfigMap binaryData) become base64 strings as in JSON.
// Unknown fields are skipped. Throws std::invalid_argument naming the byte offset and what was
// expected on malformed input, and naming the kind when it is not one of those three.
nlohmann::json DecodeKubernetesProtobuf(std::string_view body);

}  // namespace sluice::sandbox
