#include <catch2/catch.hpp>

#include "apimachinery/contains.h"

using nlohmann::json;
using sluice::apimachinery::ContainsAll;

TEST_CASE("ContainsAll ignores what the server adds and sees every real difference", "[facts]") {
  json live = json::parse(R"({"spec": {"clusterIP": "10.0.0.1", "ports": [{"port": 80, "protocol": "TCP"}], "x": 1.0}})");
  CHECK(ContainsAll(live, json::parse(R"({"spec": {"ports": [{"port": 80}], "x": 1}})")));
  CHECK_FALSE(ContainsAll(live, json::parse(R"({"spec": {"ports": [{"port": 81}]}})")));
  CHECK_FALSE(ContainsAll(live, json::parse(R"({"spec": {"ports": [{"port": 80}, {"port": 81}]}})")));
  CHECK_FALSE(ContainsAll(live, json::parse(R"({"spec": {"missing": true}})")));
}
