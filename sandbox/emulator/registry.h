// The kinds the emulator serves: the built-in ones and those CRDs register, per group-version.
#pragma once

#include "kube/resource.h"
#include "apimachinery/schema.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace sluice::sandbox {

struct KindInfo {
  kube::ApiResource res;
  bool custom = false;             // served from a CRD
  bool tracks_generation = false;  // metadata.generation is maintained
  // Custom resources: schema machinery and the raw pieces discovery, openapi and tables need.
  std::shared_ptr<const apimachinery::StructuralSchema> schema;
  nlohmann::json open_api_schema;     // the version's openAPIV3Schema (null when none)
  nlohmann::json printer_columns;     // additionalPrinterColumns (null when none)
  nlohmann::json scale;               // subresources.scale of the version (null when none)
  std::string crd_name;               // owning CRD

  // Objects of every version of a group-resource live under one key.
  std::string StorageKey() const { return res.group + "/" + res.resource; }
  // "Deployment.apps", "ConfigMap": how validation errors name the kind.
  std::string QualifiedKind() const { return res.group.empty() ? res.kind : res.kind + "." + res.group; }
};

using KindPtr = std::shared_ptr<const KindInfo>;

class Registry {
 public:
  Registry();  // registers the built-in kinds

  KindPtr Find(const std::string& group, const std::string& version, const std::string& resource) const;
  KindPtr FindKind(const std::string& group, const std::string& version, const std::string& kind) const;
  // Any served version of the group-resource (for storage-wide work such as garbage collection).
  std::vector<KindPtr> All() const;
  std::vector<KindPtr> InGroupVersion(const std::string& group, const std::string& version) const;
  // Groups in discovery order (core "" first, built-in groups, then CRD groups by name) with
  // their versions, preferred version first.
  std::vector<std::pair<std::string, std::vector<std::string>>> GroupVersions() const;

  // Replaces everything a CRD registered before.
  void RegisterCrd(const std::string& crd_name, std::vector<KindInfo> kinds);
  void UnregisterCrd(const std::string& crd_name);
  // Bumped on every change; caches of discovery and openapi key on it.
  uint64_t generation() const { return generation_; }

 private:
  void Add(KindInfo info);
  std::vector<KindPtr> kinds_;  // registration order
  std::map<std::string, std::vector<std::string>> crd_versions_;  // group -> versions (CRD order)
  uint64_t generation_ = 1;
};

}  // namespace sluice::sandbox
