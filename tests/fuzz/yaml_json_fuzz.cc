// YAML and JSON manifests as core/yaml_json.h decodes them: what users apply, what Git
// repositories hold, and what the emulator reads from kubectl.
#include <nlohmann/json.hpp>

#include <stdexcept>

#include "core/yaml_json.h"
#include "tests/fuzz/fuzz_support.h"

using namespace sluice;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = fuzz::Text(data, size);
  std::vector<nlohmann::json> docs;
  try {
    docs = core::ParseYamlDocuments(text);
  } catch (const std::invalid_argument& e) {  // the one error the header names
    SLUICE_FUZZ_CHECK(fuzz::Reportable(e.what()));  // it becomes a condition's message
    return 0;
  }
  // What was decoded is sent to the API as JSON: it must serialize.
  for (const auto& doc : docs) (void)doc.dump();
  try {
    nlohmann::json first = core::ParseYaml(text);
    SLUICE_FUZZ_CHECK(docs.empty() ? first.is_null() : first == docs.front() || first.is_null());
  } catch (const std::invalid_argument&) {
    // ParseYamlDocuments accepted the same text: the two must agree.
    SLUICE_FUZZ_CHECK(false);
  }
  return 0;
}
