// Temporary scaffolding so the emulator links while the machinery is written; each function
// moves to its own file (schema.cc, patch.cc, managed_fields.cc, selectors.cc, table.cc).
#include <stdexcept>

#include "sandbox/apimachinery/managed_fields.h"
#include "sandbox/apimachinery/patch.h"
#include "sandbox/apimachinery/schema.h"
#include "sandbox/apimachinery/selectors.h"
#include "sandbox/apimachinery/table.h"

namespace sluice::apimachinery {
namespace {
[[noreturn]] void Unimplemented(const char* what) { throw std::logic_error(std::string(what) + " is not written yet"); }
}  // namespace

struct StructuralSchema::Impl {};
StructuralSchema::StructuralSchema(const nlohmann::json&) : impl_(std::make_shared<Impl>()) {}
StructuralSchema::~StructuralSchema() = default;
StructuralSchema::StructuralSchema(StructuralSchema&&) noexcept = default;
StructuralSchema& StructuralSchema::operator=(StructuralSchema&&) noexcept = default;
std::vector<kube::StatusCause> StructuralSchema::Validate(const nlohmann::json&) const { return {}; }
void StructuralSchema::ApplyDefaults(nlohmann::json&) const {}
std::vector<std::string> StructuralSchema::Prune(nlohmann::json&) const { return {}; }
ListSemanticsFn StructuralSchema::ListSemanticsOf() const {
  return [](const std::vector<std::string>&) { return ListSemantics{}; };
}
ListSemanticsFn BuiltinListSemantics(const std::string&, const std::string&) {
  return [](const std::vector<std::string>&) { return ListSemantics{}; };
}
nlohmann::json ApplyJsonPatch(const nlohmann::json& o, const nlohmann::json& p) { return o.patch(p); }
nlohmann::json ApplyMergePatch(const nlohmann::json& o, const nlohmann::json& p) {
  nlohmann::json r = o;
  r.merge_patch(p);
  return r;
}
nlohmann::json ApplyStrategicMergePatch(const nlohmann::json& o, const nlohmann::json& p, const ListSemanticsFn&) {
  return ApplyMergePatch(o, p);
}
nlohmann::json ServerSideApply(const nlohmann::json&, const nlohmann::json&, const ApplyRequest&,
                               const ListSemanticsFn&, kube::TimePoint) {
  Unimplemented("ServerSideApply");
}
nlohmann::json TrackUpdate(const nlohmann::json&, const nlohmann::json& after, const std::string&, const std::string&,
                           const ListSemanticsFn&, kube::TimePoint, const std::string&) {
  return after;
}
LabelSelector LabelSelector::Parse(const std::string&) { return {}; }
LabelSelector LabelSelector::FromObject(const nlohmann::json&) { return {}; }
bool LabelSelector::Matches(const nlohmann::json&) const { return true; }
FieldSelector FieldSelector::Parse(const std::string&) { return {}; }
bool FieldSelector::Matches(const nlohmann::json&) const { return true; }
std::string FieldSelector::PinnedName() const { return ""; }
std::vector<PrinterColumn> ColumnsFromCrd(const nlohmann::json&) { return {}; }
std::vector<PrinterColumn> BuiltinColumns(const std::string&, const std::string&) { return {}; }
nlohmann::json MakeTable(const std::vector<nlohmann::json>&, const std::vector<PrinterColumn>&, const std::string&,
                         kube::TimePoint, const std::string&, const std::string&) {
  Unimplemented("MakeTable");
}
std::optional<nlohmann::json> EvalJsonPath(const nlohmann::json&, std::string_view) { return std::nullopt; }

}  // namespace sluice::apimachinery
