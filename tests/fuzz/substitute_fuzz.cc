// Post-build substitution (controller/gitops/substitute.h) runs on the text of every document
// of a Kustomization with spec.postBuild, before it is parsed.
#include <stdexcept>
#include <string>

#include "controller/gitops/substitute.h"
#include "tests/fuzz/fuzz_support.h"

using namespace sluice;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const gitops::Variables kVariables = {{"REPLICAS", "3"}, {"cluster_name", "prod"}, {"EMPTY", ""},
                                               {"NESTED", "${REPLICAS}"}};
  std::string_view text = fuzz::Text(data, size);
  try {
    std::string out = gitops::Substitute(text, kVariables);
    // Values are pasted once, never substituted again: text without "$" comes back as is.
    if (text.find('$') == std::string_view::npos) SLUICE_FUZZ_CHECK(out == text);
  } catch (const std::invalid_argument& e) {
    // manifests.cc reads the line back from "line N: ...".
    std::string what = e.what();
    SLUICE_FUZZ_CHECK(what.rfind("line ", 0) == 0 && what.size() > 5 && what[5] >= '1' && what[5] <= '9');
    SLUICE_FUZZ_CHECK(fuzz::Reportable(what));
  }
  return 0;
}
