// Structural schemas (apimachinery/schema.h): a CRD's openAPIV3Schema as the emulator loads it
// when the CRD is created, and an object of that kind validated, defaulted and pruned as on
// create. The input is a JSON list [openAPIV3Schema, object].
#include <nlohmann/json.hpp>

#include <stdexcept>

#include "apimachinery/schema.h"
#include "tests/fuzz/fuzz_support.h"

using namespace sluice;
using nlohmann::json;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  json pair = fuzz::ParseJsonBody(fuzz::Text(data, size));
  if (pair.is_discarded() || !pair.is_array() || pair.size() != 2) return 0;
  std::optional<apimachinery::StructuralSchema> schema;
  try {
    schema.emplace(pair[0]);
  } catch (const std::invalid_argument&) {  // an unusable schema: the CRD is refused
    return 0;
  }
  // Once the schema is accepted, no object makes validation, defaulting or pruning throw:
  // the API server answers with causes, not a 500.
  json object = pair[1];
  for (const auto& cause : schema->Validate(object)) (void)cause;
  schema->ApplyDefaults(object);
  (void)schema->Prune(object);
  (void)schema->Validate(object);
  (void)object.dump();
  auto lists = schema->ListSemanticsOf();
  (void)lists({"spec"});
  (void)lists({"spec", "rules"});
  return 0;
}
