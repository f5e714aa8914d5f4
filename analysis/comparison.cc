#include "analysis/comparison.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace sluice::analysis {

namespace {

// A percent bound (allowedIncrease / allowedDecrease): a finite number >= 0.
double ReadAllowance(const nlohmann::json& compare, const char* key, const std::string& where) {
  const nlohmann::json& value = compare.at(key);
  if (!value.is_number() || !std::isfinite(value.get<double>()) || value.get<double>() < 0) {
    throw std::invalid_argument(where + "." + key + ": expected a number of percent >= 0, got " + value.dump());
  }
  return value.get<double>();
}

std::vector<double> Values(const std::vector<Sample>& samples) {
  std::vector<double> values;
  values.reserve(samples.size());
  for (const Sample& s : samples) values.push_back(s.value);
  return values;
}

}  // namespace

CompareSampling SamplingForInterval(std::chrono::milliseconds interval, int samples) {
  if (interval <= std::chrono::milliseconds::zero() || samples < 2) {
    throw std::invalid_argument("comparison sampling: the interval (" + std::to_string(interval.count()) +
                                "ms) must be positive and the sample count (" + std::to_string(samples) +
                                ") at least 2");
  }
  return {interval * (samples - 1), interval};
}

JudgeOptions ParseCompareSpec(const nlohmann::json& compare, const std::string& where) {
  if (!compare.is_object()) {
    throw std::invalid_argument(where + ": expected an object with confidence, allowedIncrease and/or "
                                "allowedDecrease, got " + compare.dump());
  }
  for (const auto& [key, value] : compare.items()) {
    if (key != "confidence" && key != "allowedIncrease" && key != "allowedDecrease") {
      throw std::invalid_argument(where + "." + key +
                                  ": unknown field; expected confidence, allowedIncrease or allowedDecrease");
    }
  }
  JudgeOptions options;
  if (compare.contains("confidence")) {
    const nlohmann::json& value = compare.at("confidence");
    if (!value.is_number() || !(value.get<double>() >= 0.5 && value.get<double>() <= 0.9999)) {
      throw std::invalid_argument(where + ".confidence: expected a number from 0.5 to 0.9999, got " + value.dump());
    }
    options.confidence = value.get<double>();
  }
  const bool has_increase = compare.contains("allowedIncrease");
  const bool has_decrease = compare.contains("allowedDecrease");
  if (has_increase) options.allowed_increase = ReadAllowance(compare, "allowedIncrease", where);
  if (has_decrease) options.allowed_decrease = ReadAllowance(compare, "allowedDecrease", where);
  // Naming one direction says which way is bad (latency up, success rate down); naming none
  // means any significant change is suspect.
  if (has_increase || has_decrease) {
    options.increase_allowed_unbounded = !has_increase;
    options.decrease_allowed_unbounded = !has_decrease;
  }
  return options;
}

boost::asio::awaitable<api::MetricResult> CompareCanary(MetricProvider& provider, std::string name,
                                                           std::string canary_query, std::string primary_query,
                                                           core::TimePoint end, std::chrono::milliseconds window,
                                                           std::chrono::milliseconds step, JudgeOptions options) {
  api::MetricResult result;
  result.name = name;
  result.time = end;
  if (window <= std::chrono::milliseconds::zero() || step <= std::chrono::milliseconds::zero()) {
    result.verdict = "Error";
    result.message = "metric \"" + name + "\": the comparison window (" + std::to_string(window.count()) +
                     "ms) and step (" + std::to_string(step.count()) + "ms) must be positive";
    co_return result;
  }
  const core::TimePoint start = end - window;
  std::vector<Sample> canary_samples;
  std::vector<Sample> primary_samples;
  std::string side = "canary";
  try {
    auto canary_op = provider.QueryRange(canary_query, start, end, step);
    canary_samples = co_await std::move(canary_op);
    side = "primary";
    auto primary_op = provider.QueryRange(primary_query, start, end, step);
    primary_samples = co_await std::move(primary_op);
  } catch (const MetricError& e) {
    result.verdict = "Error";
    result.message = "metric \"" + name + "\": the " + side + " query failed: " + e.what();
    co_return result;
  }
  const JudgeResult judged = JudgeCanary(Values(canary_samples), Values(primary_samples), options);
  result.verdict = ToString(judged.verdict);
  if (judged.verdict != JudgeVerdict::kNoData) result.value = judged.canary_median;
  result.message = judged.message;
  co_return result;
}

}  // namespace sluice::analysis
