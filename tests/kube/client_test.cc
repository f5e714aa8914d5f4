// The client against the API emulator: discovery, every verb, paging, watches with resume
// and relist, conflicts, TLS verification and each way of authenticating.
#include "kube/client.h"
#include "kube/retry.h"
#include "sandbox/emulator/certs.h"
#include "sandbox/emulator/emulator.h"
#include "tests/kube/client_testing.h"
#include "tests/support/process.h"

#include <catch2/catch.hpp>

#include <sys/stat.h>

namespace sluice::kube {
namespace {

using Catch::Matchers::Contains;
using sluice::sandbox::Emulator;
using sluice::sandbox::EmulatorOptions;
using sluice::testing::RunCo;

const char kWidgetCrd[] = R"(apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wg]}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
              color: {type: string}
          status:
            type: object
            properties:
              phase: {type: string}
)";

json ConfigMap(const std::string& name, json data = json::object()) {
  return {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}}}, {"data", std::move(data)}};
}

ClientOptions TestOptions() {
  ClientOptions o;
  o.request_timeout = std::chrono::seconds(10);
  o.initial_backoff = std::chrono::milliseconds(10);
  o.max_backoff = std::chrono::milliseconds(100);
  o.qps = 0;
  return o;
}

// An emulator plus a client made from the kubeconfig it writes.
struct Cluster {
  explicit Cluster(EmulatorOptions options = {}) : emu(options) {
    emu.Start();
    config = ParseKubeconfig(emu.KubeconfigYaml());
    client = MakeHttpClient(ioc.get_executor(), config, TestOptions());
  }
  ~Cluster() {
    client.reset();
    emu.Stop();
  }
  template <class F>
  auto Run(F f) {
    using T = typename decltype(f(*client))::value_type;
    return RunCo<T>(ioc, [this, f]() { return f(*client); });
  }
  ApiResource Resolve(const std::string& api_version, const std::string& name) {
    return Run([=](Client& c) { return c.Resolve(api_version, name); });
  }

  asio::io_context ioc;
  Emulator emu;
  RestConfig config;
  std::shared_ptr<Client> client;
};

std::string Rv(const json& obj) { return obj["metadata"]["resourceVersion"].get<std::string>(); }

TEST_CASE("client: discovery resolves kind, plural, singular and short names", "[client]") {
  Cluster k;
  ApiResource cm = k.Resolve("v1", "ConfigMap");
  CHECK(cm.resource == "configmaps");
  CHECK(cm.namespaced);
  CHECK(cm.Path("default", "x") == "/api/v1/namespaces/default/configmaps/x");
  CHECK(k.Resolve("v1", "configmaps").kind == "ConfigMap");
  CHECK(k.Resolve("v1", "configmap").kind == "ConfigMap");
  CHECK(k.Resolve("v1", "cm").kind == "ConfigMap");
  ApiResource deploy = k.Resolve("apps/v1", "deploy");
  CHECK(deploy.kind == "Deployment");
  CHECK(deploy.has_status);
  CHECK(deploy.has_scale);
  CHECK_FALSE(k.Resolve("v1", "Namespace").namespaced);
  try {
    k.Resolve("v1", "Gizmo");
    FAIL("resolved a kind that does not exist");
  } catch (const core::ApiError& e) {
    CHECK(e.IsNotFound());
    CHECK_THAT(e.message(), Contains("Gizmo"));
  }
  CHECK_THROWS_WITH(k.Resolve("nope.example.com/v1", "Thing"), Contains("does not serve nope.example.com/v1"));
}

TEST_CASE("client: a CRD installed after discovery was cached is found", "[client]") {
  Cluster k;
  CHECK(k.Resolve("v1", "ConfigMap").kind == "ConfigMap");
  CHECK_THROWS_AS(k.Resolve("example.com/v1", "Widget"), core::ApiError);
  REQUIRE(k.emu.LoadCrdsYaml(kWidgetCrd) == 1);
  ApiResource w = k.Resolve("example.com/v1", "wg");
  CHECK(w.kind == "Widget");
  CHECK(w.has_status);
}

