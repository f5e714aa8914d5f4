// How a list inside an object merges: atomically (replaced whole), as a set of scalars, or
// as a map keyed by fields of its items. Strategic merge patch and server-side apply share it.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace sluice::apimachinery {

struct ListSemantics {
  enum class Type { kAtomic, kSet, kMap };
  Type type = Type::kAtomic;
  std::vector<std::string> keys;  // kMap: the merge keys (e.g. {"name"}, {"containerPort","protocol"})
  // Asked about a path that names an object rather than a list: true when server-side apply
  // replaces and owns that object whole (+structType=atomic, +mapType=atomic,
  // x-kubernetes-map-type: atomic), e.g. a Deployment's spec.selector or a Service's selector.
  // Strategic merge patch ignores it, as the API server's does.
  bool atomic_object = false;
};

// `field_path` is the path of field names from the object root to the list, without indices,
// e.g. {"spec","template","spec","containers"}; nested lists inside items continue the path
// ({"spec","template","spec","containers","ports"}).
using ListSemanticsFn = std::function<ListSemantics(const std::vector<std::string>& field_path)>;

// Merge keys of the built-in kinds the emulator serves (the patchMergeKey / listType tags of
// the Kubernetes types): containers, initContainers, ports, env, volumes, volumeMounts,
// conditions, tolerations, imagePullSecrets, finalizers (set), ownerReferences (uid), ...
ListSemanticsFn BuiltinListSemantics(const std::string& group, const std::string& kind);

}  // namespace sluice::apimachinery
