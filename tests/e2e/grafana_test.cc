// deploy/grafana/sluice-rollouts.json against real data: during a sandbox rollout, every
// panel's queries (template variables substituted) parse in the sandbox's Prometheus and
// return series, and so do the template variables' own queries.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <regex>
#include <set>

#include "tests/support/fixtures.h"
#include "tests/support/process.h"
#include "tests/support/skip.h"

using nlohmann::json;
using sluice::testing::BackgroundProcess;
using sluice::testing::ReadFile;
using sluice::testing::Run;

namespace {

struct Query {
  std::string where;  // "panel 3 (Phase)" or "variable canary"
  std::string expr;
  std::string label;  // for label_values(): the label the series must carry
};

std::string Substitute(std::string expr) {
  // Values the sandbox's example app has, and the intervals Grafana would fill in.
  const std::vector<std::pair<std::string, std::string>> vars = {
      {"${namespace}", "demo"}, {"$namespace", "demo"},      {"${canary}", "podinfo"}, {"$canary", "podinfo"},
      {"$__rate_interval", "1m"}, {"$__interval", "15s"}, {"$__range", "1h"}};
  for (const auto& [from, to] : vars)
    for (size_t at = expr.find(from); at != std::string::npos; at = expr.find(from, at + to.size()))
      expr.replace(at, from.size(), to);
  return expr;
}

void CollectPanels(const json& panels, std::vector<Query>& out) {
  for (const auto& p : panels) {
    if (p.contains("panels")) CollectPanels(p["panels"], out);  // rows
    for (const auto& t : p.value("targets", json::array()))
      out.push_back({"panel " + std::to_string(p.value("id", 0)) + " (" + p.value("title", "") + ")",
                     Substitute(t.at("expr").get<std::string>()), ""});
  }
}

std::vector<Query> DashboardQueries(const json& dashboard) {
  std::vector<Query> out;
  CollectPanels(dashboard.at("panels"), out);
  std::regex label_values(R"(^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$)");
  for (const auto& v : dashboard["templating"]["list"]) {
    if (v.value("type", "") != "query") continue;
    std::string q = v["query"].is_object() ? v["query"].value("query", "") : v["query"].get<std::string>();
    std::smatch m;
    REQUIRE(std::regex_match(q, m, label_values));
    out.push_back({"variable " + v.value("name", ""), Substitute(m[1].str()), m[2].str()});
  }
  return out;
}

// "" when the query returned series (carrying `label` when given), else why not.
std::string Check(const std::string& prometheus, const Query& q, bool& parse_error) {
  auto r = Run({"curl", "-sS", "--max-time", "5", "-G", prometheus + "/api/v1/query", "--data-urlencode",
                "query=" + q.expr},
               {}, std::chrono::seconds(10));
  if (r.exit_code != 0) return "curl: " + r.err;
  json body = json::parse(r.out, nullptr, false);
  if (body.is_discarded()) return "not JSON: " + r.out;
  if (body.value("status", "") != "success") {
    parse_error = body.value("errorType", "") == "bad_data";
    return body.value("errorType", "") + ": " + body.value("error", "");
  }
  const json& result = body["data"]["result"];
  if (!result.is_array() || result.empty()) return "no series";
  if (!q.label.empty()) {
    for (const auto& s : result)
      if (s["metric"].contains(q.label)) return "";
    return "no series with the label " + q.label;
  }
  return "";
}

}  // namespace

TEST_CASE("every Grafana panel query parses and returns series during a sandbox rollout", "[e2e][grafana]") {
  if (access("/usr/bin/prometheus", X_OK) != 0 || !sluice::testing::CrdFixtureDir() || access("/usr/bin/curl", X_OK) != 0)
    SLUICE_SKIP("needs Debian's prometheus, curl and the Gateway API CRD fixtures");
  json dashboard = json::parse(ReadFile(std::string(SLUICE_SOURCE_DIR) + "/deploy/grafana/sluice-rollouts.json"));
  std::vector<Query> queries = DashboardQueries(dashboard);
  REQUIRE(queries.size() >= 10);

  BackgroundProcess sandbox({SLUICE_BINARY, "sandbox", "--scenario", "default", "--keep", "--headless"});
  // The second rollout is under way once the faulty version is committed: the first one
  // finished (rollouts_total has a series), the canary is serving, metrics are analysed.
  REQUIRE(sandbox.WaitForOutput("committed", std::chrono::seconds(90)));
  REQUIRE(sandbox.WaitForOutput("faulty (30% of requests fail)\"", std::chrono::seconds(90)));
  std::smatch m;
  std::string out = sandbox.Stdout();
  REQUIRE(std::regex_search(out, m, std::regex(R"(Prometheus +(http://127\.0\.0\.1:\d+))")));
  std::string prometheus = m[1].str();

  std::map<std::string, std::string> failing;
  sluice::testing::WaitFor(
      [&] {
        failing.clear();
        for (const auto& q : queries) {
          bool parse_error = false;
          std::string why = Check(prometheus, q, parse_error);
          if (!why.empty()) failing[q.where + ": " + q.expr] = why;
          if (parse_error) return true;  // retrying will not help
        }
        return failing.empty();
      },
      std::chrono::seconds(45));
  for (const auto& [query, why] : failing) FAIL_CHECK(query << "\n  -> " << why);
  CHECK(failing.empty());
  sandbox.Stop();
  // --keep kept the work dir (logs, the Git repository); this test leaves nothing behind.
  std::smatch dir;
  out = sandbox.Stdout();
  if (std::regex_search(out, dir, std::regex(R"(work dir +(/tmp/sluice-sandbox-\S+))")))
    std::filesystem::remove_all(dir[1].str());
}
