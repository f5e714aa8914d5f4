#include <catch2/catch.hpp>

#include "tests/sandbox/fixture.h"

using namespace sluice::sandbox;
using namespace sluice::sandbox::testing;
using nlohmann::json;

namespace {
const std::string kCm = "/api/v1/namespaces/default/configmaps";
}

TEST_CASE("create, get, update and conflict on a ConfigMap", "[sandbox][crud]") {
  EmulatorFixture f;
  auto& c = *f.client;
  auto created = c.Post(kCm, ConfigMap("one"));
  REQUIRE(created.status == 201);
  auto obj = created.Json();
  CHECK(obj["metadata"]["uid"].get<std::string>().size() == 36);
  CHECK(obj["metadata"]["namespace"] == "default");
  CHECK(obj["metadata"]["creationTimestamp"].get<std::string>().back() == 'Z');
  std::string rv1 = Rv(obj);

  auto dup = c.Post(kCm, ConfigMap("one"));
  CHECK(dup.status == 409);
  CHECK(dup.Json()["reason"] == "AlreadyExists");

  auto got = c.Get(kCm + "/one");
  REQUIRE(got.status == 200);
  CHECK(got.Json()["data"]["k"] == "v");

  obj["data"]["k"] = "v2";
  auto updated = c.Put(kCm + "/one", obj);
  REQUIRE(updated.status == 200);
  std::string rv2 = Rv(updated.Json());
  CHECK(std::stoull(rv2) > std::stoull(rv1));

  // The stale resourceVersion is a conflict with the API's wording.
  auto stale = c.Put(kCm + "/one", obj);
  CHECK(stale.status == 409);
  CHECK(stale.Json()["reason"] == "Conflict");
  CHECK(stale.Json()["message"] ==
        "Operation cannot be fulfilled on configmaps \"one\": the object has been modified; please apply your changes "
        "to the latest version and try again");

  // A no-op write keeps the resourceVersion.
  auto same = updated.Json();
  auto noop = c.Put(kCm + "/one", same);
  REQUIRE(noop.status == 200);
  CHECK(Rv(noop.Json()) == rv2);

  CHECK(c.Get(kCm + "/missing").status == 404);
  CHECK(c.Get(kCm + "/missing").Json()["details"]["name"] == "missing");
}

TEST_CASE("generateName, namespaces and the global resourceVersion", "[sandbox][crud]") {
  EmulatorFixture f;
  auto& c = *f.client;
  json gen = {{"metadata", {{"generateName", "cm-"}}}, {"data", json::object()}};
  auto r = c.Post(kCm, gen);
  REQUIRE(r.status == 201);
  std::string name = r.Json()["metadata"]["name"];
  CHECK(name.size() == 8);
  CHECK(name.rfind("cm-", 0) == 0);

  auto missing_ns = c.Post("/api/v1/namespaces/nope/configmaps", ConfigMap("x"));
  CHECK(missing_ns.status == 404);
  CHECK(missing_ns.Json()["details"]["kind"] == "namespaces");

  auto ns = c.Post("/api/v1/namespaces", json{{"metadata", {{"name", "team-a"}}}});
  REQUIRE(ns.status == 201);
  CHECK(ns.Json()["status"]["phase"] == "Active");
  REQUIRE(c.Post("/api/v1/namespaces/team-a/configmaps", ConfigMap("a")).status == 201);
  auto all = c.Get("/api/v1/configmaps").Json();
  CHECK(all["kind"] == "ConfigMapList");
  CHECK(all["items"].size() == 2);
  auto list = c.Get("/api/v1/namespaces").Json();
  std::vector<std::string> names;
  for (auto& i : list["items"]) names.push_back(i["metadata"]["name"]);
  CHECK(std::find(names.begin(), names.end(), "default") != names.end());
  CHECK(std::find(names.begin(), names.end(), "kube-system") != names.end());

  auto bad_name = c.Post(kCm, ConfigMap("Not_Valid"));
  CHECK(bad_name.status == 422);
  CHECK(bad_name.Json()["details"]["causes"][0]["field"] == "metadata.name");
}

