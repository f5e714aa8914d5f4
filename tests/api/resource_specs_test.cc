// The GitOps and analysis kinds are parsed once in api/; a bad field is an InvalidSpec whose
// message starts with the field, and whose reason is the condition reason to report.
#include <catch2/catch.hpp>

#include "api/alert_provider.h"
#include "api/git_repository.h"
#include "api/kustomization.h"
#include "api/metric_template.h"
#include "api/receiver.h"
#include "api/spec_error.h"

using namespace sluice::api;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

json Object(const json& spec) { return {{"metadata", {{"name", "x"}, {"namespace", "shop"}}}, {"spec", spec}}; }

template <typename Fn>
InvalidSpec Refused(Fn parse) {
  try {
    parse();
  } catch (const InvalidSpec& e) {
    return e;
  }
  FAIL("expected an InvalidSpec");
  return InvalidSpec("");
}

}  // namespace

TEST_CASE("a GitRepository spec parses with its defaults and names a bad field", "[spec][gitops]") {
  auto s = ParseGitRepositorySpec(Object({{"url", "https://git.example/app"}, {"ref", {{"branch", "main"}}},
                                          {"interval", "5m"}, {"secretRef", {{"name", "auth"}}}}));
  CHECK(s.url == "https://git.example/app");
  CHECK(s.ref.branch == "main");
  CHECK(s.interval == 5min);
  CHECK(s.timeout == 60s);
  CHECK(s.secret_name == "auth");
  CHECK_FALSE(s.suspend);

  auto url = Refused([] { ParseGitRepositorySpec(Object({{"url", "ftp://x"}})); });
  CHECK(url.reason() == "InvalidURL");
  CHECK_THAT(url.what(), Catch::StartsWith("spec.url: expected an https://"));
  auto interval = Refused([] { ParseGitRepositorySpec(Object({{"url", "https://x/y"}, {"interval", "soon"}})); });
  CHECK(interval.reason() == "InvalidSpec");
  CHECK_THAT(interval.what(), Catch::StartsWith("spec.interval: Invalid value: \"soon\""));
  auto suspend = Refused([] { ParseGitRepositorySpec(Object({{"url", "https://x/y"}, {"suspend", "yes"}})); });
  CHECK_THAT(suspend.what(), Catch::StartsWith("spec.suspend: expected true or false"));
  auto ref = Refused([] { ParseGitRepositorySpec(Object({{"url", "https://x/y"}, {"ref", {{"tag", 3}}}})); });
  CHECK_THAT(ref.what(), Catch::StartsWith("spec.ref.tag: expected a string"));
}

TEST_CASE("a Kustomization spec defaults the source namespace and names a bad field", "[spec][gitops]") {
  auto s = ParseKustomizationSpec(Object({{"sourceRef", {{"kind", "GitRepository"}, {"name", "app"}}},
                                          {"interval", "10m"}, {"dependsOn", {{{"name", "infra"}}}}}));
  CHECK(s.source.Key() == "shop/app");
  CHECK(s.depends_on.at(0).Key() == "shop/infra");
  CHECK(s.Timeout() == 10min);
  auto prune = Refused([] {
    ParseKustomizationSpec(Object({{"sourceRef", {{"kind", "GitRepository"}, {"name", "app"}}}, {"interval", "1m"},
                                   {"prune", "true"}}));
  });
  CHECK_THAT(prune.what(), Catch::StartsWith("spec.prune: expected true or false"));
  auto hc = Refused([] {
    ParseKustomizationSpec(Object({{"sourceRef", {{"kind", "GitRepository"}, {"name", "app"}}}, {"interval", "1m"},
                                   {"healthChecks", {{{"kind", "Deployment"}}}}}));
  });
  CHECK_THAT(hc.what(), Catch::StartsWith("spec.healthChecks[0].name: Required value"));
}

