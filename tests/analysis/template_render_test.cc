// Query templates: every variable, spacing inside the braces, and errors that name the
// template and the position.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "analysis/query_template.h"

using namespace sluice::analysis;
using Catch::Matchers::Contains;
using nlohmann::json;

namespace {

TemplateContext Context() {
  TemplateContext c;
  c.ns = "shop";
  c.name = "web-canary-check";
  c.target = "web";
  c.service = "web-svc";
  c.port = 8080;
  c.interval = "2m";
  c.workload = "web";
  c.variables = {{"route", "/checkout"}, {"quantile", "0.95"}};
  return c;
}

std::string ErrorOf(const std::string& text) {
  try {
    RenderQuery("MetricTemplate shop/latency", text, Context());
  } catch (const TemplateError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("every template variable renders with or without spaces in the braces", "[analysis][template]") {
  std::string text =
      "{{namespace}}|{{ name }}|{{  target  }}|{{ service}}|{{port }}|{{ interval }}|{{ variant }}|{{ workload }}|"
      "{{ variables.route }}|{{variables.quantile}}";
  CHECK(RenderQuery("t", text, Context()) == "shop|web-canary-check|web|web-svc|8080|2m|canary|web|/checkout|0.95");
  CHECK(RenderQuery("t", "no variables at all {a=\"b\"}", Context()) == "no variables at all {a=\"b\"}");
}

TEST_CASE("the primary side renders variant and workload of the primary", "[analysis][template]") {
  TemplateContext p = Context().ForPrimary();
  CHECK(RenderQuery("t", "{{ service }}-{{ variant }} {{ workload }}", p) == "web-svc-primary web-primary");
}

TEST_CASE("an unknown variable is refused with the template's name and position", "[analysis][template]") {
  std::string e = ErrorOf("sum(rate(x{ns=\"{{ namespace }}\"}[1m]))\n/ {{ nope }}");
  CHECK_THAT(e, Contains("template \"MetricTemplate shop/latency\""));
  CHECK_THAT(e, Contains("line 2, column 3 (byte 41)"));
  CHECK_THAT(e, Contains("unknown variable \"nope\""));
  CHECK_THAT(e, Contains("known: namespace"));
}

TEST_CASE("a missing templateVariables key lists the keys there are", "[analysis][template]") {
  std::string e = ErrorOf("x{route=\"{{ variables.path }}\"}");
  CHECK_THAT(e, Contains("line 1, column 10 (byte 9)"));
  CHECK_THAT(e, Contains("unknown variable \"variables.path\""));
  CHECK_THAT(e, Contains("templateVariables has quantile, route"));
}

TEST_CASE("an unclosed or empty {{ is a syntax error at its position", "[analysis][template]") {
  CHECK_THAT(ErrorOf("rate(x[{{ interval ])"), Contains("line 1, column 8 (byte 7): \"{{\" is not closed"));
  CHECK_THAT(ErrorOf("{{ namespace {{ name }}"), Contains("byte 0): \"{{\" is not closed"));
  CHECK_THAT(ErrorOf("a{{ }}"), Contains("byte 1): empty"));
}

TEST_CASE("the context of a Canary metric: names and service default and interval and variables", "[analysis][template]") {
  json canary = json::parse(R"({"metadata": {"name": "web", "namespace": "shop"}})");
  sluice::api::CanarySpec spec;
  spec.target_name = "web-app";
  spec.service_port = 9898;
  sluice::api::MetricSpec metric;
  metric.name = "errors";
  metric.interval = std::chrono::seconds(90);
  metric.template_variables = {{"k", "v"}};
  TemplateContext c = ContextForMetric(canary, spec, metric);
  CHECK(c.ns == "shop");
  CHECK(c.name == "web");
  CHECK(c.target == "web-app");
  CHECK(c.service == "web-app");  // service.name defaults to the target
  CHECK(c.port == 9898);
  CHECK(c.interval == "1m30s");
  CHECK(c.variant == "canary");
  CHECK(c.workload == "web-app");
  CHECK(c.variables.at("k") == "v");
  sluice::api::MetricSpec plain;
  plain.name = "x";
  CHECK(ContextForMetric(canary, spec, plain).interval == "1m");

  spec.service_name = "web-svc";
  CHECK(ContextForMetric(canary, spec, metric).service == "web-svc");
  // A bad interval never reaches a template: the spec is refused (tests/controller/spec_test.cc).
}

TEST_CASE("durations are written as Prometheus range selectors take them", "[analysis][template]") {
  using std::chrono::milliseconds;
  CHECK(PrometheusDuration(milliseconds(60000)) == "1m");
  CHECK(PrometheusDuration(milliseconds(90000)) == "1m30s");
  CHECK(PrometheusDuration(milliseconds(1500)) == "1s500ms");
  CHECK(PrometheusDuration(milliseconds(7200000)) == "2h");
  CHECK(PrometheusDuration(milliseconds(0)) == "0s");
}
