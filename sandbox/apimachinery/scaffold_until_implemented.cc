// Temporary scaffolding so the emulator links while the machinery is written; each function
// moves to its own file (schema.cc, patch.cc, managed_fields.cc, selectors.cc, table.cc).
#include <stdexcept>

#include "sandbox/apimachinery/schema.h"
#include "sandbox/apimachinery/selectors.h"
#include "sandbox/apimachinery/table.h"

namespace sluice::apimachinery {
namespace {
[[noreturn]] void Unimplemented(const char* what) { throw std::logic_error(std::string(what) + " is not written yet"); }
}  // namespace

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