TEST_CASE("client: create, get, update, conflict, delete", "[client]") {
  Cluster k;
  ApiResource cm = k.Resolve("v1", "ConfigMap");
  json created = k.Run([&](Client& c) { return c.Create(cm, "default", ConfigMap("app", {{"a", "1"}})); });
  CHECK(created["metadata"]["uid"].is_string());
  CHECK_THROWS_WITH(k.Run([&](Client& c) { return c.Create(cm, "default", ConfigMap("app")); }),
                    Contains("already exists"));

  json got = k.Run([&](Client& c) { return c.Get(cm, "default", "app"); });
  CHECK(got["data"]["a"] == "1");

  json changed = got;
  changed["data"]["a"] = "2";
  json updated = k.Run([&](Client& c) { return c.Update(cm, changed); });
  CHECK(updated["data"]["a"] == "2");
  CHECK(Rv(updated) != Rv(got));

  // Writing from the stale copy is a Conflict the client does not retry by itself.
  json stale = got;
  stale["data"]["a"] = "3";
  try {
    k.Run([&](Client& c) { return c.Update(cm, stale); });
    FAIL("stale update accepted");
  } catch (const core::ApiError& e) {
    CHECK(e.IsConflict());
    CHECK(e.retry_advice() == core::RetryAdvice::kReread);
  }

  // Deleting with a precondition on an old uid is refused; a plain delete works.
  DeleteOptions wrong_uid{.precondition_uid = "not-the-uid"};
  CHECK_THROWS_AS(k.Run([&](Client& c) { return c.Delete(cm, "default", "app", wrong_uid); }), core::ApiError);
  DeleteOptions background{.propagation_policy = "Background",
                           .precondition_uid = created["metadata"]["uid"].get<std::string>()};
  k.Run([&](Client& c) { return c.Delete(cm, "default", "app", background); });
  try {
    k.Run([&](Client& c) { return c.Get(cm, "default", "app"); });
    FAIL("still there");
  } catch (const core::ApiError& e) {
    CHECK(e.IsNotFound());
  }
}

TEST_CASE("client: RetryOnConflict re-reads and wins against a racing writer", "[client]") {
  Cluster k;
  ApiResource cm = k.Resolve("v1", "ConfigMap");
  k.Run([&](Client& c) { return c.Create(cm, "default", ConfigMap("counter", {{"n", "0"}})); });
  json first_read = k.Run([&](Client& c) { return c.Get(cm, "default", "counter"); });
  int attempts = 0;
  json result = k.Run([&](Client& c) {
    return RetryOnConflict([&]() -> asio::awaitable<json> {
      ++attempts;
      // Each call is made into a named awaitable first: GCC 12 mishandles argument
      // temporaries (default arguments included) inside a co_await expression.
      json obj = first_read;
      if (attempts == 1) {
        // Someone else writes between our read and our write.
        json theirs = first_read;
        theirs["data"]["n"] = "10";
        auto their_write = c.Update(cm, theirs);
        co_await std::move(their_write);
      } else {
        auto reread = c.Get(cm, "default", "counter");
        obj = co_await std::move(reread);
      }
      int n = std::stoi(obj["data"]["n"].get<std::string>());
      obj["data"]["n"] = std::to_string(n + 1);
      auto write = c.Update(cm, obj);
      co_return co_await std::move(write);
    });
  });
  CHECK(attempts == 2);
  CHECK(result["data"]["n"] == "11");
}

