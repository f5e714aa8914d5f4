#include <catch2/catch.hpp>

#include "tests/sandbox/fixture.h"

using namespace sluice::sandbox;
using namespace sluice::sandbox::testing;
using nlohmann::json;

namespace {
const std::string kDeploy = "/apis/apps/v1/namespaces/default/deployments";

std::string Condition(const json& d, const std::string& type, const char* field) {
  if (!d.contains("status") || !d["status"].contains("conditions")) return "";
  for (const auto& c : d["status"]["conditions"])
    if (c["type"] == type) return c.value(field, "");
  return "";
}
}  // namespace

TEST_CASE("a Deployment rollout becomes ready after the delay", "[sandbox][deployment]") {
  EmulatorOptions o;
  o.deployment_ready_delay = std::chrono::milliseconds(300);
  EmulatorFixture f(o);
  auto& c = *f.client;
  REQUIRE(c.Post(kDeploy, DeploymentObject("web", 3)).status == 201);
  CHECK(Eventually([&] { return Condition(c.Get(kDeploy + "/web").Json(), "Progressing", "reason") == "ReplicaSetUpdated"; },
                   std::chrono::milliseconds(250)));
  REQUIRE(Eventually([&] {
    return Condition(c.Get(kDeploy + "/web").Json(), "Progressing", "reason") == "NewReplicaSetAvailable";
  }));
  auto d = c.Get(kDeploy + "/web").Json();
  CHECK(d["status"]["observedGeneration"] == 1);
  CHECK(d["status"]["readyReplicas"] == 3);
  CHECK(d["status"]["availableReplicas"] == 3);
  CHECK(d["status"]["updatedReplicas"] == 3);
  CHECK(Condition(d, "Available", "status") == "True");

  // A spec change starts a new rollout, watched as MODIFIED events.
  auto w = c.Watch(kDeploy + "?watch=true&resourceVersion=" + Rv(d));
  d["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28";
  REQUIRE(c.Put(kDeploy + "/web", d).status == 200);
  bool saw_ready = false;
  for (int i = 0; i < 6 && !saw_ready; ++i) {
    auto ev = w->Next(std::chrono::seconds(3));
    if (!ev) break;
    saw_ready = (*ev)["object"]["status"].value("observedGeneration", 0) == 2 &&
                Condition((*ev)["object"], "Progressing", "reason") == "NewReplicaSetAvailable";
  }
  CHECK(saw_ready);
}

TEST_CASE("annotations make readiness fail or the deadline pass", "[sandbox][deployment]") {
  EmulatorOptions o;
  o.deployment_ready_delay = std::chrono::milliseconds(200);
  o.progress_deadline_scale = 0.5;
  EmulatorFixture f(o);
  auto& c = *f.client;
  auto failing = DeploymentObject("failing", 2);
  failing["metadata"]["annotations"] = {{"sandbox.sluice.dev/fail-readiness", "true"}};
  REQUIRE(c.Post(kDeploy, failing).status == 201);
  auto late = DeploymentObject("late", 1);
  late["metadata"]["annotations"] = {{"sandbox.sluice.dev/exceed-deadline", "true"}};
  late["spec"]["progressDeadlineSeconds"] = 1;
  REQUIRE(c.Post(kDeploy, late).status == 201);

  REQUIRE(Eventually([&] { return c.Get(kDeploy + "/failing").Json()["status"].value("updatedReplicas", 0) == 2; }));
  auto d = c.Get(kDeploy + "/failing").Json();
  CHECK(d["status"]["readyReplicas"] == 0);
  CHECK(d["status"]["availableReplicas"] == 0);
  CHECK(Condition(d, "Available", "status") == "False");

  REQUIRE(Eventually([&] {
    return Condition(c.Get(kDeploy + "/late").Json(), "Progressing", "reason") == "ProgressDeadlineExceeded";
  }));
  CHECK(Condition(c.Get(kDeploy + "/late").Json(), "Progressing", "status") == "False");
}
