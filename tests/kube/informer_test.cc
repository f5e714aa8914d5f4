#include "kube/informer.h"

#include "core/object_key.h"
#include "tests/kube/fake_client.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using sluice::core::ApiError;
using sluice::kube::Informer;
using sluice::kube::InformerHandler;
using sluice::kube::InformerOptions;
using sluice::kube::json;
using sluice::core::ObjectKey;
using sluice::kube::ObjectPtr;
using sluice::kube::testing::ConfigMapsResource;
using sluice::kube::testing::FakeClient;
using sluice::kube::testing::RunFor;
using sluice::kube::testing::RunUntil;

namespace {

json ConfigMap(const std::string& ns, const std::string& name, const std::string& value,
               json labels = json::object()) {
  return json{{"apiVersion", "v1"},
              {"kind", "ConfigMap"},
              {"metadata", {{"name", name}, {"namespace", ns}, {"labels", labels}}},
              {"data", {{"value", value}}}};
}

// Records what handlers saw as "add ns/name", "update ns/name old->new", "delete ns/name".
struct Recorder {
  std::vector<std::string> log;
  InformerHandler Handler() {
    InformerHandler h;
    h.on_add = [this](const ObjectPtr& o) { log.push_back("add " + ObjectKey(*o)); };
    h.on_update = [this](const ObjectPtr& old_o, const ObjectPtr& new_o) {
      log.push_back("update " + ObjectKey(*new_o) + " " + (*old_o)["data"].value("value", "") + "->" +
                    (*new_o)["data"].value("value", ""));
    };
    h.on_delete = [this](const ObjectPtr& o) { log.push_back("delete " + ObjectKey(*o)); };
    return h;
  }
  size_t Count(const std::string& prefix) const {
    return std::count_if(log.begin(), log.end(), [&](const std::string& l) { return l.rfind(prefix, 0) == 0; });
  }
};

InformerOptions FastRetry() {
  InformerOptions o;
  o.initial_backoff = 5ms;
  o.max_backoff = 20ms;
  return o;
}

struct Fixture {
  boost::asio::io_context io;
  std::shared_ptr<FakeClient> client = std::make_shared<FakeClient>(io.get_executor());
  Recorder rec;

  std::shared_ptr<Informer> StartInformer(InformerOptions o = FastRetry()) {
    auto inf = Informer::Create(client, ConfigMapsResource(), std::move(o));
    inf->AddHandler(rec.Handler());
    inf->Start();
    REQUIRE(RunUntil(io, [&] { return inf->HasSynced(); }));
    return inf;
  }
  // Waits until the informer has an open watch again.
  void AwaitWatch() { REQUIRE(RunUntil(io, [&] { return client->OpenWatches() > 0; })); }
};

}  // namespace

TEST_CASE("informer: initial list fills the cache and delivers adds, then syncs", "[informer]") {
  Fixture f;
  f.client->Seed(ConfigMapsResource(), ConfigMap("a", "one", "1"));
  f.client->Seed(ConfigMapsResource(), ConfigMap("a", "two", "2"));
  f.client->Seed(ConfigMapsResource(), ConfigMap("b", "three", "3"));
  InformerOptions o = FastRetry();
  o.page_size = 2;  // forces the paged list
  auto inf = f.StartInformer(o);
  CHECK(inf->size() == 3);
  CHECK(f.rec.Count("add ") == 3);
  REQUIRE(inf->Get("a/one"));
  CHECK((*inf->Get("a", "two"))["data"]["value"] == "2");
  // List items lack kind/apiVersion on the wire; the cache fills them in.
  CHECK((*inf->Get("b/three"))["kind"] == "ConfigMap");
  CHECK(inf->Get("a/missing") == nullptr);
  CHECK(inf->ListNamespace("a").size() == 2);
  CHECK(inf->ListNamespace("b").size() == 1);
  CHECK(inf->ListNamespace("c").empty());
  CHECK(inf->last_resource_version() == std::to_string(f.client->resource_version()));
  inf->Stop();
}