TEST_CASE("client: patches of every type and server-side apply", "[client]") {
  Cluster k;
  ApiResource cm = k.Resolve("v1", "ConfigMap");
  k.Run([&](Client& c) { return c.Create(cm, "default", ConfigMap("p", {{"a", "1"}})); });

  json merged = k.Run([&](Client& c) {
    return c.Patch(cm, "default", "p", PatchType::kMerge, json{{"data", {{"b", "2"}}}}, {.field_manager = "test"});
  });
  CHECK(merged["data"] == json{{"a", "1"}, {"b", "2"}});

  json patched = k.Run([&](Client& c) {
    return c.Patch(cm, "default", "p", PatchType::kJson,
                   json::array({{{"op", "test"}, {"path", "/data/a"}, {"value", "1"}},
                                {{"op", "replace"}, {"path", "/data/a"}, {"value", "one"}}}));
  });
  CHECK(patched["data"]["a"] == "one");
  CHECK_THROWS_AS(k.Run([&](Client& c) {
                    return c.Patch(cm, "default", "p", PatchType::kJson,
                                   json::array({{{"op", "test"}, {"path", "/data/a"}, {"value", "1"}}}));
                  }),
                  core::ApiError);

  json strategic = k.Run([&](Client& c) {
    return c.Patch(cm, "default", "p", PatchType::kStrategicMerge, json{{"metadata", {{"labels", {{"x", "y"}}}}}});
  });
  CHECK(strategic["metadata"]["labels"]["x"] == "y");

  json applied = k.Run([&](Client& c) {
    return c.Apply(cm, json{{"metadata", {{"name", "ssa"}, {"namespace", "default"}}}, {"data", {{"k", "v"}}}}, "sluice");
  });
  CHECK(applied["data"]["k"] == "v");
  bool has_manager = false;
  for (const auto& mf : applied["metadata"]["managedFields"])
    if (mf["manager"] == "sluice" && mf["operation"] == "Apply") has_manager = true;
  CHECK(has_manager);
  // Another manager taking the same field conflicts unless it forces.
  json other = {{"metadata", {{"name", "ssa"}, {"namespace", "default"}}}, {"data", {{"k", "w"}}}};
  CHECK_THROWS_AS(k.Run([&](Client& c) { return c.Apply(cm, other, "intruder"); }), core::ApiError);
  CHECK(k.Run([&](Client& c) { return c.Apply(cm, other, "intruder", true); })["data"]["k"] == "w");

  CHECK_THROWS_WITH(k.Run([&](Client& c) { return c.Patch(cm, "default", "missing", PatchType::kMerge, json::object()); }),
                    Contains("not found"));
}

TEST_CASE("client: status subresource update of a custom resource", "[client]") {
  Cluster k;
  k.emu.LoadCrdsYaml(kWidgetCrd);
  ApiResource w = k.Resolve("example.com/v1", "Widget");
  json obj = {{"metadata", {{"name", "w1"}}}, {"spec", {{"size", 3}}}, {"status", {{"phase", "Ignored"}}}};
  json created = k.Run([&](Client& c) { return c.Create(w, "default", obj); });
  CHECK_FALSE(created.contains("status"));  // dropped on create with a status subresource
  created["status"] = {{"phase", "Ready"}};
  json with_status = k.Run([&](Client& c) { return c.Update(w, created, {}, "status"); });
  CHECK(with_status["status"]["phase"] == "Ready");
  CHECK(with_status["metadata"]["generation"] == 1);
  json again = k.Run([&](Client& c) {
    return c.Patch(w, "default", "w1", PatchType::kMerge, json{{"status", {{"phase", "Done"}}}},
                   {.subresource = "status"});
  });
  CHECK(again["status"]["phase"] == "Done");
}

