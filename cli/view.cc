#include "cli/view.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "api/canary_spec.h"
#include "api/canary_types.h"
#include "core/json_fields.h"
#include "routing/router.h"

namespace sluice::cli {
namespace {

using nlohmann::json;

using core::Str;

std::string Age(const std::string& timestamp, core::TimePoint now) {
  auto t = core::ParseTime(timestamp);
  if (!t) return "<unknown>";
  return core::HumanAge(std::chrono::duration_cast<std::chrono::seconds>(now - *t));
}

const json* FindCondition(const json& object, const std::string& type) {
  const json& status = core::Object(object, "status");
  auto it = status.find("conditions");
  if (it == status.end() || !it->is_array()) return nullptr;
  for (const auto& c : *it)
    if (Str(c, "type") == type) return &c;
  return nullptr;
}

// Pads every column to its widest cell, with three spaces between columns (kubectl's look).
std::string Table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) {
      if (widths.size() <= i) widths.push_back(0);
      widths[i] = std::max(widths[i], row[i].size());
    }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 3, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string ShortRevision(const std::string& revision) {
  return revision.size() > 12 ? revision.substr(0, 12) : revision;
}

std::string FormatNumber(double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", value);
  return buf;
}

std::string EventTime(const json& event) {
  for (const char* key : {"lastTimestamp", "eventTime", "firstTimestamp"}) {
    std::string t = Str(event, key);
    if (!t.empty()) return t;
  }
  return Str(core::Object(event, "metadata"), "creationTimestamp");
}

// Builds the tree's lines: "├── " for inner entries, "└── " for the last of a level.
class Tree {
 public:
  void Add(int depth, const std::string& text) { lines_.push_back({depth, text}); }
  std::string Render(const std::string& root) const {
    std::string out = root + "\n";
    for (size_t i = 0; i < lines_.size(); ++i) {
      std::string prefix;
      for (int d = 0; d < lines_[i].depth; ++d) prefix += HasLaterAt(i, d) ? "│   " : "    ";
      prefix += IsLastAt(i) ? "└── " : "├── ";
      out += prefix + lines_[i].text + "\n";
    }
    return out;
  }

 private:
  struct Line {
    int depth;
    std::string text;
  };
  // Whether a later line continues level `depth` before the tree climbs above it.
  bool HasLaterAt(size_t i, int depth) const {
    for (size_t j = i + 1; j < lines_.size(); ++j) {
      if (lines_[j].depth < depth) return false;
      if (lines_[j].depth == depth) return true;
    }
    return false;
  }
  bool IsLastAt(size_t i) const { return !HasLaterAt(i, lines_[i].depth); }
  std::vector<Line> lines_;
};

void AddRollout(Tree& tree, const json& canary, core::TimePoint now) {
  const json& spec = core::Object(canary, "spec");
  const json& status = core::Object(canary, "status");
  const json& analysis = core::Object(spec, "analysis");
  auto parsed = api::ParseCanarySpec(canary, routing::RouterRegistry::Builtin().Providers());
  const auto* valid = std::get_if<api::CanarySpec>(&parsed);
  std::string strategy = valid ? api::ToString(valid->strategy()) : "invalid spec";
  const json& target = core::Object(spec, "targetRef");
  tree.Add(0, "Target: " + Str(target, "kind") + "/" + Str(target, "name") + " (provider " +
                  (Str(spec, "provider").empty() ? api::kDefaultProvider : Str(spec, "provider")) + ", " + strategy + ")");
  std::string phase = Str(status, "phase").empty() ? "Unknown" : Str(status, "phase");
  std::string since = Str(status, "lastTransitionTime");
  tree.Add(0, "Phase: " + phase + (since.empty() ? "" : " for " + Age(since, now)) +
                  (spec.value("suspend", false) ? " (suspended)" : ""));
  int weight = status.value("canaryWeight", 0);
  std::string weight_line = "Weight: " + WeightBar(weight) + " " + std::to_string(weight) + "%";
  if (valid && valid->strategy() == api::Strategy::kCanary) {
    weight_line += " of max " + std::to_string(valid->EffectiveMaxWeight());
    if (valid->analysis.step_weight > 0) weight_line += ", step " + std::to_string(valid->analysis.step_weight);
  }
  tree.Add(0, weight_line);
  tree.Add(0, "Failed checks: " + std::to_string(status.value("failedChecks", 0)) + " of threshold " +
                  std::to_string(analysis.value("threshold", 5)) + ", interval " +
                  (Str(analysis, "interval").empty() ? "1m" : Str(analysis, "interval")));
  if (analysis.contains("iterations"))
    tree.Add(0, "Iterations: " + std::to_string(status.value("iterations", 0)) + "/" +
                    std::to_string(analysis.value("iterations", 0)));
  std::string applied = Str(status, "lastAppliedSpec"), promoted = Str(status, "lastPromotedSpec");
  if (!applied.empty() || !promoted.empty())
    tree.Add(0, "Revision: " + (applied == promoted ? "primary runs " + ShortRevision(promoted)
                                                    : "testing " + ShortRevision(applied) + ", primary runs " +
                                                          (promoted.empty() ? "none yet" : ShortRevision(promoted))));
}

void AddMetrics(Tree& tree, const json& canary) {
  const json& status = core::Object(canary, "status");
  auto it = status.find("metrics");
  if (it == status.end() || !it->is_array() || it->empty()) return;
  tree.Add(0, "Metrics");
  for (const auto& m : *it) {
    std::string value = m.contains("value") && m["value"].is_number() ? FormatNumber(m["value"].get<double>()) : "-";
    std::string line = Str(m, "name") + ": " + value + " " + Str(m, "verdict");
    if (!Str(m, "message").empty()) line += " (" + Str(m, "message") + ")";
    tree.Add(1, line);
  }
}

void AddConditions(Tree& tree, const json& object) {
  const json& status = core::Object(object, "status");
  auto it = status.find("conditions");
  if (it == status.end() || !it->is_array() || it->empty()) return;
  tree.Add(0, "Conditions");
  for (const auto& c : *it) {
    std::string line = Str(c, "type") + "=" + Str(c, "status");
    if (!Str(c, "reason").empty()) line += " " + Str(c, "reason");
    if (!Str(c, "message").empty()) line += ": " + Str(c, "message");
    tree.Add(1, line);
  }
}

void AddRequests(Tree& tree, const json& canary, core::TimePoint now) {
  std::vector<std::string> lines;
  const json& annotations = core::Object(core::Object(canary, "metadata"), "annotations");
  for (const char* verb : {"abort", "promote", "retry", "reconcile"}) {
    std::string key = std::string("sluice.dev/") + verb;
    if (annotations.contains(key)) lines.push_back(std::string(verb) + ": pending (" + Str(annotations, key) + ")");
  }
  const json& answered = core::Object(core::Object(canary, "status"), "requests");
  for (const auto& [verb, r] : answered.items()) {
    std::string line = verb + ": " + Str(r, "outcome");
    if (!Str(r, "value").empty()) line += " (value \"" + Str(r, "value") + "\")";
    if (!Str(r, "time").empty()) line += ", " + Age(Str(r, "time"), now) + " ago";
    lines.push_back(line);
  }
  if (lines.empty()) return;
  tree.Add(0, "Requests");
  for (const auto& l : lines) tree.Add(1, l);
}

void AddEvents(Tree& tree, std::vector<json> events, core::TimePoint now, size_t max_events) {
  if (events.empty()) return;
  std::stable_sort(events.begin(), events.end(), [](const json& a, const json& b) {
    return core::ParseTime(EventTime(a)).value_or(core::TimePoint{}) <
           core::ParseTime(EventTime(b)).value_or(core::TimePoint{});
  });
  size_t first = events.size() > max_events ? events.size() - max_events : 0;
  tree.Add(0, "Events" + (first > 0 ? " (newest " + std::to_string(max_events) + ")" : std::string()));
  for (size_t i = first; i < events.size(); ++i) {
    const json& e = events[i];
    std::string line = Age(EventTime(e), now) + " " + Str(e, "type") + " " + Str(e, "reason") + ": " + Str(e, "message");
    int count = e.value("count", 1);
    if (count > 1) line += " (x" + std::to_string(count) + ")";
    tree.Add(1, line);
  }
}

}  // namespace

