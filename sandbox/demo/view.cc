#include "sandbox/demo/view.h"

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <vector>

#include "core/json_fields.h"

namespace sluice::demo {

using nlohmann::json;

namespace {

const char* kBold = "\033[1m";
const char* kGreen = "\033[32m";
const char* kRed = "\033[31m";
const char* kYellow = "\033[33m";
const char* kDim = "\033[2m";
const char* kReset = "\033[0m";

const json& At(const json& obj, const char* key) {
  static const json kNull;
  return obj.is_object() && obj.contains(key) ? obj[key] : kNull;
}

using core::Str;

int Int(const json& obj, const char* key) {
  const json& v = At(obj, key);
  return v.is_number() ? v.get<int>() : 0;
}

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

std::string Threshold(const json& spec_metric) {
  const json& range = At(spec_metric, "thresholdRange");
  std::vector<std::string> parts;
  if (At(range, "min").is_number()) parts.push_back("min " + Num(At(range, "min").get<double>()));
  if (At(range, "max").is_number()) parts.push_back("max " + Num(At(range, "max").get<double>()));
  if (At(spec_metric, "compare").is_object()) parts.push_back("vs primary");
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

std::string PhaseColor(const std::string& phase) {
  if (phase == "Succeeded") return kGreen;
  if (phase == "Failed") return kRed;
  if (phase == "Progressing" || phase == "Promoting" || phase == "Finalising" || phase == "WaitingPromotion")
    return kYellow;
  return "";
}

}  // namespace

std::string WeightBar(int weight, int width, bool fancy) {
  weight = std::clamp(weight, 0, 100);
  int filled = (weight * width + 50) / 100;
  std::string bar = "[";
  for (int i = 0; i < width; ++i) bar += i < filled ? (fancy ? "\u2588" : "#") : (fancy ? "\u2591" : ".");
  return bar + "]";
}

std::string MetricsSummary(const json& canary) {
  const json& results = At(At(canary, "status"), "metrics");
  if (!results.is_array()) return "";
  std::map<std::string, json> specs;
  for (const auto& m : At(At(At(canary, "spec"), "analysis"), "metrics"))
    if (m.is_object()) specs[Str(m, "name")] = m;
  std::string out;
  for (const auto& r : results) {
    std::string name = Str(r, "name");
    std::string item = name + " " + (At(r, "value").is_number() ? Num(At(r, "value").get<double>()) : "-");
    std::string threshold = specs.count(name) ? Threshold(specs[name]) : "";
    if (!threshold.empty()) item += " (" + threshold + ")";
    if (!Str(r, "verdict").empty()) item += " " + Str(r, "verdict");
    out += (out.empty() ? "" : " | ") + item;
  }
  return out;
}

std::string StatusLine(const json& canary, bool fancy) {
  const json& status = At(canary, "status");
  std::string phase = Str(status, "phase").empty() ? "Pending" : Str(status, "phase");
  int weight = Int(status, "canaryWeight");
  std::ostringstream o;
  std::string padded = phase + std::string(phase.size() < 16 ? 16 - phase.size() : 1, ' ');
  if (fancy && !PhaseColor(phase).empty())
    o << PhaseColor(phase) << padded << kReset;
  else
    o << padded;
  char pct[8];
  std::snprintf(pct, sizeof pct, "%3d%%", weight);
  o << WeightBar(weight, 20, fancy) << " " << pct;
  int threshold = Int(At(At(canary, "spec"), "analysis"), "threshold");
  o << "  failed checks " << Int(status, "failedChecks") << "/" << (threshold ? threshold : 5);
  if (Int(status, "iterations")) o << "  iterations " << Int(status, "iterations");
  std::string metrics = MetricsSummary(canary);
  if (!metrics.empty()) o << "  " << metrics;
  return o.str();
}

std::string EventLine(const json& event) {
  std::string type = Str(event, "type");
  std::string reason = Str(event, "reason");
  std::string message = Str(event, "message").empty() ? Str(event, "note") : Str(event, "message");
  return "event " + type + " " + reason + ": " + message;
}

RolloutView::RolloutView(std::ostream& out, bool fancy)
    : out_(out), fancy_(fancy), start_(std::chrono::steady_clock::now()) {}

std::string RolloutView::Stamp() const {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start_).count();
  char buf[48];
  std::snprintf(buf, sizeof buf, "[%02lld:%02lld] ", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  return fancy_ ? std::string(kDim) + buf + kReset : buf;
}

void RolloutView::ShowCanary(const json& canary) {
  std::string line = StatusLine(canary, fancy_);
  if (line == last_status_) return;
  last_status_ = line;
  out_ << Stamp() << line << std::endl;
}

void RolloutView::ShowEvents(const json& event_list, const std::string& canary_name) {
  std::vector<json> fresh;
  for (const auto& e : At(event_list, "items")) {
    const json& involved = At(e, "involvedObject").is_object() ? At(e, "involvedObject") : At(e, "regarding");
    if (Str(involved, "kind") != "Canary" || Str(involved, "name") != canary_name) continue;
    std::string uid = Str(At(e, "metadata"), "uid");
    int64_t count = At(e, "count").is_number() ? At(e, "count").get<int64_t>() : 1;
    auto it = seen_events_.find(uid);
    if (it != seen_events_.end() && it->second >= count) continue;
    seen_events_[uid] = count;
    fresh.push_back(e);
  }
  auto when = [](const json& e) {
    std::string t = Str(e, "lastTimestamp");
    return t.empty() ? Str(e, "eventTime") : t;
  };
  std::stable_sort(fresh.begin(), fresh.end(), [&](const json& a, const json& b) { return when(a) < when(b); });
  for (const auto& e : fresh) {
    std::string line = "  " + EventLine(e);
    if (fancy_) line = std::string(Str(e, "type") == "Warning" ? kRed : kDim) + line + kReset;
    out_ << Stamp() << line << std::endl;
  }
}

void RolloutView::Headline(const std::string& text) {
  out_ << Stamp() << (fancy_ ? std::string(kBold) + "==> " + text + kReset : "==> " + text) << std::endl;
}

void RolloutView::Note(const std::string& text) { out_ << Stamp() << text << std::endl; }

}  // namespace sluice::demo
