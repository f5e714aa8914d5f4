// StructuralSchema ties the parsed schema tree to the three steps of a write (prune,
// default, validate; see schema_prune.cc, schema_defaults.cc, schema_validate.cc) and answers
// list semantics for patches.
#include "apimachinery/schema.h"

#include "apimachinery/schema_internal.h"

namespace sluice::apimachinery {

using schema_internal::Node;
using schema_internal::NodePtr;

struct StructuralSchema::Impl {
  NodePtr root;
};

namespace {

const Node* ListNodeAt(const Node& root, const std::vector<std::string>& field_path) {
  const Node* n = &root;
  for (const auto& name : field_path) {
    while (n->items) n = n->items.get();  // list items continue the path without an index
    if (auto p = n->properties.find(name); p != n->properties.end()) n = p->second.get();
    else if (n->additional) n = n->additional.get();
    else return nullptr;
  }
  return n;
}


}  // namespace

StructuralSchema::StructuralSchema(const nlohmann::json& open_api_v3_schema) : impl_(std::make_shared<Impl>()) {
  impl_->root = schema_internal::ParseNode(open_api_v3_schema, "openAPIV3Schema");
}
StructuralSchema::~StructuralSchema() = default;
StructuralSchema::StructuralSchema(StructuralSchema&&) noexcept = default;
StructuralSchema& StructuralSchema::operator=(StructuralSchema&&) noexcept = default;

std::vector<core::StatusCause> StructuralSchema::Validate(const nlohmann::json& object) const {
  return schema_internal::ValidateResource(*impl_->root, object);
}

void StructuralSchema::ApplyDefaults(nlohmann::json& object) const {
  schema_internal::DefaultResource(*impl_->root, object);
}

std::vector<std::string> StructuralSchema::Prune(nlohmann::json& object) const {
  return schema_internal::PruneResource(*impl_->root, object);
}

ListSemanticsFn StructuralSchema::ListSemanticsOf() const {
  std::shared_ptr<const Impl> impl = impl_;
  return [impl](const std::vector<std::string>& field_path) {
    ListSemantics out;
    const Node* n = ListNodeAt(*impl->root, field_path);
    if (!n) return out;
    if (n->list_type == "set") {
      out.type = ListSemantics::Type::kSet;
    } else if (n->list_type == "map") {
      out.type = ListSemantics::Type::kMap;
      out.keys = n->list_map_keys;
    }
    return out;
  };
}

}  // namespace sluice::apimachinery
