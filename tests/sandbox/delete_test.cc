#include <catch2/catch.hpp>

#include "tests/sandbox/fixture.h"

using namespace sluice::sandbox;
using namespace sluice::sandbox::testing;
using nlohmann::json;

namespace {
const std::string kCm = "/api/v1/namespaces/default/configmaps";

json Owned(const std::string& name, const json& owner) {
  json cm = ConfigMap(name);
  cm["metadata"]["ownerReferences"] = {{{"apiVersion", "v1"},
                                        {"kind", "ConfigMap"},
                                        {"name", owner["metadata"]["name"]},
                                        {"uid", owner["metadata"]["uid"]}}};
  return cm;
}
}  // namespace

TEST_CASE("finalizers hold a deleted object until an update empties them", "[sandbox][delete]") {
  EmulatorFixture f;
  auto& c = *f.client;
  json cm = ConfigMap("held");
  cm["metadata"]["finalizers"] = {"example.com/hold"};
  REQUIRE(c.Post(kCm, cm).status == 201);
  auto del = c.Delete(kCm + "/held");
  REQUIRE(del.status == 200);
  auto obj = del.Json();
  CHECK(obj["kind"] == "ConfigMap");
  CHECK(obj["metadata"].contains("deletionTimestamp"));
  CHECK(c.Get(kCm + "/held").status == 200);
  // Adding a finalizer while deleting is forbidden.
  json more = obj;
  more["metadata"]["finalizers"].push_back("example.com/other");
  CHECK(c.Put(kCm + "/held", more).status == 422);
  obj["metadata"]["finalizers"] = json::array();
  REQUIRE(c.Put(kCm + "/held", obj).status == 200);
  CHECK(c.Get(kCm + "/held").status == 404);
}

TEST_CASE("delete preconditions and bad options", "[sandbox][delete]") {
  EmulatorFixture f;
  auto& c = *f.client;
  REQUIRE(c.Post(kCm, ConfigMap("p")).status == 201);
  CHECK(c.Delete(kCm + "/p", R"({"preconditions":{"uid":"nope"}})").status == 409);
  CHECK(c.Delete(kCm + "/p", R"({"propagationPolicy":"Sideways"})").status == 400);
  CHECK(c.Delete(kCm + "/p", "{garbage").status == 400);
  CHECK(c.Delete(kCm + "/p", R"({"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Background"})").status ==
        200);
  CHECK(c.Delete(kCm + "/p").status == 404);
}

TEST_CASE("garbage collection: background, foreground and orphan", "[sandbox][delete]") {
  EmulatorFixture f;
  auto& c = *f.client;
  SECTION("background deletes dependents after the owner") {
    auto owner = c.Post(kCm, ConfigMap("owner")).Json();
    REQUIRE(c.Post(kCm, Owned("child", owner)).status == 201);
    REQUIRE(c.Delete(kCm + "/owner", R"({"propagationPolicy":"Background"})").status == 200);
    CHECK(Eventually([&] { return c.Get(kCm + "/child").status == 404; }));
  }
  SECTION("foreground deletes dependents first") {
    auto owner = c.Post(kCm, ConfigMap("owner")).Json();
    REQUIRE(c.Post(kCm, Owned("child", owner)).status == 201);
    auto del = c.Delete(kCm + "/owner", R"({"propagationPolicy":"Foreground"})");
    REQUIRE(del.status == 200);
    CHECK(del.Json()["metadata"]["finalizers"] == json{"foregroundDeletion"});
    CHECK(Eventually([&] { return c.Get(kCm + "/owner").status == 404; }));
    CHECK(c.Get(kCm + "/child").status == 404);
  }
  SECTION("orphan strips owner references") {
    auto owner = c.Post(kCm, ConfigMap("owner")).Json();
    REQUIRE(c.Post(kCm, Owned("child", owner)).status == 201);
    REQUIRE(c.Delete(kCm + "/owner", R"({"propagationPolicy":"Orphan"})").status == 200);
    CHECK(Eventually([&] { return c.Get(kCm + "/owner").status == 404; }));
    auto child = c.Get(kCm + "/child");
    REQUIRE(child.status == 200);
    CHECK_FALSE(child.Json()["metadata"].contains("ownerReferences"));
  }
}

TEST_CASE("deleting a namespace deletes its contents", "[sandbox][delete]") {
  EmulatorFixture f;
  auto& c = *f.client;
  REQUIRE(c.Post("/api/v1/namespaces", json{{"metadata", {{"name", "gone"}}}}).status == 201);
  REQUIRE(c.Post("/api/v1/namespaces/gone/configmaps", ConfigMap("a")).status == 201);
  auto del = c.Delete("/api/v1/namespaces/gone");
  REQUIRE(del.status == 200);
  CHECK(del.Json()["status"]["phase"] == "Terminating");
  CHECK(Eventually([&] { return c.Get("/api/v1/namespaces/gone").status == 404; }));
  CHECK(c.Get("/api/v1/namespaces/gone/configmaps/a").status == 404);
}
