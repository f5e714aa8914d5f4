// The metric provider registry: types by spec.provider.type, unknown ones refused by name.
#include <catch2/catch.hpp>

#include "analysis/metric_provider.h"
#include "analysis/prometheus.h"

using namespace sluice::analysis;
using Catch::Matchers::Contains;
using nlohmann::json;

TEST_CASE("metric provider types are looked up by spec.provider.type and unknown ones are refused", "[analysis][registry]") {
  CHECK(MetricProviderRegistry::Builtin().Types() == std::vector<std::string>{"prometheus"});

  MetricProviderRegistry registry;
  int made = 0;
  registry.Register("fake", [&](const ProviderRequest& r) {
    ++made;
    return ProviderHandle{"fake " + r.spec.value("address", ""), nullptr};
  });
  json fake = {{"type", "fake"}, {"address", "a"}};
  ProviderHandle handle = registry.Resolve({fake, nullptr, "", std::chrono::seconds(1), "MetricTemplate shop/x"});
  CHECK(handle.cache_key == "fake a");
  CHECK(made == 1);

  json datadog = {{"type", "datadog"}};
  CHECK_THROWS_WITH(registry.Resolve({datadog, nullptr, "", std::chrono::seconds(1), "MetricTemplate shop/x"}),
                    "MetricTemplate shop/x: spec.provider.type \"datadog\" is not supported; supported: fake");
  json untyped = {{"address", "http://p:9090"}};
  CHECK_THROWS_WITH(registry.Resolve({untyped, nullptr, "", std::chrono::seconds(1), "MetricTemplate shop/x"}),
                    "MetricTemplate shop/x: spec.provider.type is required");
}

TEST_CASE("the prometheus entry gives one handle per address and credentials", "[analysis][registry]") {
  const auto& registry = MetricProviderRegistry::Builtin();
  json a = {{"type", "prometheus"}, {"address", "http://a:9090"}};
  json b = {{"type", "prometheus"}, {"address", "http://b:9090"}};
  auto ha = registry.Resolve({a, nullptr, "", std::chrono::seconds(5), "MetricTemplate shop/a"});
  auto ha2 = registry.Resolve({a, nullptr, "", std::chrono::seconds(5), "MetricTemplate shop/a2"});
  auto hb = registry.Resolve({b, nullptr, "", std::chrono::seconds(5), "MetricTemplate shop/b"});
  CHECK(ha.cache_key == ha2.cache_key);
  CHECK(ha.cache_key != hb.cache_key);
  REQUIRE(ha.make);
  json no_address = {{"type", "prometheus"}};
  CHECK_THROWS_WITH(registry.Resolve({no_address, nullptr, "", std::chrono::seconds(5), "MetricTemplate shop/c"}),
                    Contains("no Prometheus address"));
}
