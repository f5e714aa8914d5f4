#include <catch2/catch.hpp>

#include "sandbox/emulator/api_server.h"
#include "tests/sandbox/fixture.h"

using namespace sluice::sandbox;
using namespace sluice::sandbox::testing;
using nlohmann::json;

namespace {
const std::string kCm = "/api/v1/namespaces/default/configmaps";
}

TEST_CASE("watch from 0 starts with ADDED for what exists, then changes", "[sandbox][watch]") {
  EmulatorFixture f;
  auto& c = *f.client;
  REQUIRE(c.Post(kCm, ConfigMap("a")).status == 201);
  auto w = c.Watch(kCm + "?watch=true&resourceVersion=0");
  REQUIRE(w->head().status == 200);
  CHECK(w->head().Header("content-type") == "application/json");
  auto first = w->Next();
  REQUIRE(first);
  CHECK((*first)["type"] == "ADDED");
  CHECK((*first)["object"]["metadata"]["name"] == "a");
  auto obj = c.Post(kCm, ConfigMap("b")).Json();
  auto second = w->Next();
  REQUIRE(second);
  CHECK((*second)["type"] == "ADDED");
  CHECK((*second)["object"]["metadata"]["name"] == "b");
  obj["data"]["k"] = "changed";
  REQUIRE(c.Put(kCm + "/b", obj).status == 200);
  auto modified = w->Next();
  REQUIRE(modified);
  CHECK((*modified)["type"] == "MODIFIED");
  auto del = c.Delete(kCm + "/b");
  REQUIRE(del.status == 200);
  auto deleted = w->Next();
  REQUIRE(deleted);
  CHECK((*deleted)["type"] == "DELETED");
  CHECK((*deleted)["object"]["data"]["k"] == "changed");
  CHECK(std::stoull(Rv((*deleted)["object"])) > std::stoull(Rv((*modified)["object"])));
  // Other namespaces and no-op writes are not seen.
  REQUIRE(c.Post("/api/v1/namespaces/kube-system/configmaps", ConfigMap("other")).status == 201);
  auto a = c.Get(kCm + "/a").Json();
  REQUIRE(c.Put(kCm + "/a", a).status == 200);
  CHECK_FALSE(w->Next(std::chrono::milliseconds(300)));
}

TEST_CASE("watch from N sees only later changes, cluster-wide and name-selected watches", "[sandbox][watch]") {
  EmulatorFixture f;
  auto& c = *f.client;
  auto a = c.Post(kCm, ConfigMap("a")).Json();
  REQUIRE(c.Post(kCm, ConfigMap("b")).status == 201);
  auto w = c.Watch("/api/v1/configmaps?watch=1&resourceVersion=" + Rv(a));
  auto ev = w->Next();
  REQUIRE(ev);
  CHECK((*ev)["object"]["metadata"]["name"] == "b");
  auto named = c.Watch(kCm + "?watch=true&fieldSelector=metadata.name%3Da&resourceVersion=0");
  auto added = named->Next();
  REQUIRE(added);
  CHECK((*added)["object"]["metadata"]["name"] == "a");
  REQUIRE(c.Post(kCm, ConfigMap("c")).status == 201);
  CHECK_FALSE(named->Next(std::chrono::milliseconds(300)));
  auto cw = w->Next();
  REQUIRE(cw);
  CHECK((*cw)["object"]["metadata"]["name"] == "c");
}

TEST_CASE("watch from a compacted resourceVersion is one ERROR event with 410 Expired", "[sandbox][watch]") {
  EmulatorOptions o;
  o.watch_history = 5;
  EmulatorFixture f(o);
  auto& c = *f.client;
  for (int i = 0; i < 10; ++i) REQUIRE(c.Post(kCm, ConfigMap("cm-" + std::to_string(i))).status == 201);
  auto w = c.Watch(kCm + "?watch=true&resourceVersion=2");
  REQUIRE(w->head().status == 200);
  auto ev = w->Next();
  REQUIRE(ev);
  CHECK((*ev)["type"] == "ERROR");
  CHECK((*ev)["object"]["code"] == 410);
  CHECK((*ev)["object"]["reason"] == "Expired");
  CHECK((*ev)["object"]["message"].get<std::string>().rfind("too old resource version", 0) == 0);
  CHECK_FALSE(w->Next(std::chrono::seconds(2)));
  CHECK(w->ended());
}

TEST_CASE("bookmarks arrive periodically and at timeoutSeconds the stream ends", "[sandbox][watch]") {
  EmulatorOptions o;
  o.bookmark_interval = std::chrono::milliseconds(200);
  EmulatorFixture f(o);
  auto& c = *f.client;
  auto w = c.Watch(kCm + "?watch=true&allowWatchBookmarks=true&timeoutSeconds=1&resourceVersion=1");
  auto ev = w->Next(std::chrono::seconds(2));
  REQUIRE(ev);
  CHECK((*ev)["type"] == "BOOKMARK");
  CHECK((*ev)["object"]["kind"] == "ConfigMap");
  CHECK_FALSE((*ev)["object"]["metadata"]["resourceVersion"].get<std::string>().empty());
  auto start = std::chrono::steady_clock::now();
  while (w->Next(std::chrono::seconds(3))) {
  }
  CHECK(w->ended());
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));

  // Without bookmarks the timeout still ends the stream cleanly.
  auto plain = c.Watch(kCm + "?watch=true&timeoutSeconds=1");
  while (plain->Next(std::chrono::seconds(3))) {
  }
  CHECK(plain->ended());
}

TEST_CASE("many watchers fan out and a vanished watcher is dropped", "[sandbox][watch]") {
  EmulatorFixture f;
  auto& c = *f.client;
  std::vector<std::unique_ptr<WatchReader>> watchers;
  for (int i = 0; i < 20; ++i) watchers.push_back(c.Watch(kCm + "?watch=true&resourceVersion=1"));
  REQUIRE(c.Post(kCm, ConfigMap("fan")).status == 201);
  for (auto& w : watchers) {
    auto ev = w->Next();
    REQUIRE(ev);
    CHECK((*ev)["object"]["metadata"]["name"] == "fan");
  }
  size_t before = f.emulator.api().store().WatcherCount();
  CHECK(before >= 20);
  watchers.clear();  // clients disconnect mid-stream
  CHECK(Eventually([&] { return f.emulator.api().store().WatcherCount() == 0; }, std::chrono::seconds(5)));
  CHECK(c.Get("/healthz").status == 200);
}

TEST_CASE("watch with the Table Accept header sends one-row Tables", "[sandbox][watch]") {
  EmulatorFixture f;
  auto& c = *f.client;
  REQUIRE(c.Post(kCm, ConfigMap("t")).status == 201);
  auto w = c.Watch(kCm + "?watch=true&resourceVersion=0",
                   "application/json;as=Table;v=v1;g=meta.k8s.io,application/json");
  auto ev = w->Next();
  REQUIRE(ev);
  CHECK((*ev)["object"]["kind"] == "Table");
  CHECK((*ev)["object"]["rows"].size() == 1);
}