std::string WeightBar(int weight, int width) {
  weight = std::clamp(weight, 0, 100);
  int filled = static_cast<int>(std::lround(weight * width / 100.0));
  std::string bar = "[";
  for (int i = 0; i < width; ++i) bar += i < filled ? "█" : "░";
  return bar + "]";
}

std::string CanaryTable(const std::vector<json>& canaries, bool all_namespaces) {
  if (canaries.empty()) return "";
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header = {"NAME", "STATUS", "WEIGHT", "FAILEDCHECKS", "LASTTRANSITION"};
  if (all_namespaces) header.insert(header.begin(), "NAMESPACE");
  rows.push_back(header);
  for (const auto& c : canaries) {
    const json& status = core::Object(c, "status");
    std::vector<std::string> row = {Str(core::Object(c, "metadata"), "name"),
                                    Str(status, "phase").empty() ? "<none>" : Str(status, "phase"),
                                    std::to_string(status.value("canaryWeight", 0)),
                                    std::to_string(status.value("failedChecks", 0)),
                                    Str(status, "lastTransitionTime").empty() ? "<none>" : Str(status, "lastTransitionTime")};
    if (all_namespaces) row.insert(row.begin(), Str(core::Object(c, "metadata"), "namespace"));
    rows.push_back(row);
  }
  return Table(rows);
}

std::string GitOpsTable(const std::vector<json>& objects, bool all_namespaces, core::TimePoint now) {
  if (objects.empty()) return "";
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header = {"NAME", "READY", "STATUS", "REVISION", "AGE"};
  if (all_namespaces) header.insert(header.begin(), "NAMESPACE");
  rows.push_back(header);
  for (const auto& o : objects) {
    const json* ready = FindCondition(o, "Ready");
    const json& status = core::Object(o, "status");
    std::string revision = Str(core::Object(status, "artifact"), "revision");
    if (revision.empty()) revision = Str(status, "lastAppliedRevision");
    std::vector<std::string> row = {Str(core::Object(o, "metadata"), "name"), ready ? Str(*ready, "status") : "Unknown",
                                    ready ? Str(*ready, "message") : "", revision.empty() ? "<none>" : revision,
                                    Age(Str(core::Object(o, "metadata"), "creationTimestamp"), now)};
    if (all_namespaces) row.insert(row.begin(), Str(core::Object(o, "metadata"), "namespace"));
    rows.push_back(row);
  }
  return Table(rows);
}

std::string CanaryStatusTree(const json& canary, const std::vector<json>& events, core::TimePoint now,
                             size_t max_events) {
  const json& meta = core::Object(canary, "metadata");
  Tree tree;
  AddRollout(tree, canary, now);
  AddMetrics(tree, canary);
  AddConditions(tree, canary);
  AddRequests(tree, canary, now);
  AddEvents(tree, events, now, max_events);
  return tree.Render("Canary " + Str(meta, "namespace") + "/" + Str(meta, "name"));
}

}  // namespace sluice::cli