TEST_CASE("client: list pages with limit and continue, ListAll follows them", "[client]") {
  Cluster k;
  ApiResource cm = k.Resolve("v1", "ConfigMap");
  for (int i = 0; i < 7; ++i) {
    json obj = ConfigMap("cm-" + std::to_string(i));
    obj["metadata"]["labels"] = {{"group", i % 2 ? "odd" : "even"}};
    k.Run([&](Client& c) { return c.Create(cm, "default", obj); });
  }
  json page = k.Run([&](Client& c) { return c.List(cm, "default", {.limit = 3}); });
  CHECK(page["items"].size() == 3);
  std::string token = page["metadata"].value("continue", "");
  REQUIRE_FALSE(token.empty());
  json page2 = k.Run([&](Client& c) { return c.List(cm, "default", {.limit = 3, .continue_token = token}); });
  CHECK(page2["items"].size() == 3);
  CHECK(page2["items"][0]["metadata"]["name"] != page["items"][0]["metadata"]["name"]);

  json all = k.Run([&](Client& c) { return c.ListAll(cm, "default", {.limit = 2}); });
  CHECK(all["items"].size() >= 7);  // kube-root-ca.crt may be there too
  CHECK_FALSE(all["metadata"].contains("continue"));
  CHECK(all["metadata"]["resourceVersion"].is_string());

  json odd = k.Run([&](Client& c) { return c.ListAll(cm, "default", {.label_selector = "group=odd"}); });
  CHECK(odd["items"].size() == 3);
  json one = k.Run([&](Client& c) { return c.List(cm, "", {.field_selector = "metadata.name=cm-4"}); });
  REQUIRE(one["items"].size() == 1);
  CHECK(one["items"][0]["metadata"]["namespace"] == "default");
}

TEST_CASE("client: watch delivers changes, ends at timeoutSeconds, resumes from the last version", "[client][watch]") {
  Cluster k;
  ApiResource cm = k.Resolve("v1", "ConfigMap");
  json list = k.Run([&](Client& c) { return c.List(cm, "default"); });
  std::string rv = Rv(list);
  k.Run([&](Client& c) { return c.Create(cm, "default", ConfigMap("w", {{"v", "1"}})); });
  k.Run([&](Client& c) { return c.Patch(cm, "default", "w", PatchType::kMerge, json{{"data", {{"v", "2"}}}}); });
  k.Run([&](Client& c) { return c.Delete(cm, "default", "w"); });

  // A short server-side timeout: the stream ends cleanly after the three events.
  std::vector<WatchEvent> events = k.Run([&](Client& c) -> asio::awaitable<std::vector<WatchEvent>> {
    std::string ns = "default";
    ListOptions options{.resource_version = rv, .timeout_seconds = 1, .allow_bookmarks = false};
    auto w = co_await c.Watch(cm, ns, options);
    std::vector<WatchEvent> out;
    while (auto e = co_await w->Next()) out.push_back(std::move(*e));
    co_return out;
  });
  REQUIRE(events.size() == 3);
  CHECK(events[0].type == WatchEvent::Type::kAdded);
  CHECK(events[1].type == WatchEvent::Type::kModified);
  CHECK(events[1].object["data"]["v"] == "2");
  CHECK(events[2].type == WatchEvent::Type::kDeleted);
  std::string last = Rv(events[2].object);

  // Resume from the last version seen: only what happened since.
  k.Run([&](Client& c) { return c.Create(cm, "default", ConfigMap("after")); });
  std::vector<WatchEvent> resumed = k.Run([&](Client& c) -> asio::awaitable<std::vector<WatchEvent>> {
    std::string ns = "default";
    ListOptions options{.resource_version = last, .timeout_seconds = 1, .allow_bookmarks = false};
    auto w = co_await c.Watch(cm, ns, options);
    std::vector<WatchEvent> out;
    while (auto e = co_await w->Next()) out.push_back(std::move(*e));
    co_return out;
  });
  REQUIRE(resumed.size() == 1);
  CHECK(resumed[0].type == WatchEvent::Type::kAdded);
  CHECK(resumed[0].object["metadata"]["name"] == "after");
}

