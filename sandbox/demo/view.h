// What `sluice sandbox` shows of a rollout: one line per change of the Canary (phase, a bar
// of the canary weight, each metric's last value against its threshold) and one per new
// Event. Pure formatting over the JSON the API returns, so it is tested without a cluster.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <ostream>
#include <string>

namespace sluice::demo {

// "[#####...............]" with `width` cells; unicode blocks when `fancy`.
std::string WeightBar(int weight, int width, bool fancy);
// "request-success-rate 99.8 (min 99) Pass" for each metric of status.metrics, thresholds
// from spec.analysis.metrics; joined with " | ". Empty when there is no analysis yet.
std::string MetricsSummary(const nlohmann::json& canary);
// "Progressing  [####....]  40%  checks failed 0/2  <metrics>".
std::string StatusLine(const nlohmann::json& canary, bool fancy);
// "event Normal Synced: <message>" (Warning events marked).
std::string EventLine(const nlohmann::json& event);

class RolloutView {
 public:
  // `fancy`: colours and unicode bars (a terminal); otherwise plain text for logs and CI.
  RolloutView(std::ostream& out, bool fancy);
  // Prints a line if what the user sees of the Canary changed since the last call.
  void ShowCanary(const nlohmann::json& canary);
  // Prints the events of an EventList about the Canary that were not printed yet.
  void ShowEvents(const nlohmann::json& event_list, const std::string& canary_name);
  // A headline between scenario steps ("==> commit v2: ...").
  void Headline(const std::string& text);
  void Note(const std::string& text);

 private:
  std::string Stamp() const;
  std::ostream& out_;
  bool fancy_;
  std::chrono::steady_clock::time_point start_;
  std::string last_status_;
  std::map<std::string, int64_t> seen_events_;  // uid -> count printed
};

}  // namespace sluice::demo
