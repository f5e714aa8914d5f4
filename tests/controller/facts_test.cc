#include <catch2/catch.hpp>

#include "controller/canary/facts.h"

using namespace sluice::canary;
using namespace sluice::api;
using namespace sluice::analysis;

TEST_CASE("deployment readiness follows kubectl rollout status", "[facts]") {
  json d = json::parse(R"({"metadata": {"generation": 2}, "spec": {"replicas": 2},
    "status": {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}})");
  CHECK_FALSE(ReadinessOf(d).ready);
  CHECK_THAT(ReadinessOf(d).message, Catch::Contains("generation 2"));
  d["status"]["observedGeneration"] = 2;
  CHECK(ReadinessOf(d).ready);
  d["status"]["availableReplicas"] = 1;
  CHECK_FALSE(ReadinessOf(d).ready);
  CHECK(ReadinessOf(d, 50).ready);
  d["status"]["replicas"] = 3;
  CHECK_THAT(ReadinessOf(d).message, Catch::Contains("old replicas"));
  d["status"]["conditions"] = json::parse(R"([{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}])");
  CHECK(ReadinessOf(d).deadline_exceeded);
}

TEST_CASE("request annotations are read in a fixed order", "[facts]") {
  json c = json::parse(R"({"metadata": {"annotations": {"sluice.dev/retry": "x", "sluice.dev/abort": "bad", "other": "y"}}})");
  auto r = RequestsFromAnnotations(c);
  REQUIRE(r.size() == 2);
  CHECK(r[0].kind == RequestKind::kAbort);
  CHECK(r[0].value == "bad");
  CHECK(r[1].kind == RequestKind::kRetry);
  CHECK(RequestsFromAnnotations(json::object()).empty());
}
