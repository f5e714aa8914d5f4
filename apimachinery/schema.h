// A CRD's openAPIV3Schema as the API server uses it: validation with one cause per bad field,
// defaulting, and pruning of unknown fields. Written by hand because no JSON-schema library
// knows Kubernetes' structural-schema rules (x-kubernetes-int-or-string,
// x-kubernetes-preserve-unknown-fields, x-kubernetes-embedded-resource, nullable, list types,
// defaults, pruning) or its field-path style in error messages.
#pragma once

#include "core/api_error.h"
#include "apimachinery/list_semantics.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace sluice::apimachinery {

class StructuralSchema {
 public:
  // Throws std::invalid_argument naming the schema path when the schema itself is unusable.
  explicit StructuralSchema(const nlohmann::json& open_api_v3_schema);
  ~StructuralSchema();
  StructuralSchema(StructuralSchema&&) noexcept;
  StructuralSchema& operator=(StructuralSchema&&) noexcept;

  // Every violation, each with reason (FieldValueInvalid, FieldValueRequired,
  // FieldValueNotSupported, FieldValueTypeInvalid, FieldValueTooLong, TooMany, ...), message
  // as the API server words it, and field path ("spec.rules[0].backendRefs[0].weight").
  // apiVersion, kind and metadata at the root are the server's business and are skipped.
  std::vector<core::StatusCause> Validate(const nlohmann::json& object) const;

  // Fills schema defaults where fields are absent (recursively, as the API server does on
  // create, update and read).
  void ApplyDefaults(nlohmann::json& object) const;

  // Removes fields the schema does not declare (unless x-kubernetes-preserve-unknown-fields);
  // returns the dropped paths, for fieldValidation=Strict/Warn.
  std::vector<std::string> Prune(nlohmann::json& object) const;

  // List semantics from x-kubernetes-list-type and x-kubernetes-list-map-keys.
  ListSemanticsFn ListSemanticsOf() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace sluice::apimachinery