TEST_CASE("informer: watch events update the cache and reach handlers", "[informer]") {
  Fixture f;
  auto inf = f.StartInformer();
  f.AwaitWatch();
  auto res = ConfigMapsResource();
  f.client->Seed(res, ConfigMap("a", "x", "1"));
  REQUIRE(RunUntil(f.io, [&] { return inf->size() == 1; }));
  json changed = ConfigMap("a", "x", "2");
  f.client->Modify(res, changed);
  REQUIRE(RunUntil(f.io, [&] { return f.rec.Count("update") == 1; }));
  CHECK((*inf->Get("a/x"))["data"]["value"] == "2");
  f.client->Remove(res, "a", "x");
  REQUIRE(RunUntil(f.io, [&] { return f.rec.Count("delete") == 1; }));
  CHECK(inf->size() == 0);
  CHECK(f.rec.log == std::vector<std::string>{"add a/x", "update a/x 1->2", "delete a/x"});
  // The watch asked for bookmarks and started from the list's version.
  REQUIRE(!f.client->watch_requests().empty());
  CHECK(f.client->watch_requests().front().allow_bookmarks);
  CHECK(!f.client->watch_requests().front().resource_version.empty());
  // Only list and watch: an informer never reads objects one by one.
  CHECK(f.client->TotalCalls() == f.client->Calls("list") + f.client->Calls("watch"));
  inf->Stop();
}

TEST_CASE("informer: relist after 410 Expired delivers exactly the difference", "[informer]") {
  Fixture f;
  auto res = ConfigMapsResource();
  f.client->Seed(res, ConfigMap("a", "keep", "1"));
  f.client->Seed(res, ConfigMap("a", "change", "1"));
  f.client->Seed(res, ConfigMap("a", "vanish", "1"));
  auto inf = f.StartInformer();
  f.AwaitWatch();
  f.rec.log.clear();
  // Changes the informer does not see live: its stream is dropped first and the history
  // is compacted, so the re-watch gets 410 and must relist.
  f.client->DropWatches();
  REQUIRE(RunUntil(f.io, [&] { return f.client->OpenWatches() == 0; }));
  f.client->Modify(res, ConfigMap("a", "change", "2"));
  f.client->Remove(res, "a", "vanish");
  f.client->Seed(res, ConfigMap("a", "new", "1"));
  f.client->Compact();
  REQUIRE(RunUntil(f.io, [&] { return inf->stats().relists_after_expired == 1 && f.client->OpenWatches() > 0; }));
  std::sort(f.rec.log.begin(), f.rec.log.end());
  CHECK(f.rec.log == std::vector<std::string>{"add a/new", "delete a/vanish", "update a/change 1->2"});
  CHECK(inf->size() == 3);
  CHECK(inf->Get("a/vanish") == nullptr);
  inf->Stop();
}

TEST_CASE("informer: an ERROR 410 event on an open stream relists", "[informer]") {
  Fixture f;
  auto res = ConfigMapsResource();
  f.client->Seed(res, ConfigMap("a", "one", "1"));
  auto inf = f.StartInformer();
  f.AwaitWatch();
  int lists_before = f.client->Calls("list");
  f.client->ExpireWatches();
  REQUIRE(RunUntil(f.io, [&] { return f.client->Calls("list") == lists_before + 1 && f.client->OpenWatches() > 0; }));
  CHECK(inf->stats().relists_after_expired == 1);
  // Nothing changed, so handlers heard nothing new.
  CHECK(f.rec.log == std::vector<std::string>{"add a/one"});
  f.client->Seed(res, ConfigMap("a", "two", "1"));
  REQUIRE(RunUntil(f.io, [&] { return inf->size() == 2; }));
  inf->Stop();
}