TEST_CASE("client: a too old resourceVersion is a 410 ERROR event, relist and watch again", "[client][watch]") {
  EmulatorOptions options;
  options.watch_history = 3;
  Cluster k(options);
  ApiResource cm = k.Resolve("v1", "ConfigMap");
  std::string old_rv = Rv(k.Run([&](Client& c) { return c.List(cm, "default"); }));
  for (int i = 0; i < 10; ++i) k.Run([&](Client& c) { return c.Create(cm, "default", ConfigMap("c" + std::to_string(i))); });

  auto first = k.Run([&](Client& c) -> asio::awaitable<std::optional<WatchEvent>> {
    std::string ns = "default";
    ListOptions o{.resource_version = old_rv, .timeout_seconds = 5};
    auto w = co_await c.Watch(cm, ns, o);
    co_return co_await w->Next();
  });
  REQUIRE(first);
  REQUIRE(first->type == WatchEvent::Type::kError);
  core::ApiError expired = core::ApiError::FromResponse(first->object.value("code", 0), first->object.dump());
  CHECK(expired.IsExpired());

  json relisted = k.Run([&](Client& c) { return c.ListAll(cm, "default"); });
  CHECK(relisted["items"].size() >= 10);
  std::string fresh = Rv(relisted);
  k.Run([&](Client& c) { return c.Create(cm, "default", ConfigMap("late")); });
  auto next = k.Run([&](Client& c) -> asio::awaitable<std::optional<WatchEvent>> {
    std::string ns = "default";
    ListOptions o{.resource_version = fresh, .timeout_seconds = 5, .allow_bookmarks = false};
    auto w = co_await c.Watch(cm, ns, o);
    co_return co_await w->Next();
  });
  REQUIRE(next);
  CHECK(next->type == WatchEvent::Type::kAdded);
  CHECK(next->object["metadata"]["name"] == "late");
}

TEST_CASE("client: GetPath reads /version and discovery", "[client]") {
  Cluster k;
  json version = k.Run([](Client& c) { return c.GetPath("/version"); });
  CHECK(version["gitVersion"].get<std::string>().starts_with("v1."));
  json api = k.Run([](Client& c) { return c.GetPath("/api"); });
  CHECK(api["kind"] == "APIVersions");
  CHECK(k.client->default_namespace() == "default");
}

// --- TLS and authentication -----------------------------------------------------------------

json GetVersion(Cluster& k, RestConfig config) {
  auto client = MakeHttpClient(k.ioc.get_executor(), std::move(config), TestOptions());
  return RunCo<json>(k.ioc, [client] { return client->GetPath("/api/v1/namespaces"); });
}

TEST_CASE("client: TLS verified against the kubeconfig CA, a wrong CA is refused", "[client][tls]") {
  Cluster k({.tls = true});
  REQUIRE(k.config.server.starts_with("https://"));
  CHECK(GetVersion(k, k.config)["kind"] == "NamespaceList");

  RestConfig wrong = k.config;
  wrong.ca_data = sandbox::GenerateCerts().ca_pem;
  ClientOptions o = TestOptions();
  o.max_retries = 0;
  auto client = MakeHttpClient(k.ioc.get_executor(), wrong, o);
  try {
    RunCo<json>(k.ioc, [client] { return client->GetPath("/version"); });
    FAIL("a server signed by another CA was trusted");
  } catch (const core::ApiError& e) {
    CHECK(e.code() == 0);
    CHECK_THAT(e.message(), Contains("TLS handshake") && Contains("certificate verify failed"));
  }

  RestConfig insecure = k.config;
  insecure.ca_data.clear();
  insecure.insecure_skip_tls_verify = true;
  CHECK(GetVersion(k, insecure)["kind"] == "NamespaceList");

  // The name checked against the certificate is tls-server-name when given.
  RestConfig misnamed = k.config;
  misnamed.tls_server_name = "not-the-server.example";
  auto c2 = MakeHttpClient(k.ioc.get_executor(), misnamed, o);
  CHECK_THROWS_WITH(RunCo<json>(k.ioc, [c2] { return c2->GetPath("/version"); }), Contains("certificate verify failed"));

  // A CA that is not PEM is a configuration error before any connection.
  RestConfig garbage = k.config;
  garbage.ca_data = "not a certificate";
  CHECK_THROWS_AS(MakeHttpClient(k.ioc.get_executor(), garbage, o), ConfigError);
}

