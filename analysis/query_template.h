// Query templates: `{{ namespace }}`, `{{ name }}`, `{{ target }}`, `{{ service }}`,
// `{{ port }}`, `{{ interval }}`, `{{ variant }}`, `{{ workload }}` and
// `{{ variables.KEY }}`. Rendering is strict: an unknown variable or an unclosed `{{` is an
// error naming the template and the position, never an empty string pasted into PromQL.
#pragma once

#include <chrono>
#include <map>
#include <stdexcept>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "api/canary_types.h"

namespace sluice::analysis {

class TemplateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The values a template may use. For a plain threshold check variant is "canary" and
// workload the target; the judge renders the primary side with variant "primary" and
// workload "<target>-primary".
struct TemplateContext {
  std::string ns;
  std::string name;  // the Canary
  std::string target;
  std::string service;
  int port = 0;
  std::string interval = "1m";
  std::string variant = "canary";
  std::string workload;
  std::map<std::string, std::string> variables;

  // The same context for the other side of the comparison.
  TemplateContext ForPrimary() const;
};

// Renders `text`; `template_name` names it in errors (e.g. "MetricTemplate shop/latency").
// Throws TemplateError: `template "X": line 2, column 7 (byte 31): unknown variable "foo" ...`.
std::string RenderQuery(const std::string& template_name, const std::string& text, const TemplateContext& context);

// A duration as Prometheus writes it in a range selector: 90s -> "1m30s", 1500ms -> "1s500ms".
std::string PrometheusDuration(std::chrono::milliseconds d);

// The context of one metric of a Canary: names from metadata and the parsed spec, the
// interval from the metric (default 1m) and its templateVariables.
TemplateContext ContextForMetric(const nlohmann::json& canary, const api::CanarySpec& spec,
                                 const api::MetricSpec& metric);

}  // namespace sluice::analysis
