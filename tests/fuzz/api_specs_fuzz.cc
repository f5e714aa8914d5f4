// The other kinds of api/ (AlertProvider, GitRepository, Kustomization, MetricTemplate,
// Receiver) and a Canary's metrics, webhooks and alerts lists, as the API hands them over.
// Each parser is tried on every input: a bad field is an InvalidSpec or a SpecError.
#include <nlohmann/json.hpp>

#include "api/alert_provider.h"
#include "api/canary_spec.h"
#include "api/git_repository.h"
#include "api/kustomization.h"
#include "api/metric_template.h"
#include "api/receiver.h"
#include "api/spec_error.h"
#include "tests/fuzz/fuzz_support.h"

using namespace sluice;
using nlohmann::json;

namespace {

template <typename Parse>
void Try(Parse parse) {
  try {
    parse();
  } catch (const api::InvalidSpec& e) {
    SLUICE_FUZZ_CHECK(!e.reason().empty() && fuzz::Reportable(e.what()));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  json object = json::parse(fuzz::Text(data, size), nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded()) return 0;
  Try([&] { (void)api::ParseAlertProviderSpec(object); });
  Try([&] { (void)api::ParseGitRepositorySpec(object); });
  Try([&] {
    auto k = api::ParseKustomizationSpec(object);
    for (const auto& [name, value] : k.substitute) SLUICE_FUZZ_CHECK(api::ValidVariableName(name));
  });
  Try([&] { (void)api::ParseMetricTemplateSpec(object); });
  Try([&] { (void)api::ParseReceiverSpec(object); });
  // The lists a Canary's spec.analysis holds, wherever the input puts them.
  const json& analysis = object.is_object() && object.contains("spec") && object["spec"].is_object() &&
                                 object["spec"].contains("analysis")
                             ? object["spec"]["analysis"]
                             : object;
  for (const char* list : {"metrics", "webhooks", "alerts"}) {
    const json& items = analysis.is_object() && analysis.contains(list) ? analysis[list] : analysis;
    (void)api::ParseMetrics(items);
    (void)api::ParseWebhooks(items);
    (void)api::ParseAlerts(items);
  }
  return 0;
}