TEST_CASE("a Receiver spec lower-cases events and requires resources and a Secret", "[spec][gitops]") {
  auto s = ParseReceiverSpec(Object({{"type", "github"}, {"events", {"Push"}}, {"secretRef", {{"name", "token"}}},
                                     {"resources", {{{"kind", "GitRepository"}, {"name", "app"}}}}}));
  CHECK(s.events == std::vector<std::string>{"push"});
  CHECK(s.resources.at(0).ns == "shop");
  CHECK(s.resources.at(0).api_version == "sluice.dev/v1beta1");
  auto type = Refused([] { ParseReceiverSpec(Object({{"type", "bitbucket"}})); });
  CHECK_THAT(type.what(), Catch::StartsWith("spec.type: expected github, gitlab or generic-hmac"));
  auto none = Refused([] { ParseReceiverSpec(Object({{"type", "github"}, {"secretRef", {{"name", "t"}}}})); });
  CHECK_THAT(none.what(), Catch::StartsWith("spec.resources: list at least one"));
  auto secret = Refused([] {
    ParseReceiverSpec(Object({{"type", "github"}, {"resources", {{{"kind", "GitRepository"}, {"name", "app"}}}}}));
  });
  CHECK_THAT(secret.what(), Catch::StartsWith("spec.secretRef.name: Required value"));
}

TEST_CASE("an AlertProvider spec is checked before any alert is sent", "[spec][alerts]") {
  auto s = ParseAlertProviderSpec(Object({{"type", "slack"}, {"channel", "#deploys"}, {"secretRef", {{"name", "hook"}}}}));
  CHECK(s.type == "slack");
  CHECK(s.channel == "#deploys");
  CHECK(s.address.empty());
  CHECK(s.secret_name == "hook");
  CHECK_THAT(Refused([] { ParseAlertProviderSpec(Object({{"type", "pager"}, {"address", "http://x"}})); }).what(),
             Catch::StartsWith("spec.type \"pager\" is not one of slack"));
  CHECK_THAT(Refused([] { ParseAlertProviderSpec(Object({{"type", "slack"}})); }).what(),
             Catch::StartsWith("spec.address or spec.secretRef.name is required"));
  CHECK_THAT(Refused([] {
               ParseAlertProviderSpec(Object({{"type", "slack"}, {"address", "http://x"}, {"severity", "loud"}}));
             }).what(),
             Catch::StartsWith("spec.severity \"loud\""));
  CHECK_THAT(Refused([] {
               ParseAlertProviderSpec(Object({{"type", "slack"}, {"address", "http://x"}, {"proxy", "http://p"}}));
             }).what(),
             Catch::StartsWith("spec.proxy is not supported"));
}

TEST_CASE("a MetricTemplate spec keeps its provider block for the metric provider", "[spec][metrics]") {
  auto s = ParseMetricTemplateSpec(Object(
      {{"provider", {{"type", "prometheus"}, {"address", "http://p:9090"}, {"secretRef", {{"name", "creds"}}}}},
       {"query", "sum(up)"}}));
  CHECK(s.provider_type == "prometheus");
  CHECK(s.provider["address"] == "http://p:9090");
  CHECK(s.secret_name == "creds");
  CHECK(s.query == "sum(up)");
  CHECK_THAT(Refused([] { ParseMetricTemplateSpec(Object({{"provider", {{"type", "prometheus"}}}})); }).what(),
             Catch::StartsWith("spec.query must be a non-empty string"));
  CHECK_THAT(Refused([] { ParseMetricTemplateSpec(Object({{"query", "up"}})); }).what(),
             Catch::StartsWith("spec.provider is required"));
  CHECK_THAT(Refused([] { ParseMetricTemplateSpec(Object({{"query", "up"}, {"provider", {{"address", "x"}}}})); }).what(),
             Catch::StartsWith("spec.provider.type is required"));
  CHECK_THAT(Refused([] {
               ParseMetricTemplateSpec(Object({{"query", "up"}, {"provider", {{"type", "prometheus"}, {"secretRef", {{"x", 1}}}}}}));
             }).what(),
             Catch::StartsWith("spec.provider.secretRef.name is required"));
}