TEST_CASE("informer: a dropped stream resumes from the last version without duplicate adds", "[informer]") {
  Fixture f;
  auto res = ConfigMapsResource();
  f.client->Seed(res, ConfigMap("a", "one", "1"));
  auto inf = f.StartInformer();
  f.AwaitWatch();
  f.client->Seed(res, ConfigMap("a", "two", "1"));
  REQUIRE(RunUntil(f.io, [&] { return inf->size() == 2; }));
  f.client->DropWatches();
  REQUIRE(RunUntil(f.io, [&] { return f.client->OpenWatches() == 0; }));
  f.client->FailNext("watch", ApiError::Unavailable("connection refused"), 2);
  f.client->Seed(res, ConfigMap("a", "three", "1"));
  REQUIRE(RunUntil(f.io, [&] { return inf->size() == 3; }));
  CHECK(f.rec.log == std::vector<std::string>{"add a/one", "add a/two", "add a/three"});
  CHECK(f.client->Calls("list") == 1);  // resumed, not relisted
  CHECK(inf->stats().watch_errors == 3);
  const auto& requests = f.client->watch_requests();
  CHECK(f.client->Calls("watch") == 4);  // first, two refused, the resumed one
  REQUIRE(requests.size() == 2);
  CHECK(requests.back().resource_version == std::to_string(f.client->resource_version() - 1));
  inf->Stop();
}

TEST_CASE("informer: a clean stream end re-watches from the bookmark's version", "[informer]") {
  Fixture f;
  auto res = ConfigMapsResource();
  auto inf = f.StartInformer();
  f.AwaitWatch();
  // Writes to other kinds move the global version; a bookmark carries it to the informer.
  f.client->Seed(sluice::kube::testing::LeasesResource(), json{{"metadata", {{"name", "l"}, {"namespace", "a"}}}});
  f.client->SendBookmarks();
  REQUIRE(RunUntil(f.io, [&] { return inf->last_resource_version() == std::to_string(f.client->resource_version()); }));
  f.client->EndWatches();
  REQUIRE(RunUntil(f.io, [&] { return f.client->watch_requests().size() == 2 && f.client->OpenWatches() == 1; }));
  CHECK(f.client->watch_requests().back().resource_version == std::to_string(f.client->resource_version()));
  CHECK(inf->stats().watch_errors == 0);
  CHECK(f.client->Calls("list") == 1);
  inf->Stop();
}

TEST_CASE("informer: a handler added late gets synthetic adds, then live events", "[informer]") {
  Fixture f;
  auto res = ConfigMapsResource();
  f.client->Seed(res, ConfigMap("a", "one", "1"));
  f.client->Seed(res, ConfigMap("b", "two", "1"));
  auto inf = f.StartInformer();
  f.AwaitWatch();
  Recorder late;
  auto id = inf->AddHandler(late.Handler());
  std::sort(late.log.begin(), late.log.end());
  CHECK(late.log == std::vector<std::string>{"add a/one", "add b/two"});
  f.client->Modify(res, ConfigMap("a", "one", "2"));
  REQUIRE(RunUntil(f.io, [&] { return late.Count("update") == 1; }));
  inf->RemoveHandler(id);
  f.client->Remove(res, "a", "one");
  REQUIRE(RunUntil(f.io, [&] { return f.rec.Count("delete") == 1; }));
  CHECK(late.Count("delete") == 0);
  inf->Stop();
}

TEST_CASE("informer: namespace, label selector and custom index", "[informer]") {
  Fixture f;
  auto res = ConfigMapsResource();
  f.client->Seed(res, ConfigMap("a", "web", "1", {{"app", "web"}}));
  f.client->Seed(res, ConfigMap("a", "db", "1", {{"app", "db"}}));
  f.client->Seed(res, ConfigMap("b", "web", "1", {{"app", "web"}}));
  InformerOptions o = FastRetry();
  o.ns = "a";
  o.label_selector = "app=web";
  auto inf = f.StartInformer(o);
  CHECK(inf->size() == 1);
  REQUIRE(inf->Get("a/web"));
  f.client->Seed(res, ConfigMap("a", "web2", "1", {{"app", "web"}}));
  f.client->Seed(res, ConfigMap("b", "web3", "1", {{"app", "web"}}));
  REQUIRE(RunUntil(f.io, [&] { return inf->size() == 2; }));
  RunFor(f.io, 20ms);
  CHECK(inf->size() == 2);
  inf->AddIndex("value", [](const json& o) { return std::vector<std::string>{o["data"].value("value", "")}; });
  CHECK(inf->ByIndex("value", "1").size() == 2);
  f.client->Modify(res, ConfigMap("a", "web2", "9", {{"app", "web"}}));
  REQUIRE(RunUntil(f.io, [&] { return inf->ByIndex("value", "9").size() == 1; }));
  CHECK(inf->ByIndex("value", "1").size() == 1);
  CHECK(inf->List([](const json& o) { return o["metadata"]["name"] == "web"; }).size() == 1);
  CHECK_THROWS_WITH(inf->ByIndex("nope", "x"), Catch::Contains("no index named nope"));
  inf->Stop();
}

