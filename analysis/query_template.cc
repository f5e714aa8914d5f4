#include "analysis/query_template.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <optional>
#include <string_view>

#include "api/canary_spec.h"
#include "core/duration.h"

namespace sluice::analysis {
namespace {

constexpr std::string_view kOpen = "{{";
constexpr std::string_view kClose = "}}";
constexpr std::string_view kVariablesPrefix = "variables.";
constexpr const char* kKnown = "namespace, name, target, service, port, interval, variant, workload, variables.KEY";

std::string Where(const std::string& template_name, const std::string& text, size_t offset) {
  std::string_view before = std::string_view(text).substr(0, offset);
  size_t line = 1 + static_cast<size_t>(std::count(before.begin(), before.end(), '\n'));
  size_t last_break = before.rfind('\n');
  size_t line_start = last_break == std::string_view::npos ? 0 : last_break + 1;
  return "template \"" + template_name + "\": line " + std::to_string(line) + ", column " +
         std::to_string(offset - line_start + 1) + " (byte " + std::to_string(offset) + ")";
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// nullopt when `name` is not a variable of the context.
std::optional<std::string> Lookup(std::string_view name, const TemplateContext& c) {
  if (name == "namespace") return c.ns;
  if (name == "name") return c.name;
  if (name == "target") return c.target;
  if (name == "service") return c.service;
  if (name == "port") return std::to_string(c.port);
  if (name == "interval") return c.interval;
  if (name == "variant") return c.variant;
  if (name == "workload") return c.workload;
  if (name.starts_with(kVariablesPrefix)) {
    auto it = c.variables.find(std::string(name.substr(kVariablesPrefix.size())));
    if (it != c.variables.end()) return it->second;
  }
  return std::nullopt;
}

std::string UnknownMessage(std::string_view name, const TemplateContext& c) {
  std::string m = "unknown variable \"" + std::string(name) + "\"";
  if (name.starts_with(kVariablesPrefix)) {
    m += " (templateVariables has ";
    if (c.variables.empty()) m += "no entries";
    bool first = true;
    for (const auto& [k, v] : c.variables) {
      m += (first ? "" : ", ") + k;
      first = false;
    }
    return m + ")";
  }
  return m + "; known: " + kKnown;
}

}  // namespace

TemplateContext TemplateContext::ForPrimary() const {
  TemplateContext p = *this;
  p.variant = "primary";
  p.workload = target + "-primary";
  return p;
}

std::string RenderQuery(const std::string& template_name, const std::string& text, const TemplateContext& context) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    size_t open = text.find(kOpen, pos);
    if (open == std::string::npos) {
      out.append(text, pos, std::string::npos);
      break;
    }
    out.append(text, pos, open - pos);
    size_t close = text.find(kClose, open + kOpen.size());
    size_t next_open = text.find(kOpen, open + kOpen.size());
    if (close == std::string::npos || (next_open != std::string::npos && next_open < close))
      throw TemplateError(Where(template_name, text, open) + ": \"{{\" is not closed by \"}}\"");
    std::string_view inner = Trim(std::string_view(text).substr(open + kOpen.size(), close - open - kOpen.size()));
    if (inner.empty()) throw TemplateError(Where(template_name, text, open) + ": empty \"{{ }}\"");
    auto value = Lookup(inner, context);
    if (!value) throw TemplateError(Where(template_name, text, open) + ": " + UnknownMessage(inner, context));
    out += *value;
    pos = close + kClose.size();
  }
  return out;
}

std::string PrometheusDuration(std::chrono::milliseconds d) {
  if (d.count() <= 0) return "0s";
  long long ms = d.count();
  std::string out;
  auto part = [&](long long unit, const char* suffix) {
    if (ms >= unit) {
      out += std::to_string(ms / unit) + suffix;
      ms %= unit;
    }
  };
  part(3600000, "h");
  part(60000, "m");
  part(1000, "s");
  part(1, "ms");
  return out;
}

TemplateContext ContextForMetric(const nlohmann::json& canary, const api::CanarySpec& spec,
                                 const api::MetricSpec& metric) {
  TemplateContext c;
  const auto& meta = canary.value("metadata", nlohmann::json::object());
  c.ns = meta.value("namespace", "default");
  c.name = meta.value("name", "");
  c.target = spec.target_name;
  c.service = spec.service_name.empty() ? spec.target_name : spec.service_name;
  c.port = spec.service_port;
  c.workload = c.target;
  if (metric.interval) c.interval = PrometheusDuration(*metric.interval);
  c.variables = metric.template_variables;
  return c;
}

}  // namespace sluice::analysis
