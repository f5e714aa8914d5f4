// Kubernetes JSONPath (apimachinery EvalJsonPath): the jsonPath of a CRD's
// additionalPrinterColumns, which the emulator evaluates for `kubectl get`. The first line is
// the path; the rest, when it is JSON, the object (else a Canary-like object).
#include <nlohmann/json.hpp>

#include <stdexcept>

#include "apimachinery/table.h"
#include "tests/fuzz/fuzz_support.h"

using namespace sluice;
using nlohmann::json;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const json kObject = json::parse(R"({
    "apiVersion": "sluice.dev/v1beta1", "kind": "Canary",
    "metadata": {"name": "web", "namespace": "shop", "labels": {"app.kubernetes.io/name": "web"}},
    "spec": {"analysis": {"stepWeights": [5, 10, 20, 50], "metrics": [{"name": "a", "x": 1}, {"name": "b"}]}},
    "status": {"phase": "Progressing", "canaryWeight": 20, "conditions": [
      {"type": "Ready", "status": "True", "n": 1.5}, {"type": "Promoted", "status": "False", "n": -2}]}})");
  auto [path, rest] = fuzz::SplitOnce(fuzz::Text(data, size), '\n');
  json object = fuzz::ParseJsonBody(rest);
  try {
    (void)apimachinery::EvalJsonPath(object.is_discarded() ? kObject : object, path);
  } catch (const std::invalid_argument&) {  // a path that does not parse: the column shows an error
  }
  return 0;
}