TEST_CASE("generation and the status subresource", "[sandbox][crud]") {
  EmulatorOptions o;
  o.deployment_ready_delay = std::chrono::hours(1);
  EmulatorFixture f(o);
  auto& c = *f.client;
  const std::string path = "/apis/apps/v1/namespaces/default/deployments";
  auto d = DeploymentObject("web");
  d["status"] = {{"replicas", 99}};
  auto created = c.Post(path, d);
  REQUIRE(created.status == 201);
  auto obj = created.Json();
  CHECK(obj["metadata"]["generation"] == 1);
  CHECK_FALSE(obj.contains("status"));

  // The Deployment simulator writes status meanwhile: these built-in updates go without a
  // resourceVersion precondition.
  auto put = [&](const std::string& p, json o) {
    o["metadata"].erase("resourceVersion");
    return c.Put(p, o);
  };
  // Metadata changes do not bump generation.
  obj = c.Get(path + "/web").Json();
  obj["metadata"]["labels"] = {{"x", "y"}};
  obj = put(path + "/web", obj).Json();
  CHECK(obj["metadata"]["generation"] == 1);

  obj["spec"]["replicas"] = 3;
  obj = put(path + "/web", obj).Json();
  CHECK(obj["metadata"]["generation"] == 2);

  // Status written through /status does not bump generation; status through the main
  // endpoint is ignored.
  obj["status"] = {{"replicas", 7}};
  auto st = put(path + "/web/status", obj);
  REQUIRE(st.status == 200);
  CHECK(st.Json()["status"]["replicas"] == 7);
  CHECK(st.Json()["metadata"]["generation"] == 2);
  auto main = st.Json();
  main["status"]["replicas"] = 1;
  main["spec"]["paused"] = true;
  auto m = put(path + "/web", main).Json();
  CHECK(m["status"]["replicas"] == 7);
  CHECK(m["metadata"]["generation"] == 3);
  // /status keeps everything but status from the stored object.
  m["spec"]["replicas"] = 10;
  m["status"]["replicas"] = 8;
  auto s2 = put(path + "/web/status", m).Json();
  CHECK(s2["spec"]["replicas"] == 3);
  CHECK(s2["status"]["replicas"] == 8);
}

TEST_CASE("list paging with limit and continue, an expired continue is 410", "[sandbox][list]") {
  EmulatorOptions o;
  o.watch_history = 10;
  EmulatorFixture f(o);
  auto& c = *f.client;
  for (int i = 0; i < 5; ++i) REQUIRE(c.Post(kCm, ConfigMap("cm-" + std::to_string(i))).status == 201);
  auto page1 = c.Get(kCm + "?limit=2").Json();
  REQUIRE(page1["items"].size() == 2);
  std::string cont = page1["metadata"]["continue"];
  CHECK(page1["metadata"]["remainingItemCount"] == 3);
  auto page2 = c.Get(kCm + "?limit=2&continue=" + cont).Json();
  REQUIRE(page2["items"].size() == 2);
  CHECK(page2["items"][0]["metadata"]["name"] == "cm-2");
  auto page3 = c.Get(kCm + "?limit=2&continue=" + std::string(page2["metadata"]["continue"])).Json();
  REQUIRE(page3["items"].size() == 1);
  CHECK_FALSE(page3["metadata"].contains("continue"));

  // Push the history past the token's resourceVersion.
  for (int i = 0; i < 12; ++i) REQUIRE(c.Post(kCm, ConfigMap("more-" + std::to_string(i))).status == 201);
  auto expired = c.Get(kCm + "?limit=2&continue=" + cont);
  CHECK(expired.status == 410);
  CHECK(expired.Json()["reason"] == "Expired");
  CHECK(c.Get(kCm + "?continue=garbage").status == 400);
}

