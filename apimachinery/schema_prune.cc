// Structural pruning: fields the schema does not declare are dropped, except under
// x-kubernetes-preserve-unknown-fields and the apiVersion/kind/metadata of the resource root
// and of embedded resources. The dropped paths feed fieldValidation=Strict and Warn.
#include <algorithm>
#include <string>
#include <vector>

#include "apimachinery/schema_internal.h"

namespace sluice::apimachinery::schema_internal {
namespace {

using nlohmann::json;

class Pruner {
 public:
  std::vector<std::string> dropped;

  void Prune(json& x, const Node* n, const std::string& path) {
    if (n && n->preserve_unknown) {
      SkipPrune(x, *n, path);
      return;
    }
    if (x.is_object()) {
      std::vector<std::string> drop;
      for (auto it = x.begin(); it != x.end(); ++it) {
        const std::string& k = it.key();
        if (n && n->embedded_resource && IsResourceField(k)) continue;
        const Node* child = nullptr;
        bool known = false;
        if (n) {
          if (auto p = n->properties.find(k); p != n->properties.end()) {
            child = p->second.get();
            known = true;
          } else if (n->has_additional) {
            // additionalProperties without a schema (true) keeps the key but, like the API
            // server, prunes everything inside an object value.
            child = n->additional.get();
            known = true;
          }
        }
        if (!known) {
          drop.push_back(k);
          continue;
        }
        Prune(it.value(), child, Child(path, k));
      }
      for (const auto& k : drop) {
        dropped.push_back(Child(path, k));
        x.erase(k);
      }
    } else if (x.is_array()) {
      for (size_t i = 0; i < x.size(); ++i) Prune(x[i], n ? n->items.get() : nullptr, Index(path, i));
    }
  }

 private:
  static bool IsResourceField(const std::string& k) { return k == "apiVersion" || k == "kind" || k == "metadata"; }

  void SkipPrune(json& x, const Node& n, const std::string& path) {
    if (x.is_object()) {
      for (auto it = x.begin(); it != x.end(); ++it) {
        const std::string& k = it.key();
        if (n.embedded_resource && IsResourceField(k)) continue;
        if (auto p = n.properties.find(k); p != n.properties.end()) Prune(it.value(), p->second.get(), Child(path, k));
        else if (n.has_additional) Prune(it.value(), n.additional.get(), Child(path, k));
      }
    } else if (x.is_array() && n.items) {
      for (size_t i = 0; i < x.size(); ++i) SkipPrune(x[i], *n.items, Index(path, i));
    }
  }
};

}  // namespace

std::vector<std::string> PruneResource(const Node& root, json& object) {
  Node resource = root;
  resource.embedded_resource = true;  // apiVersion, kind and metadata always survive at the root
  Pruner pruner;
  pruner.Prune(object, &resource, "");
  std::sort(pruner.dropped.begin(), pruner.dropped.end());
  return pruner.dropped;
}

}  // namespace sluice::apimachinery::schema_internal
