#include "analysis/judge.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace sluice::analysis {

const char* ToString(JudgeVerdict verdict) {
  switch (verdict) {
    case JudgeVerdict::kPass:
      return "Pass";
    case JudgeVerdict::kHigh:
      return "High";
    case JudgeVerdict::kLow:
      return "Low";
    case JudgeVerdict::kNoData:
      return "NoData";
  }
  return "NoData";
}

double Median(std::vector<double> values) {
  const size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid), values.end());
  const double upper = values[mid];
  if (values.size() % 2 == 1) return upper;
  const double lower = *std::max_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid));
  return lower + (upper - lower) / 2;
}

namespace {

struct Ranking {
  double rank_sum_x = 0;     // sum of the (mid-)ranks of x in the pooled sample
  double tie_term = 0;       // sum over groups of equal values of t^3 - t
  bool has_ties = false;
};

// Ranks the pooled sample, giving each group of equal values the mean of the ranks it spans.
Ranking RankPooled(const std::vector<double>& x, const std::vector<double>& y) {
  std::vector<std::pair<double, bool>> pooled;  // value, belongs to x
  pooled.reserve(x.size() + y.size());
  for (double v : x) pooled.emplace_back(v, true);
  for (double v : y) pooled.emplace_back(v, false);
  std::sort(pooled.begin(), pooled.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  Ranking ranking;
  size_t i = 0;
  while (i < pooled.size()) {
    size_t j = i + 1;
    while (j < pooled.size() && pooled[j].first == pooled[i].first) ++j;
    const double t = static_cast<double>(j - i);
    const double mid_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    for (size_t k = i; k < j; ++k) {
      if (pooled[k].second) ranking.rank_sum_x += mid_rank;
    }
    if (t > 1) {
      ranking.has_ties = true;
      ranking.tie_term += t * t * t - t;
    }
    i = j;
  }
  return ranking;
}

// P(U >= u) under the null hypothesis without ties, where U is the statistic of a sample of
// size m against one of size n. Counts, by dynamic programming over the ranks 1..m+n, the
// subsets of m ranks with each possible rank sum; every subset is equally likely under H0.
// Doubles hold the counts exactly up to 2^53, far above C(40, 20).
double ExactUpperTail(size_t m, size_t n, double u) {
  const size_t total = m + n;
  const size_t max_sum = m * (2 * total - m + 1) / 2;  // the m largest ranks
  std::vector<std::vector<double>> ways(m + 1, std::vector<double>(max_sum + 1, 0));
  ways[0][0] = 1;
  for (size_t rank = 1; rank <= total; ++rank) {
    for (size_t k = std::min(rank, m); k >= 1; --k) {
      for (size_t s = max_sum; s >= rank; --s) ways[k][s] += ways[k - 1][s - rank];
    }
  }
  const double min_sum = static_cast<double>(m * (m + 1) / 2);
  double all = 0;
  double tail = 0;
  for (size_t s = 0; s <= max_sum; ++s) {
    all += ways[m][s];
    if (static_cast<double>(s) - min_sum >= u) tail += ways[m][s];
  }
  return tail / all;
}

}  // namespace

RankTest MannWhitneyU(const std::vector<double>& x, const std::vector<double>& y) {
  const double m = static_cast<double>(x.size());
  const double n = static_cast<double>(y.size());
  const Ranking ranking = RankPooled(x, y);
  RankTest test;
  test.u = ranking.rank_sum_x - m * (m + 1) / 2;
  const double mean = m * n / 2;
  if (!ranking.has_ties && x.size() <= kExactLimit && y.size() <= kExactLimit) {
    // Two-sided: twice the tail beyond the larger of U and its mirror m*n - U, which by the
    // symmetry of U's distribution is the same as the tail on the side U falls.
    const double larger = std::max(test.u, m * n - test.u);
    test.exact = true;
    test.p_value = std::min(1.0, 2 * ExactUpperTail(x.size(), y.size(), larger));
    return test;
  }
  const double pooled = m + n;
  const double variance = m * n / 12 * ((pooled + 1) - ranking.tie_term / (pooled * (pooled - 1)));
  if (variance <= 0) {
    // Every value is the same: no evidence of any difference.
    test.p_value = 1;
    return test;
  }
  const double z = (std::abs(test.u - mean) - 0.5) / std::sqrt(variance);
  // 2 * (1 - Phi(z)) = erfc(z / sqrt(2)); z < 0 only when |U - mean| < 0.5, which is no evidence.
  test.p_value = std::min(1.0, std::erfc(z / std::sqrt(2.0)));
  return test;
}

namespace {

std::vector<double> Finite(std::vector<double> values) {
  values.erase(std::remove_if(values.begin(), values.end(), [](double v) { return !std::isfinite(v); }),
               values.end());
  return values;
}

std::string Num(double value, const char* format = "%.6g") {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

// (canary - primary) / |primary| in percent; a change from zero is infinite in its direction.
double RelativeChange(double canary, double primary) {
  if (canary == primary) return 0;
  if (primary == 0) return canary > primary ? std::numeric_limits<double>::infinity()
                                            : -std::numeric_limits<double>::infinity();
  return (canary - primary) / std::abs(primary) * 100;
}

std::string Percent(double change) {
  if (std::isinf(change)) return change > 0 ? "+inf%" : "-inf%";
  return (change >= 0 ? "+" : "") + Num(change, "%.1f") + "%";
}

std::string Evidence(const JudgeResult& r) {
  return "canary median " + Num(r.canary_median) + " vs primary median " + Num(r.primary_median) + " (" +
         Percent(r.relative_change_percent) + "), Mann-Whitney p=" + Num(r.p_value, "%.3g") +
         (r.exact ? " exact" : "") + ", " + std::to_string(r.canary_samples) + " canary and " +
         std::to_string(r.primary_samples) + " primary samples";
}

std::string Allowance(bool unbounded, double allowed, const char* sign) {
  if (unbounded) return std::string("any ") + (sign[0] == '+' ? "increase" : "decrease");
  return std::string(sign) + Num(allowed) + "%";
}

}  // namespace

JudgeResult JudgeCanary(std::vector<double> canary, std::vector<double> primary, const JudgeOptions& options) {
  canary = Finite(std::move(canary));
  primary = Finite(std::move(primary));
  JudgeResult result;
  result.canary_samples = canary.size();
  result.primary_samples = primary.size();
  const size_t needed = std::max<size_t>(options.min_samples, 1);
  if (canary.size() < needed || primary.size() < needed) {
    result.verdict = JudgeVerdict::kNoData;
    result.message = "not enough data to judge: " + std::to_string(canary.size()) + " canary and " +
                     std::to_string(primary.size()) + " primary samples, at least " + std::to_string(needed) +
                     " needed on each side (is there traffic on both?)";
    return result;
  }
  result.canary_median = Median(canary);
  result.primary_median = Median(primary);
  result.relative_change_percent = RelativeChange(result.canary_median, result.primary_median);
  const RankTest test = MannWhitneyU(canary, primary);
  result.p_value = test.p_value;
  result.u_statistic = test.u;
  result.exact = test.exact;

  const double alpha = 1 - options.confidence;
  const bool significant = test.p_value <= alpha;
  const double change = result.relative_change_percent;
  const std::string evidence = Evidence(result);
  if (significant && change > 0 && !options.increase_allowed_unbounded && change > options.allowed_increase) {
    result.verdict = JudgeVerdict::kHigh;
    result.message = "canary is higher than the primary: " + evidence + "; allowed " +
                     Allowance(false, options.allowed_increase, "+") + " at " + Num(options.confidence * 100) +
                     "% confidence";
    return result;
  }
  if (significant && change < 0 && !options.decrease_allowed_unbounded && -change > options.allowed_decrease) {
    result.verdict = JudgeVerdict::kLow;
    result.message = "canary is lower than the primary: " + evidence + "; allowed " +
                     Allowance(false, options.allowed_decrease, "-") + " at " + Num(options.confidence * 100) +
                     "% confidence";
    return result;
  }
  result.verdict = JudgeVerdict::kPass;
  const std::string why = significant ? "the difference is significant but within the allowed "
                                      : "no significant difference at " + Num(options.confidence * 100) +
                                            "% confidence; allowed ";
  result.message = "canary matches the primary: " + evidence + "; " + why +
                   Allowance(options.increase_allowed_unbounded, options.allowed_increase, "+") + " / " +
                   Allowance(options.decrease_allowed_unbounded, options.allowed_decrease, "-");
  return result;
}

}  // namespace sluice::analysis