TEST_CASE("label and field selectors on lists", "[sandbox][list]") {
  EmulatorFixture f;
  auto& c = *f.client;
  auto a = ConfigMap("a");
  a["metadata"]["labels"] = {{"app", "web"}};
  REQUIRE(c.Post(kCm, a).status == 201);
  REQUIRE(c.Post(kCm, ConfigMap("b")).status == 201);
  auto by_label = c.Get(kCm + "?labelSelector=app%3Dweb").Json();
  REQUIRE(by_label["items"].size() == 1);
  CHECK(by_label["items"][0]["metadata"]["name"] == "a");
  auto by_name = c.Get(kCm + "?fieldSelector=metadata.name%3Db").Json();
  REQUIRE(by_name["items"].size() == 1);
  CHECK(by_name["items"][0]["metadata"]["name"] == "b");
  CHECK(c.Get(kCm + "?fieldSelector=spec.foo%3Db").status == 400);
}

TEST_CASE("a body nested more than 512 levels deep is refused, not a stack overflow", "[sandbox][errors]") {
  // Every walk over an object recurses (validation, pruning, patches, writing it out): 400 KB
  // of nested "[" in a POST ended the emulator (found while fuzzing patches and schemas).
  EmulatorFixture f;
  auto& c = *f.client;
  auto body = [](int depth) {
    return R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"deep"},"x":)" + std::string(depth, '[') +
           std::string(depth, ']') + "}";
  };
  auto refused = c.Request("POST", kCm, body(200000), {{"Content-Type", "application/json"}});
  CHECK(refused.status == 400);
  CHECK(refused.Json()["message"] == "the request body is nested more than 512 levels deep");
  CHECK(c.Request("POST", kCm, body(500), {{"Content-Type", "application/json"}}).status == 201);
  auto patch = c.Request("PATCH", kCm + "/deep", "{\"x\":" + std::string(600, '[') + std::string(600, ']') + "}",
                         {{"Content-Type", "application/merge-patch+json"}});
  CHECK(patch.status == 400);
  CHECK(patch.Json()["message"] == "the patch is nested more than 512 levels deep");
  CHECK(c.Get(kCm + "/deep").status == 200);
}

TEST_CASE("bad input answers with a Status, never a crash", "[sandbox][errors]") {
  EmulatorOptions o;
  o.max_body_bytes = 1024;
  EmulatorFixture f(o);
  auto& c = *f.client;
  auto malformed = c.Request("POST", kCm, "{\"metadata\": ", {{"Content-Type", "application/json"}});
  CHECK(malformed.status == 400);
  CHECK(malformed.Json()["reason"] == "BadRequest");
  CHECK(malformed.Json()["message"].get<std::string>().find("not valid JSON") != std::string::npos);
  auto bad_yaml = c.Request("POST", kCm, "metadata: [unclosed", {{"Content-Type", "application/yaml"}});
  CHECK(bad_yaml.status == 400);
  auto not_object = c.Request("POST", kCm, "[1,2]", {{"Content-Type", "application/json"}});
  CHECK(not_object.status == 400);
  auto wrong_kind = c.Post(kCm, json{{"kind", "Secret"}, {"metadata", {{"name", "x"}}}});
  CHECK(wrong_kind.status == 400);

  auto big = c.Request("POST", kCm, std::string(4096, 'x'), {{"Content-Type", "application/json"}});
  CHECK(big.status == 413);
  CHECK(big.Json()["reason"] == "RequestEntityTooLarge");

  CHECK(c.Get("/api/v1/namespaces/default/widgets").status == 404);
  CHECK(c.Get("/apis/nope.example.com/v1/things").status == 404);
  CHECK(c.Get("/no/such/path").Json()["kind"] == "Status");
  CHECK(c.Request("POST", "/version").status == 405);
  CHECK(c.Request("POST", kCm + "/x", "{}", {{"Content-Type", "application/json"}}).status == 405);
  REQUIRE(c.Post(kCm, ConfigMap("p")).status == 201);
  auto xml = c.Request("POST", kCm, "<cm/>", {{"Content-Type", "application/xml"}});
  CHECK(xml.status == 415);
  auto bad_patch = c.Patch(kCm + "/p", "text/plain", "{}");
  CHECK(bad_patch.status == 415);
  CHECK(c.Patch(kCm + "/p", "application/merge-patch+json", "{not json").status == 400);
  // Garbage on the wire: the server answers or closes, and keeps serving others.
  std::string junk = c.Raw("GARBAGE\r\n\r\n");
  (void)junk;
  CHECK(c.Get("/healthz").status == 200);
}

