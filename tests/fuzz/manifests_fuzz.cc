// One manifest file of a Git repository as a sync reads it (controller/gitops/manifests.h):
// split into documents, substituted when the Kustomization has postBuild, parsed, checked.
#include <stdexcept>

#include "controller/gitops/manifests.h"
#include "tests/fuzz/fuzz_support.h"

using namespace sluice;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(fuzz::Text(data, size));
  static const gitops::Variables kVariables = {{"REPLICAS", "3"}, {"IMAGE", "ghcr.io/podinfo:6.5.0"}, {"_x", ""}};
  // Without and with postBuild, as both kinds of sync read the same files. A bad file is a
  // ManifestError (its message becomes the condition); anything else escaping is a defect.
  for (const std::optional<gitops::Variables>& variables : {std::optional<gitops::Variables>(), std::optional(kVariables)}) {
    try {
      for (const auto& m : gitops::ParseManifestText(text, "apps/fuzz.yaml", variables)) {
        SLUICE_FUZZ_CHECK(m.object.is_object());
        (void)m.object.dump();
        (void)m.Origin();
      }
    } catch (const gitops::ManifestError& e) {
      SLUICE_FUZZ_CHECK(fuzz::Reportable(e.what()));  // it becomes the Ready condition's message
    }
  }
  return 0;
}
