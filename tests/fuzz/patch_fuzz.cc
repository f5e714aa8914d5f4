// The PATCH bodies the emulator applies (apimachinery/patch.h): JSON patch, merge patch and
// strategic merge patch with a Deployment's list semantics. The input is a JSON list
// [original, patch]; a patch that is malformed or does not apply is an ApiError (400/422).
#include <nlohmann/json.hpp>

#include "apimachinery/patch.h"
#include "core/api_error.h"
#include "tests/fuzz/fuzz_support.h"

using namespace sluice;
using nlohmann::json;

namespace {

template <typename Apply>
void Try(Apply apply) {
  try {
    json out = apply();
    (void)out.dump();
  } catch (const core::ApiError& e) {
    SLUICE_FUZZ_CHECK(e.code() == 400 || e.code() == 413 || e.code() == 422);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  json pair = fuzz::ParseJsonBody(fuzz::Text(data, size));
  if (pair.is_discarded() || !pair.is_array() || pair.size() != 2) return 0;
  const json& original = pair[0];
  const json& patch = pair[1];
  static const auto kDeploymentLists = apimachinery::BuiltinListSemantics("apps", "Deployment");
  Try([&] { return apimachinery::ApplyJsonPatch(original, patch); });
  Try([&] { return apimachinery::ApplyMergePatch(original, patch); });
  Try([&] { return apimachinery::ApplyStrategicMergePatch(original, patch, kDeploymentLists); });
  return 0;
}
