// Label and field selectors (apimachinery/selectors.h): ?labelSelector= and ?fieldSelector=
// of every list and watch the emulator serves, as kubectl and clients send them.
#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

#include "apimachinery/selectors.h"
#include "tests/fuzz/fuzz_support.h"

using namespace sluice;
using nlohmann::json;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const json kObject = json::parse(R"({"metadata": {"name": "web", "namespace": "shop",
    "labels": {"app": "web", "tier": "front", "app.kubernetes.io/name": "web", "n": "12"}},
    "involvedObject": {"kind": "Canary", "name": "web"}, "reason": "Synced", "type": "Normal"})");
  const std::string text(fuzz::Text(data, size));
  // A selector that is UTF-8 (what clients send) gets an error that is UTF-8 too.
  const bool utf8 = fuzz::Utf8(text);
  try {
    auto selector = apimachinery::LabelSelector::Parse(text);
    (void)selector.Matches(kObject["metadata"]["labels"]);
    (void)selector.Matches(nullptr);
  } catch (const std::invalid_argument& e) {  // answered 400 with the position, in a Status
    if (utf8) SLUICE_FUZZ_CHECK(fuzz::Reportable(e.what()));
  }
  try {
    auto selector = apimachinery::FieldSelector::Parse(text);
    (void)selector.Matches(kObject);
    (void)selector.PinnedName();
  } catch (const std::invalid_argument& e) {
    if (utf8) SLUICE_FUZZ_CHECK(fuzz::Reportable(e.what()));
  }
  return 0;
}
