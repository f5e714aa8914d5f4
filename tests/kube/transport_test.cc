// The client against a scripted server that misbehaves: deadlines, retries with backoff,
// stale keep-alive connections, oversize and non-Status answers, broken watch streams.
#include "core/backoff.h"
#include "kube/client.h"
#include "kube/discovery.h"
#include "kube/rate_limiter.h"
#include "kube/retry.h"
#include "tests/kube/client_testing.h"
#include "tests/kube/raw_http_server.h"
#include "tests/support/process.h"

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include <atomic>
#include <set>
#include <thread>

namespace sluice::kube {
namespace {

using Catch::Matchers::Contains;
using sluice::testing::Chunk;
using sluice::testing::ChunkedHead;
using sluice::testing::RawHttpServer;
using sluice::testing::RawReply;
using sluice::testing::RawRequest;
using sluice::testing::Respond;
using sluice::testing::RunCo;
using Steady = std::chrono::steady_clock;

const ApiResource kConfigMaps{.group = "", .version = "v1", .resource = "configmaps", .kind = "ConfigMap",
                              .singular = "configmap", .namespaced = true};

json ConfigMap(const std::string& name, const std::string& rv = "1") {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", "default"}, {"resourceVersion", rv}}}};
}

ClientOptions FastOptions() {
  ClientOptions o;
  o.request_timeout = std::chrono::milliseconds(2000);
  o.connect_timeout = std::chrono::milliseconds(1000);
  o.initial_backoff = std::chrono::milliseconds(10);
  o.max_backoff = std::chrono::milliseconds(50);
  o.max_retries = 3;
  o.qps = 0;
  return o;
}

struct Fixture {
  explicit Fixture(RawHttpServer::Handler handler, ClientOptions options = FastOptions(), RestConfig config = {})
      : server(std::move(handler)) {
    config.server = server.url();
    client = MakeHttpClient(ioc.get_executor(), config, options);
  }
  template <class F>
  auto Run(F f) {
    using A = decltype(f(*client));
    using T = typename A::value_type;
    return RunCo<T>(ioc, [this, f]() { return f(*client); });
  }
  asio::io_context ioc;
  RawHttpServer server;
  std::shared_ptr<Client> client;
};

auto GetFoo = [](Client& c) { return c.Get(kConfigMaps, "default", "foo"); };

TEST_CASE("transport: keep-alive reuses one connection", "[transport]") {
  Fixture f([](const RawRequest&) { return Respond(200, ConfigMap("foo").dump()); });
  for (int i = 0; i < 3; ++i) CHECK(f.Run(GetFoo)["metadata"]["name"] == "foo");
  CHECK(f.server.connections() == 1);
  auto reqs = f.server.requests();
  REQUIRE(reqs.size() == 3);
  CHECK(reqs[0].method == "GET");
  CHECK(reqs[0].target == "/api/v1/namespaces/default/configmaps/foo");
  CHECK(reqs[0].Header("accept") == "application/json");
  CHECK(reqs[0].Header("user-agent") == "sluice/0.1");
  CHECK(reqs[0].Header("host") == "127.0.0.1:" + std::to_string(f.server.port()));
}

TEST_CASE("transport: a connection the server closed while pooled is replaced", "[transport]") {
  // The server answers as if keeping the connection but drops it right after.
  Fixture f([](const RawRequest&) {
    RawReply r = Respond(200, ConfigMap("foo").dump());
    r.close = true;
    return r;
  });
  CHECK(f.Run(GetFoo)["metadata"]["name"] == "foo");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(f.Run(GetFoo)["metadata"]["name"] == "foo");
  CHECK(f.server.requests().size() == 2);
  CHECK(f.server.connections() == 2);
}

TEST_CASE("transport: a server that never answers meets the deadline", "[transport]") {
  ClientOptions o = FastOptions();
  o.request_timeout = std::chrono::milliseconds(300);
  o.max_retries = 0;
  Fixture f([](const RawRequest&) { return RawReply{.hang = true}; }, o);
  auto start = Steady::now();
  try {
    f.Run(GetFoo);
    FAIL("no error");
  } catch (const core::ApiError& e) {
    CHECK(e.code() == 0);
    CHECK(e.reason() == "Timeout");
    CHECK_THAT(e.message(), Contains("no answer within 300 ms"));
    CHECK(e.retry_advice() == core::RetryAdvice::kBackoff);
  }
  CHECK(Steady::now() - start < std::chrono::seconds(3));
}

TEST_CASE("transport: connect to a closed port is Unavailable", "[transport]") {
  asio::io_context ioc;
  ClientOptions o = FastOptions();
  o.max_retries = 1;
  // Bind then close a server to get a port nobody listens on.
  std::string url;
  {
    RawHttpServer gone([](const RawRequest&) { return RawReply{}; });
    url = gone.url();
  }
  auto client = MakeHttpClient(ioc.get_executor(), RestConfig{.server = url}, o);
  try {
    RunCo<json>(ioc, [&] { return client->Create(kConfigMaps, "default", ConfigMap("x")); });
    FAIL("no error");
  } catch (const core::ApiError& e) {
    CHECK(e.code() == 0);
    CHECK(e.reason() == "ServiceUnavailable");
    CHECK_THAT(e.message(), Contains("cannot connect"));
  }
}

TEST_CASE("transport: 503 twice then 200 is retried with backoff", "[transport]") {
  std::atomic<int> n{0};
  Fixture f([&](const RawRequest&) {
    if (++n <= 2) return Respond(503, R"({"kind":"Status","apiVersion":"v1","status":"Failure","reason":"ServiceUnavailable","code":503,"message":"etcd is sad"})");
    return Respond(200, ConfigMap("foo").dump());
  });
  CHECK(f.Run(GetFoo)["metadata"]["name"] == "foo");
  CHECK(n == 3);
}

TEST_CASE("transport: Retry-After is honoured", "[transport]") {
  std::atomic<int> n{0};
  Fixture f([&](const RawRequest&) {
    if (++n == 1) return Respond(429, "slow down", {"Retry-After: 1"}, "text/plain");
    return Respond(200, ConfigMap("foo").dump());
  });
  auto start = Steady::now();
  CHECK(f.Run(GetFoo)["metadata"]["name"] == "foo");
  CHECK(Steady::now() - start >= std::chrono::milliseconds(950));
  CHECK(n == 2);
}

TEST_CASE("transport: retries stop at max_retries and keep the last error", "[transport]") {
  std::atomic<int> n{0};
  Fixture f([&](const RawRequest&) {
    ++n;
    return Respond(500, "<html>proxy error</html>", {}, "text/html");
  });
  try {
    f.Run(GetFoo);
    FAIL("no error");
  } catch (const core::ApiError& e) {
    CHECK(e.code() == 500);
    CHECK(e.reason() == "InternalError");
    CHECK_THAT(e.message(), Contains("without a Status") && Contains("proxy error"));
  }
  CHECK(n == 4);  // the first try and max_retries = 3
}

TEST_CASE("transport: an answered POST is never repeated", "[transport]") {
  std::atomic<int> n{0};
  Fixture f([&](const RawRequest&) {
    ++n;
    return Respond(503, "busy", {}, "text/plain");
  });
  CHECK_THROWS_AS(f.Run([](Client& c) { return c.Create(kConfigMaps, "default", ConfigMap("x")); }), core::ApiError);
  CHECK(n == 1);
}

TEST_CASE("transport: Status errors keep reason, message and details", "[transport]") {
  Fixture f([](const RawRequest&) {
    return Respond(404, core::ApiError::NotFound("", "configmaps", "foo").ToStatus().dump());
  });
  try {
    f.Run(GetFoo);
    FAIL("no error");
  } catch (const core::ApiError& e) {
    CHECK(e.IsNotFound());
    CHECK(e.message() == "configmaps \"foo\" not found");
    CHECK(e.details()["name"] == "foo");
    CHECK(e.retry_advice() == core::RetryAdvice::kNever);
  }
  CHECK(f.server.requests().size() == 1);
}

TEST_CASE("transport: an oversize response is refused, not retried", "[transport]") {
  ClientOptions o = FastOptions();
  o.max_response_bytes = 1000;
  Fixture f([](const RawRequest&) { return Respond(200, "{\"data\":\"" + std::string(5000, 'x') + "\"}"); }, o);
  try {
    f.Run(GetFoo);
    FAIL("no error");
  } catch (const core::ApiError& e) {
    CHECK(e.reason() == "ResponseTooLarge");
    CHECK_THAT(e.message(), Contains("larger than the limit of 1000 bytes"));
  }
  CHECK(f.server.requests().size() == 1);
}

TEST_CASE("transport: a 2xx body that is not JSON is an error", "[transport]") {
  Fixture f([](const RawRequest&) { return Respond(200, "not json", {}, "text/plain"); });
  CHECK_THROWS_WITH(f.Run(GetFoo), Contains("not JSON"));
}

TEST_CASE("transport: verbs send the right method, path, query and body", "[transport]") {
  Fixture f([](const RawRequest& r) {
    if (r.method == "DELETE") return Respond(200, R"({"kind":"Status","status":"Success"})");
    return Respond(r.method == "POST" ? 201 : 200, ConfigMap("foo").dump());
  });
  f.Run([](Client& c) {
    return c.List(kConfigMaps, "", {.label_selector = "app=web,tier!=db", .field_selector = "metadata.name=foo",
                                    .limit = 2, .continue_token = "abc"});
  });
  f.Run([](Client& c) {
    return c.Create(kConfigMaps, "team", json{{"metadata", {{"name", "n"}}}},
                    {.field_manager = "sluice", .field_validation = "Strict", .dry_run = true});
  });
  f.Run([](Client& c) { return c.Update(kConfigMaps, ConfigMap("foo", "7"), {}, "status"); });
  f.Run([](Client& c) {
    return c.Patch(kConfigMaps, "default", "foo", PatchType::kMerge, json{{"data", {{"a", "b"}}}},
                   {.field_manager = "kubectl-annotate"});
  });
  f.Run([](Client& c) { return c.Patch(kConfigMaps, "default", "foo", PatchType::kJson, json::array()); });
  f.Run([](Client& c) { return c.Patch(kConfigMaps, "default", "foo", PatchType::kStrategicMerge, json::object()); });
  f.Run([](Client& c) { return c.Apply(kConfigMaps, json{{"metadata", {{"name", "foo"}, {"namespace", "x"}}}}, "sluice", true); });
  f.Run([](Client& c) {
    return c.Delete(kConfigMaps, "default", "foo",
                    {.propagation_policy = "Foreground", .precondition_uid = "u-1", .precondition_resource_version = "9"});
  });
  auto r = f.server.requests();
  REQUIRE(r.size() == 8);
  CHECK(r[0].target ==
        "/api/v1/configmaps?labelSelector=app%3Dweb%2Ctier%21%3Ddb&fieldSelector=metadata.name%3Dfoo&limit=2&continue=abc");
  CHECK(r[1].method == "POST");
  CHECK(r[1].target == "/api/v1/namespaces/team/configmaps?fieldManager=sluice&fieldValidation=Strict&dryRun=All");
  CHECK(r[1].Header("content-type") == "application/json");
  auto created = json::parse(r[1].body);
  CHECK(created["kind"] == "ConfigMap");  // filled in from discovery
  CHECK(created["apiVersion"] == "v1");
  CHECK(r[2].method == "PUT");
  CHECK(r[2].target == "/api/v1/namespaces/default/configmaps/foo/status");
  CHECK(json::parse(r[2].body)["metadata"]["resourceVersion"] == "7");
  CHECK(r[3].method == "PATCH");
  CHECK(r[3].Header("content-type") == "application/merge-patch+json");
  CHECK(r[3].target == "/api/v1/namespaces/default/configmaps/foo?fieldManager=kubectl-annotate");
  CHECK(r[4].Header("content-type") == "application/json-patch+json");
  CHECK(r[5].Header("content-type") == "application/strategic-merge-patch+json");
  CHECK(r[6].Header("content-type") == "application/apply-patch+yaml");
  CHECK(r[6].target == "/api/v1/namespaces/x/configmaps/foo?fieldManager=sluice&force=true");
  CHECK(json::parse(r[6].body)["kind"] == "ConfigMap");
  CHECK(r[7].method == "DELETE");
  auto del = json::parse(r[7].body);
  CHECK(del == json{{"kind", "DeleteOptions"},
                    {"apiVersion", "v1"},
                    {"propagationPolicy", "Foreground"},
                    {"preconditions", {{"uid", "u-1"}, {"resourceVersion", "9"}}}});
}

TEST_CASE("transport: bearer and basic auth headers", "[transport]") {
  {
    Fixture f([](const RawRequest&) { return Respond(200, "{}"); }, FastOptions(), RestConfig{.token = "abc"});
    f.Run([](Client& c) { return c.GetPath("/version"); });
    CHECK(f.server.requests().at(0).Header("authorization") == "Bearer abc");
  }
  {
    Fixture f([](const RawRequest&) { return Respond(200, "{}"); }, FastOptions(),
              RestConfig{.username = "u", .password = "p"});
    f.Run([](Client& c) { return c.GetPath("/version"); });
    CHECK(f.server.requests().at(0).Header("authorization") == "Basic dTpw");
  }
}

TEST_CASE("transport: a 401 re-reads a rotated token file once", "[transport]") {
  testing::TempDir tmp;
  tmp.Write("token", "old");
  Fixture f(
      [](const RawRequest& r) {
        if (r.Header("authorization") != "Bearer new")
          return Respond(401, R"({"kind":"Status","status":"Failure","reason":"Unauthorized","code":401,"message":"Unauthorized"})");
        return Respond(200, "{}");
      },
      FastOptions(), RestConfig{.token_file = tmp.File("token"), .token_file_refresh = std::chrono::seconds(3600)});
  CHECK_THROWS_WITH(f.Run([](Client& c) { return c.GetPath("/version"); }), Contains("Unauthorized"));
  CHECK(f.server.requests().size() == 2);  // one re-read, no backoff retries of a 401
  tmp.Write("token", "new");
  f.Run([](Client& c) { return c.GetPath("/version"); });
  auto r = f.server.requests();
  REQUIRE(r.size() == 4);
  CHECK(r[2].Header("authorization") == "Bearer old");  // still cached
  CHECK(r[3].Header("authorization") == "Bearer new");
}

TEST_CASE("transport: exec plugin tokens reach the server", "[transport][exec]") {
  testing::TempDir tmp;
  tmp.Write("cred.sh", "#!/bin/sh\necho '{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\","
                       "\"status\":{\"token\":\"exec-token\"}}'\n");
  chmod(tmp.File("cred.sh").c_str(), 0755);
  Fixture f([](const RawRequest&) { return Respond(200, "{}"); }, FastOptions(),
            RestConfig{.exec = ExecConfig{.command = tmp.File("cred.sh")}});
  f.Run([](Client& c) { return c.GetPath("/version"); });
  CHECK(f.server.requests().at(0).Header("authorization") == "Bearer exec-token");
}

TEST_CASE("transport: a failing exec plugin is a ConfigError with its stderr", "[transport][exec]") {
  testing::TempDir tmp;
  tmp.Write("cred.sh", "#!/bin/sh\necho 'token expired, run login' >&2\nexit 1\n");
  chmod(tmp.File("cred.sh").c_str(), 0755);
  Fixture f([](const RawRequest&) { return Respond(200, "{}"); }, FastOptions(),
            RestConfig{.exec = ExecConfig{.command = tmp.File("cred.sh")}});
  CHECK_THROWS_AS(f.Run([](Client& c) { return c.GetPath("/version"); }), ConfigError);
  CHECK_THROWS_WITH(f.Run([](Client& c) { return c.GetPath("/version"); }), Contains("token expired, run login"));
  CHECK(f.server.requests().empty());
}

// --- watch streams -----------------------------------------------------------------------

std::string Event(const std::string& type, const json& object) {
  return json{{"type", type}, {"object", object}}.dump() + "\n";
}

asio::awaitable<std::vector<WatchEvent>> Drain(Client& c, ListOptions options = {}) {
  std::string ns = "default";  // no temporaries in co_await expressions (GCC 12)
  auto w = co_await c.Watch(kConfigMaps, ns, options);
  std::vector<WatchEvent> events;
  while (auto e = co_await w->Next()) events.push_back(std::move(*e));
  co_return events;
}

TEST_CASE("watch: events split across chunks arrive whole, the stream ends cleanly", "[transport][watch]") {
  std::string a = Event("ADDED", ConfigMap("a", "5"));
  std::string b = Event("MODIFIED", ConfigMap("a", "6"));
  std::string c = Event("BOOKMARK", json{{"kind", "ConfigMap"}, {"metadata", {{"resourceVersion", "7"}}}});
  Fixture f([&](const RawRequest&) {
    return RawReply{.parts = {ChunkedHead(), Chunk(a.substr(0, 10)), Chunk(a.substr(10) + b.substr(0, 3)),
                              Chunk(b.substr(3) + c), Chunk("")},
                    .pause = std::chrono::milliseconds(5)};
  });
  auto events = f.Run([](Client& cl) { return Drain(cl, {.resource_version = "4", .timeout_seconds = 30}); });
  REQUIRE(events.size() == 3);
  CHECK(events[0].type == WatchEvent::Type::kAdded);
  CHECK(events[1].type == WatchEvent::Type::kModified);
  CHECK(events[1].object["metadata"]["resourceVersion"] == "6");
  CHECK(events[2].type == WatchEvent::Type::kBookmark);
  CHECK(std::string(ToString(events[2].type)) == "BOOKMARK");
  CHECK(f.server.requests().at(0).target ==
        "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=4&allowWatchBookmarks=true&timeoutSeconds=30");
}

TEST_CASE("watch: an ERROR event carries the Status", "[transport][watch]") {
  json status = core::ApiError::Expired("too old resource version: 1 (50)").ToStatus();
  Fixture f([&](const RawRequest&) {
    return RawReply{.parts = {ChunkedHead(), Chunk(Event("ERROR", status)), Chunk("")}};
  });
  auto events = f.Run([](Client& c) { return Drain(c, {.resource_version = "1"}); });
  REQUIRE(events.size() == 1);
  CHECK(events[0].type == WatchEvent::Type::kError);
  CHECK(events[0].object["code"] == 410);
  CHECK(core::ApiError::FromResponse(410, events[0].object.dump()).IsExpired());
}

TEST_CASE("watch: a broken chunked stream is an core::ApiError", "[transport][watch]") {
  Fixture f([&](const RawRequest&) {
    return RawReply{.parts = {ChunkedHead() + Chunk(Event("ADDED", ConfigMap("a"))) + "zz-not-hex\r\n"}, .close = true};
  });
  std::vector<WatchEvent> got;
  try {
    f.Run([&](Client& c) -> asio::awaitable<int> {
      std::string ns = "default";
      ListOptions options;
      auto w = co_await c.Watch(kConfigMaps, ns, options);
      while (auto e = co_await w->Next()) got.push_back(*e);
      co_return 0;
    });
    FAIL("no error");
  } catch (const core::ApiError& e) {
    CHECK_THAT(e.message(), Contains("broken chunked encoding"));
  }
  CHECK(got.size() == 1);  // what came before the break was delivered
}

TEST_CASE("watch: a connection dropped mid-chunk is an core::ApiError", "[transport][watch]") {
  Fixture f([&](const RawRequest&) {
    return RawReply{.parts = {ChunkedHead() + "40\r\n{\"type\":\"ADD"}, .close = true};
  });
  CHECK_THROWS_WITH(f.Run([](Client& c) { return Drain(c); }), Contains("closed the stream in the middle"));
}

TEST_CASE("watch: a line that is not JSON is an core::ApiError", "[transport][watch]") {
  Fixture f([&](const RawRequest&) {
    return RawReply{.parts = {ChunkedHead(), Chunk("<html>gateway</html>\n"), Chunk("")}};
  });
  CHECK_THROWS_WITH(f.Run([](Client& c) { return Drain(c); }), Contains("not a JSON object") && Contains("gateway"));
  Fixture g([&](const RawRequest&) {
    return RawReply{.parts = {ChunkedHead(), Chunk("{\"type\":\"EXPLODED\",\"object\":{}}\n"), Chunk("")}};
  });
  CHECK_THROWS_WITH(g.Run([](Client& c) { return Drain(c); }), Contains("unknown type"));
}

TEST_CASE("watch: silence past the idle timeout is a Timeout", "[transport][watch]") {
  ClientOptions o = FastOptions();
  o.watch_idle_timeout = std::chrono::milliseconds(300);
  Fixture f([&](const RawRequest&) { return RawReply{.parts = {ChunkedHead()}, .hang = true}; }, o);
  auto start = Steady::now();
  try {
    f.Run([](Client& c) { return Drain(c); });
    FAIL("no error");
  } catch (const core::ApiError& e) {
    CHECK(e.reason() == "Timeout");
    CHECK_THAT(e.message(), Contains("nothing received for 300 ms"));
  }
  CHECK(Steady::now() - start < std::chrono::seconds(3));
}

TEST_CASE("watch: Cancel ends a waiting Next with nullopt", "[transport][watch]") {
  Fixture f([&](const RawRequest&) { return RawReply{.parts = {ChunkedHead()}, .hang = true}; });
  bool ended = f.Run([](Client& c) -> asio::awaitable<bool> {
    std::string ns = "default";
    ListOptions options;
    auto w = co_await c.Watch(kConfigMaps, ns, options);
    asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(50));
    t.async_wait([&](boost::system::error_code ec) {
      if (!ec) w->Cancel();
    });
    auto e = co_await w->Next();
    co_return !e.has_value();
  });
  CHECK(ended);
}

TEST_CASE("watch: a refused watch raises the server's Status", "[transport][watch]") {
  Fixture f([](const RawRequest&) {
    return Respond(403, core::ApiError::Forbidden("configmaps is forbidden: User \"x\" cannot watch").ToStatus().dump());
  });
  try {
    f.Run([](Client& c) { return Drain(c); });
    FAIL("no error");
  } catch (const core::ApiError& e) {
    CHECK(e.code() == 403);
    CHECK_THAT(e.message(), Contains("cannot watch"));
  }
}

// --- pure parts ----------------------------------------------------------------------------

TEST_CASE("rate limiter: burst, then qps", "[transport]") {
  RateLimiter limiter(10, 3);
  auto t0 = Steady::now();
  for (int i = 0; i < 3; ++i) CHECK(limiter.Reserve(t0).count() == 0);
  CHECK(limiter.Reserve(t0) == std::chrono::milliseconds(100));
  CHECK(limiter.Reserve(t0) == std::chrono::milliseconds(200));  // queued behind the previous one
  CHECK(limiter.Reserve(t0 + std::chrono::seconds(10)).count() == 0);  // refilled, capped at burst
  CHECK(RateLimiter(0, 1).Reserve(t0).count() == 0);  // disabled
}

TEST_CASE("rate limiter: the client waits on the loop", "[transport]") {
  ClientOptions o = FastOptions();
  o.qps = 20;
  o.burst = 1;
  Fixture f([](const RawRequest&) { return Respond(200, ConfigMap("foo").dump()); }, o);
  auto start = Steady::now();
  for (int i = 0; i < 5; ++i) f.Run(GetFoo);
  CHECK(Steady::now() - start >= std::chrono::milliseconds(190));
}

TEST_CASE("backoff: full jitter under a doubling ceiling, Retry-After wins", "[transport]") {
  core::Backoff b(std::chrono::milliseconds(100), std::chrono::milliseconds(1000), 42);
  CHECK(b.Ceiling(0) == std::chrono::milliseconds(100));
  CHECK(b.Ceiling(2) == std::chrono::milliseconds(400));
  CHECK(b.Ceiling(10) == std::chrono::milliseconds(1000));
  std::set<int64_t> seen;
  for (int i = 0; i < 200; ++i) {
    auto d = b.Delay(3);
    CHECK(d >= std::chrono::milliseconds(0));
    CHECK(d <= std::chrono::milliseconds(800));
    seen.insert(d.count());
  }
  CHECK(seen.size() > 50);  // spread out, not a fixed step
  CHECK(b.Delay(0, std::chrono::seconds(5)) == std::chrono::seconds(5));
}

TEST_CASE("discovery: APIResourceList parsing and name matching", "[transport]") {
  json list = json::parse(R"({"kind":"APIResourceList","groupVersion":"apps/v1","resources":[
    {"name":"deployments","singularName":"deployment","namespaced":true,"kind":"Deployment","verbs":["get","list"],"shortNames":["deploy"],"categories":["all"]},
    {"name":"deployments/status","singularName":"","namespaced":true,"kind":"Deployment","verbs":["get","patch"]},
    {"name":"deployments/scale","singularName":"","namespaced":true,"group":"autoscaling","version":"v1","kind":"Scale","verbs":["get"]},
    {"name":"controllerrevisions","singularName":"","namespaced":true,"kind":"ControllerRevision","verbs":["get"]}]})");
  auto resources = ParseApiResourceList(list, "apps/v1");
  REQUIRE(resources.size() == 2);
  const ApiResource* d = FindResource(resources, "Deployment");
  REQUIRE(d);
  CHECK(d->group == "apps");
  CHECK(d->version == "v1");
  CHECK(d->has_status);
  CHECK(d->has_scale);
  CHECK(d->short_names == std::vector<std::string>{"deploy"});
  CHECK(FindResource(resources, "deployments") == d);
  CHECK(FindResource(resources, "deployment") == d);
  CHECK(FindResource(resources, "deploy") == d);
  CHECK(FindResource(resources, "DEPLOY") == d);
  CHECK(FindResource(resources, "controllerrevision")->singular == "controllerrevision");
  CHECK(FindResource(resources, "pods") == nullptr);
  CHECK_THROWS_AS(ParseApiResourceList(json::array(), "apps/v1"), core::ApiError);
}

