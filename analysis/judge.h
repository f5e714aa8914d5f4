// The canary-versus-primary judge: compares samples of the same metric from both over the
// same window with a Mann-Whitney U test, so a regression whose absolute value still looks
// fine is caught without tuning a threshold. Pure functions; method and limits in
// docs/judge.md.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace sluice::analysis {

struct JudgeOptions {
  double confidence = 0.95;      // 1 - the significance level of the two-sided test
  double allowed_increase = 0;   // percent the canary's median may rise over the primary's; 0 = none allowed
  double allowed_decrease = 0;   // percent it may fall; 0 = none allowed
  bool increase_allowed_unbounded = false;  // true when compare.allowedIncrease is absent
  bool decrease_allowed_unbounded = false;  // true when compare.allowedDecrease is absent
  size_t min_samples = 5;        // fewer samples on either side is NoData
};

enum class JudgeVerdict { kPass, kHigh, kLow, kNoData };
const char* ToString(JudgeVerdict verdict);  // "Pass", "High", "Low", "NoData"

struct JudgeResult {
  JudgeVerdict verdict = JudgeVerdict::kNoData;
  double p_value = 1;
  double canary_median = 0;
  double primary_median = 0;
  double relative_change_percent = 0;  // (canary - primary) / |primary| * 100 of the medians
  size_t canary_samples = 0;
  size_t primary_samples = 0;
  double u_statistic = 0;  // the canary's U: pairs (canary, primary) with canary above, ties counting half
  bool exact = false;      // true when the p-value comes from the exact distribution of U
  std::string message;  // in words, with the numbers above
};

// The two-sided Mann-Whitney U test of x against y (both non-empty, finite). `u` is x's
// statistic: the number of pairs (x_i, y_j) with x_i > y_j, ties counting one half. Exact
// distribution when both samples have at most kExactLimit values and there are no ties;
// otherwise the normal approximation with tie correction and continuity correction.
struct RankTest {
  double u = 0;
  double p_value = 1;
  bool exact = false;
};
inline constexpr size_t kExactLimit = 20;
RankTest MannWhitneyU(const std::vector<double>& x, const std::vector<double>& y);

// The median of non-empty finite values (the mean of the middle two for an even count).
double Median(std::vector<double> values);

// NaN and infinite samples are dropped before the test.
JudgeResult JudgeCanary(std::vector<double> canary, std::vector<double> primary, const JudgeOptions& options);

}  // namespace sluice::analysis