TEST_CASE("YAML bodies, Secrets with stringData and Services get defaults", "[sandbox][crud]") {
  EmulatorFixture f;
  auto& c = *f.client;
  auto r = c.Request("POST", "/api/v1/namespaces/default/secrets",
                     "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  password: hunter2\n",
                     {{"Content-Type", "application/yaml"}});
  REQUIRE(r.status == 201);
  CHECK(r.Json()["data"]["password"] == "aHVudGVyMg==");
  CHECK_FALSE(r.Json().contains("stringData"));
  auto svc = c.Post("/api/v1/namespaces/default/services",
                    json{{"metadata", {{"name", "web"}}}, {"spec", {{"ports", {{{"port", 80}}}}}}});
  REQUIRE(svc.status == 201);
  CHECK(svc.Json()["spec"]["type"] == "ClusterIP");
  CHECK(svc.Json()["spec"]["ports"][0]["targetPort"] == 80);
  CHECK(svc.Json()["spec"]["clusterIP"].get<std::string>().rfind("10.96.", 0) == 0);
}

TEST_CASE("patch flavours and resourceVersion preconditions", "[sandbox][patch]") {
  EmulatorFixture f;
  auto& c = *f.client;
  auto created = c.Post(kCm, ConfigMap("p", {{"a", "1"}})).Json();
  auto merge = c.Patch(kCm + "/p", "application/merge-patch+json", R"({"data":{"b":"2"}})");
  REQUIRE(merge.status == 200);
  CHECK(merge.Json()["data"] == json{{"a", "1"}, {"b", "2"}});
  auto jp = c.Patch(kCm + "/p", "application/json-patch+json", R"([{"op":"remove","path":"/data/a"}])");
  REQUIRE(jp.status == 200);
  CHECK(jp.Json()["data"] == json{{"b", "2"}});
  auto smp = c.Patch(kCm + "/p", "application/strategic-merge-patch+json", R"({"data":{"c":"3"}})");
  REQUIRE(smp.status == 200);
  CHECK(smp.Json()["data"]["c"] == "3");
  auto pre = c.Patch(kCm + "/p", "application/merge-patch+json",
                     R"({"metadata":{"resourceVersion":")" + Rv(created) + R"("},"data":{"d":"4"}})");
  CHECK(pre.status == 409);
  CHECK(c.Patch(kCm + "/missing", "application/merge-patch+json", "{}").status == 404);

  // Server-side apply needs a field manager and creates what is missing.
  std::string body = R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"applied"},"data":{"x":"1"}})";
  CHECK(c.Patch(kCm + "/applied", "application/apply-patch+yaml", body).status == 422);
  auto applied = c.Patch(kCm + "/applied?fieldManager=tests", "application/apply-patch+yaml", body);
  REQUIRE(applied.status == 201);
  CHECK(applied.Json()["data"]["x"] == "1");
  CHECK(applied.Json()["metadata"]["managedFields"][0]["manager"] == "tests");
  auto again = c.Patch(kCm + "/applied?fieldManager=tests", "application/apply-patch+yaml",
                       R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"applied"},"data":{"x":"2"}})");
  REQUIRE(again.status == 200);
  CHECK(again.Json()["data"]["x"] == "2");
}

TEST_CASE("the scale subresource of a Deployment", "[sandbox][crud]") {
  EmulatorFixture f;
  auto& c = *f.client;
  const std::string path = "/apis/apps/v1/namespaces/default/deployments";
  REQUIRE(c.Post(path, DeploymentObject("web", 2)).status == 201);
  auto scale = c.Get(path + "/web/scale").Json();
  CHECK(scale["kind"] == "Scale");
  CHECK(scale["spec"]["replicas"] == 2);
  CHECK(scale["status"]["selector"] == "app=web");
  auto patched = c.Patch(path + "/web/scale", "application/merge-patch+json", R"({"spec":{"replicas":5}})");
  REQUIRE(patched.status == 200);
  CHECK(c.Get(path + "/web").Json()["spec"]["replicas"] == 5);
}
