// A Canary object as the API hands it to the controller (api/canary_spec.h): ParseCanarySpec
// with the routing providers this build knows, and the status codec, which must read back
// whatever an older controller or a user's edit left in .status.
#include <nlohmann/json.hpp>

#include "api/canary_spec.h"
#include "routing/router.h"
#include "tests/fuzz/fuzz_support.h"

using namespace sluice;
using nlohmann::json;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  json canary = json::parse(fuzz::Text(data, size), nullptr, /*allow_exceptions=*/false);
  if (canary.is_discarded()) return 0;
  static const auto providers = routing::RouterRegistry::Builtin().Providers();
  // The parser reports every problem as a SpecError; it throws nothing.
  auto parsed = api::ParseCanarySpec(canary, providers);
  if (auto* error = std::get_if<api::SpecError>(&parsed)) SLUICE_FUZZ_CHECK(fuzz::Reportable(error->ToString()));
  if (auto* spec = std::get_if<api::CanarySpec>(&parsed)) {
    (void)spec->strategy();
    SLUICE_FUZZ_CHECK(spec->EffectiveMaxWeight() >= 0 && spec->EffectiveMaxWeight() <= 100);
  }
  if (canary.is_object() && canary.contains("status")) {
    // Malformed fields fall back to the start of the state machine, never a crash; what was
    // read is written back and read again unchanged (all rollout state lives there).
    json written = api::StatusToJson(api::StatusFromJson(canary["status"]));
    SLUICE_FUZZ_CHECK(api::StatusToJson(api::StatusFromJson(written)) == written);
  }
  return 0;
}