TEST_CASE("informer: transform strips fields before caching", "[informer]") {
  Fixture f;
  auto res = ConfigMapsResource();
  json cm = ConfigMap("a", "x", "1");
  cm["metadata"]["managedFields"] = json::array({{{"manager", "kubectl"}}});
  cm["metadata"]["annotations"] = {{"kubectl.kubernetes.io/last-applied-configuration", "{...}"}};
  f.client->Seed(res, cm);
  InformerOptions o = FastRetry();
  o.transform = sluice::kube::StripForCache;
  auto inf = f.StartInformer(o);
  auto cached = inf->Get("a/x");
  REQUIRE(cached);
  CHECK_FALSE((*cached)["metadata"].contains("managedFields"));
  CHECK_FALSE((*cached)["metadata"].contains("annotations"));
  inf->Stop();
}

TEST_CASE("informer: list failures back off and retry, WaitForSync resolves, Stop ends cleanly", "[informer]") {
  Fixture f;
  f.client->Seed(ConfigMapsResource(), ConfigMap("a", "one", "1"));
  f.client->FailNext("list", ApiError::InternalError("etcd unavailable"), 2);
  auto inf = Informer::Create(f.client, ConfigMapsResource(), FastRetry());
  bool synced = false;
  boost::asio::co_spawn(f.io, [&]() -> boost::asio::awaitable<void> { synced = co_await inf->WaitForSync(); },
                        boost::asio::detached);
  inf->Start();
  REQUIRE(RunUntil(f.io, [&] { return synced; }));
  CHECK(f.client->Calls("list") == 3);
  CHECK(inf->size() == 1);
  f.AwaitWatch();
  std::weak_ptr<Informer> weak = inf;
  inf->Stop();
  inf.reset();
  // The run loop lets go of the informer once its watch is cancelled.
  REQUIRE(RunUntil(f.io, [&] { return weak.expired(); }));
  CHECK(f.client->OpenWatches() == 0);
}

TEST_CASE("informer: bad construction is refused with a clear error", "[informer]") {
  boost::asio::io_context io;
  auto client = std::make_shared<FakeClient>(io.get_executor());
  InformerOptions o;
  o.ns = "a";
  CHECK_THROWS_WITH(Informer::Create(client, sluice::kube::testing::NamespacesResource(), o),
                    Catch::Contains("cluster-scoped"));
  CHECK_THROWS_WITH(Informer::Create(nullptr, ConfigMapsResource()), Catch::Contains("client is null"));
}

TEST_CASE("informer: a server that expires every fresh version is not hammered", "[informer]") {
  Fixture f;
  f.client->Seed(ConfigMapsResource(), ConfigMap("a", "one", "1"));
  InformerOptions o;
  o.initial_backoff = 50ms;
  o.max_backoff = 50ms;
  f.client->FailNext("watch", ApiError::Expired("too old resource version"), 1000);
  auto inf = f.StartInformer(o);
  RunFor(f.io, 300ms);
  // One immediate relist, then one per backoff (25-50 ms): a dozen at most, not thousands.
  CHECK(f.client->Calls("list") >= 3);
  CHECK(f.client->Calls("list") <= 14);
  CHECK(f.rec.log == std::vector<std::string>{"add a/one"});  // relists found nothing new
  f.client->ClearFailures();
  f.AwaitWatch();
  f.client->Seed(ConfigMapsResource(), ConfigMap("a", "two", "1"));
  REQUIRE(RunUntil(f.io, [&] { return inf->size() == 2; }));
  inf->Stop();
}
