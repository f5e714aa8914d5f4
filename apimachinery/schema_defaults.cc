// Defaulting as the API server does it when decoding a custom resource: non-nullable nulls
// without a default are dropped (PruneNonNullableNullsWithoutDefaults), then absent fields get
// their defaults, parents before children so that a defaulted object is filled in turn.
#include <string>
#include <vector>

#include "apimachinery/schema_internal.h"

namespace sluice::apimachinery::schema_internal {
namespace {

using nlohmann::json;

const Node* SchemaForField(const Node& n, const std::string& key) {
  if (auto p = n.properties.find(key); p != n.properties.end()) return p->second.get();
  return n.additional.get();
}

void DropNonNullableNulls(const Node& n, json& x) {
  if (x.is_object()) {
    std::vector<std::string> drop;
    for (auto it = x.begin(); it != x.end(); ++it) {
      const Node* field = SchemaForField(n, it.key());
      if (!field) continue;
      if (it->is_null() && !field->default_value && !field->nullable) drop.push_back(it.key());
      else DropNonNullableNulls(*field, it.value());
    }
    for (const auto& k : drop) x.erase(k);
  } else if (x.is_array() && n.items) {
    for (auto& item : x) DropNonNullableNulls(*n.items, item);
  }
}

bool NonNullableNull(const json& v, const Node& n) { return v.is_null() && !n.nullable; }

void Default(const Node& n, json& x) {
  if (x.is_object()) {
    for (const auto& [name, prop] : n.properties) {
      if (!prop->default_value) continue;
      auto it = x.find(name);
      if (it == x.end() || NonNullableNull(*it, *prop)) x[name] = *prop->default_value;
    }
    for (auto it = x.begin(); it != x.end(); ++it) {
      auto prop = n.properties.find(it.key());
      if (prop != n.properties.end()) {
        Default(*prop->second, it.value());
      } else if (n.additional) {
        if (NonNullableNull(it.value(), *n.additional) && n.additional->default_value)
          it.value() = *n.additional->default_value;
        Default(*n.additional, it.value());
      }
    }
  } else if (x.is_array() && n.items) {
    for (auto& item : x) {
      if (NonNullableNull(item, *n.items) && n.items->default_value) item = *n.items->default_value;
      Default(*n.items, item);
    }
  }
}

}  // namespace

void DefaultResource(const Node& root, json& object) {
  DropNonNullableNulls(root, object);
  Default(root, object);
}

}  // namespace sluice::apimachinery::schema_internal
