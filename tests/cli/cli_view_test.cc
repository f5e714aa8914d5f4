// The layout of `sluice get` and `sluice status`, from objects as the API returns them.
#include <catch2/catch.hpp>

#include "cli/view.h"

using nlohmann::json;
using Catch::Matchers::Contains;
using sluice::cli::CanaryStatusTree;
using sluice::cli::CanaryTable;
using sluice::cli::GitOpsTable;
using sluice::cli::WeightBar;

namespace {

const auto kNow = *sluice::core::ParseTime("2026-11-26T10:00:00Z");

json Progressing() {
  return json::parse(R"({
    "apiVersion": "sluice.dev/v1beta1", "kind": "Canary",
    "metadata": {"name": "podinfo", "namespace": "shop",
                 "annotations": {"sluice.dev/promote": "2026-11-26T09:59:59Z"}},
    "spec": {"provider": "gatewayapi", "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
             "service": {"port": 9898},
             "analysis": {"interval": "30s", "threshold": 3, "stepWeight": 10, "maxWeight": 50}},
    "status": {"phase": "Progressing", "canaryWeight": 30, "failedChecks": 1,
               "lastTransitionTime": "2026-11-26T09:58:00Z",
               "lastAppliedSpec": "5f2c0aa1b2c3d4e5", "lastPromotedSpec": "9a1b0000ffff",
               "metrics": [{"name": "request-success-rate", "value": 99.25, "verdict": "Pass", "message": "99.25 >= 99"},
                           {"name": "request-duration", "verdict": "NoData", "message": "no samples"}],
               "conditions": [{"type": "Ready", "status": "Unknown", "reason": "Progressing", "message": "canary weight 30"}],
               "requests": {"abort": {"value": "bad", "outcome": "aborted revision 111", "time": "2026-11-26T09:00:00Z"}}}
  })");
}

json Event(const std::string& time, const std::string& reason, const std::string& message) {
  return {{"type", "Normal"}, {"reason", reason}, {"message", message}, {"lastTimestamp", time}, {"count", 1}};
}

}  // namespace

TEST_CASE("cli: the weight bar fills in proportion and clamps", "[cli]") {
  CHECK(WeightBar(0, 4) == "[░░░░]");
  CHECK(WeightBar(50, 4) == "[██░░]");
  CHECK(WeightBar(100, 4) == "[████]");
  CHECK(WeightBar(140, 4) == "[████]");
  CHECK(WeightBar(-5, 4) == "[░░░░]");
}

TEST_CASE("cli: canaries table with and without the namespace column", "[cli]") {
  std::string table = CanaryTable({Progressing()}, false);
  CHECK(table.rfind("NAME      STATUS        WEIGHT   FAILEDCHECKS   LASTTRANSITION\n", 0) == 0);
  CHECK_THAT(table, Contains("podinfo   Progressing   30       1              2026-11-26T09:58:00Z"));
  CHECK_THAT(CanaryTable({Progressing()}, true), Contains("shop        podinfo"));
  CHECK(CanaryTable({}, false).empty());
  json bare = {{"metadata", {{"name", "new"}}}};
  CHECK_THAT(CanaryTable({bare}, false), Contains("new    <none>"));
}

TEST_CASE("cli: gitops table shows readiness and revision", "[cli]") {
  json repo = json::parse(R"({"metadata": {"name": "app", "namespace": "flux", "creationTimestamp": "2026-11-26T09:00:00Z"},
    "status": {"artifact": {"revision": "main@sha1:abc"},
               "conditions": [{"type": "Ready", "status": "True", "message": "stored artifact"}]}})");
  std::string table = GitOpsTable({repo}, false, kNow);
  CHECK_THAT(table, Contains("app    True    stored artifact   main@sha1:abc   60m"));
}

TEST_CASE("cli: status tree of a progressing canary", "[cli]") {
  std::vector<json> events = {Event("2026-11-26T09:59:50Z", "Advance", "canary weight 30"),
                              Event("2026-11-26T09:58:00Z", "Synced", "new revision 5f2c")};
  std::string tree = CanaryStatusTree(Progressing(), events, kNow);
  INFO(tree);
  CHECK(tree.rfind("Canary shop/podinfo\n", 0) == 0);
  CHECK_THAT(tree, Contains("├── Target: Deployment/podinfo (provider gatewayapi, canary)"));
  CHECK_THAT(tree, Contains("├── Phase: Progressing for 2m"));
  CHECK_THAT(tree, Contains("├── Weight: [██████░░░░░░░░░░░░░░] 30% of max 50, step 10"));
  CHECK_THAT(tree, Contains("├── Failed checks: 1 of threshold 3, interval 30s"));
  CHECK_THAT(tree, Contains("├── Revision: testing 5f2c0aa1b2c3, primary runs 9a1b0000ffff"));
  CHECK_THAT(tree, Contains("│   ├── request-success-rate: 99.25 Pass (99.25 >= 99)"));
  CHECK_THAT(tree, Contains("│   └── request-duration: - NoData (no samples)"));
  CHECK_THAT(tree, Contains("│   └── Ready=Unknown Progressing: canary weight 30"));
  CHECK_THAT(tree, Contains("│   ├── promote: pending (2026-11-26T09:59:59Z)"));
  CHECK_THAT(tree, Contains("│   └── abort: aborted revision 111 (value \"bad\"), 60m ago"));
  // Events oldest first, and the last branch closes the tree.
  CHECK(tree.find("Synced") < tree.find("Advance"));
  CHECK_THAT(tree, Contains("└── Events\n    ├── 2m Normal Synced: new revision 5f2c\n    └── 10s Normal Advance: canary weight 30\n"));
}

TEST_CASE("cli: status tree keeps only the newest events and survives a bare object", "[cli]") {
  std::vector<json> events;
  for (int i = 0; i < 12; ++i)
    events.push_back(Event("2026-11-26T09:59:" + std::string(i < 10 ? "0" : "") + std::to_string(i) + "Z", "E" + std::to_string(i), "m"));
  std::string tree = CanaryStatusTree(Progressing(), events, kNow, 3);
  CHECK_THAT(tree, Contains("Events (newest 3)"));
  CHECK(tree.find("E8:") == std::string::npos);
  CHECK_THAT(tree, Contains("E11: m"));
  std::string bare = CanaryStatusTree(json::object(), {}, kNow);
  CHECK_THAT(bare, Contains("Phase: Unknown"));
}