TEST_CASE("client: bearer token auth, and a rotated token file is picked up", "[client][auth]") {
  Cluster k({.auth = "token"});
  CHECK(GetVersion(k, k.config)["kind"] == "NamespaceList");

  RestConfig anonymous = k.config;
  anonymous.token.clear();
  try {
    GetVersion(k, anonymous);
    FAIL("anonymous request accepted");
  } catch (const core::ApiError& e) {
    CHECK(e.code() == 401);
  }

  testing::TempDir tmp;
  tmp.Write("token", "stale-token");
  RestConfig from_file = anonymous;
  from_file.token_file = tmp.File("token");
  from_file.token_file_refresh = std::chrono::seconds(3600);
  auto client = MakeHttpClient(k.ioc.get_executor(), from_file, TestOptions());
  auto list = [client] { return client->GetPath("/api/v1/namespaces"); };
  CHECK_THROWS_AS(RunCo<json>(k.ioc, list), core::ApiError);
  tmp.Write("token", k.emu.token() + "\n");  // the kubelet rotates the projected token
  CHECK(RunCo<json>(k.ioc, list)["kind"] == "NamespaceList");
}

TEST_CASE("client: exec plugin token against a token-auth server", "[client][auth][exec]") {
  Cluster k({.auth = "token"});
  testing::TempDir tmp;
  tmp.Write("cred.sh", "#!/bin/sh\necho '{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\","
                       "\"status\":{\"token\":\"" + k.emu.token() + "\",\"expirationTimestamp\":\"2099-01-01T00:00:00Z\"}}'\n");
  chmod(tmp.File("cred.sh").c_str(), 0755);
  RestConfig rc = k.config;
  rc.token.clear();
  rc.exec = ExecConfig{.command = tmp.File("cred.sh")};
  CHECK(GetVersion(k, rc)["kind"] == "NamespaceList");
}

TEST_CASE("client: client certificate auth over TLS", "[client][auth][tls]") {
  Cluster k({.tls = true, .auth = "cert"});
  REQUIRE_FALSE(k.config.client_cert_data.empty());
  CHECK(GetVersion(k, k.config)["kind"] == "NamespaceList");

  testing::TempDir tmp;
  tmp.Write("client.crt", k.emu.client_cert_pem());
  tmp.Write("client.key", k.emu.client_key_pem());
  RestConfig files = k.config;
  files.client_cert_data.clear();
  files.client_key_data.clear();
  files.client_cert_file = tmp.File("client.crt");
  files.client_key_file = tmp.File("client.key");
  CHECK(GetVersion(k, files)["kind"] == "NamespaceList");

  RestConfig without = k.config;
  without.client_cert_data.clear();
  without.client_key_data.clear();
  ClientOptions o = TestOptions();
  o.max_retries = 0;
  auto client = MakeHttpClient(k.ioc.get_executor(), without, o);
  try {
    RunCo<json>(k.ioc, [client] { return client->GetPath("/api/v1/namespaces"); });
    FAIL("no client certificate, yet accepted");
  } catch (const core::ApiError& e) {
    CHECK((e.code() == 401 || e.code() == 403 || e.code() == 0));
  }
}

TEST_CASE("client: exec plugin client certificate over TLS", "[client][auth][tls][exec]") {
  Cluster k({.tls = true, .auth = "cert"});
  json credential = {{"kind", "ExecCredential"},
                     {"apiVersion", "client.authentication.k8s.io/v1"},
                     {"status", {{"clientCertificateData", k.emu.client_cert_pem()},
                                 {"clientKeyData", k.emu.client_key_pem()}}}};
  testing::TempDir tmp;
  tmp.Write("credential.json", credential.dump());
  tmp.Write("cred.sh", "#!/bin/sh\ncat '" + tmp.File("credential.json") + "'\n");
  chmod(tmp.File("cred.sh").c_str(), 0755);
  RestConfig rc = k.config;
  rc.client_cert_data.clear();
  rc.client_key_data.clear();
  rc.exec = ExecConfig{.command = tmp.File("cred.sh")};
  CHECK(GetVersion(k, rc)["kind"] == "NamespaceList");
}

}  // namespace
}  // namespace sluice::kube
