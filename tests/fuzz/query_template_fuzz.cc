// Query templates (analysis/query_template.h): a MetricTemplate's spec.query or a Canary's
// inline query, rendered with the values of one metric.
#include <string>

#include "analysis/query_template.h"
#include "tests/fuzz/fuzz_support.h"

using namespace sluice;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const analysis::TemplateContext kContext = [] {
    analysis::TemplateContext c;
    c.ns = "shop";
    c.name = "web";
    c.target = "web";
    c.service = "web";
    c.port = 9898;
    c.interval = "1m30s";
    c.workload = "web";
    c.variables = {{"route", "/api"}, {"le", "0.5"}, {"", "empty key"}};
    return c;
  }();
  const std::string text(fuzz::Text(data, size));
  for (const auto& context : {kContext, kContext.ForPrimary()}) {
    try {
      std::string out = analysis::RenderQuery("MetricTemplate shop/fuzz", text, context);
      // Nothing is left to render, and text without "{{" comes back as is.
      if (text.find("{{") == std::string::npos) SLUICE_FUZZ_CHECK(out == text);
    } catch (const analysis::TemplateError& e) {
      SLUICE_FUZZ_CHECK(std::string(e.what()).rfind("template \"MetricTemplate shop/fuzz\": line ", 0) == 0);
      // Templates arrive in JSON, so as UTF-8; the error must stay UTF-8 too.
      if (fuzz::Utf8(text)) SLUICE_FUZZ_CHECK(fuzz::Reportable(e.what()));
    }
  }
  return 0;
}