TEST_CASE("retry on conflict: re-runs the attempt, gives up after max", "[transport]") {
  asio::io_context ioc;
  int calls = 0;
  json out = RunCo<json>(ioc, [&] {
    return RetryOnConflict([&]() -> asio::awaitable<json> {
      if (++calls < 3) throw core::ApiError::Conflict("", "configmaps", "foo", "the object has been modified");
      co_return json{{"ok", true}};
    });
  });
  CHECK(out["ok"] == true);
  CHECK(calls == 3);
  calls = 0;
  CHECK_THROWS_WITH(RunCo<json>(ioc,
                                [&] {
                                  return RetryOnConflict(
                                      [&]() -> asio::awaitable<json> {
                                        ++calls;
                                        throw core::ApiError::Conflict("", "configmaps", "foo", "modified");
                                        co_return json{};
                                      },
                                      4);
                                }),
                    Contains("modified"));
  CHECK(calls == 4);
  calls = 0;
  CHECK_THROWS_AS(RunCo<json>(ioc,
                              [&] {
                                return RetryOnConflict([&]() -> asio::awaitable<json> {
                                  ++calls;
                                  throw core::ApiError::NotFound("", "configmaps", "foo");
                                  co_return json{};
                                });
                              }),
                  core::ApiError);
  CHECK(calls == 1);  // only conflicts are retried
}

}  // namespace
}  // namespace sluice::kube
