// The Mann-Whitney judge on hand-checked values. scipy is not installed here; the reference
// values come from the scipy.stats.mannwhitneyu documentation where noted, otherwise from an
// independent Python computation: brute-force enumeration of every rank subset
// (itertools.combinations) for exact p-values, and
//   var = m*n/12 * ((N+1) - sum(t^3 - t) / (N*(N-1))),  z = (|U - m*n/2| - 0.5) / sqrt(var),
//   p = erfc(z / sqrt(2))
// for the normal approximation.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "analysis/judge.h"

namespace sluice::analysis {
namespace {

using Catch::Matchers::Contains;

TEST_CASE("MannWhitneyU exact: the scipy documentation example", "[judge]") {
  // scipy.stats.mannwhitneyu docs: males vs females, U1 = 17, exact p = 0.1111 (= 14/126).
  const std::vector<double> males{19, 22, 16, 29, 24};
  const std::vector<double> females{20, 11, 17, 12};
  const RankTest test = MannWhitneyU(males, females);
  CHECK(test.u == 17);
  CHECK(test.exact);
  CHECK(test.p_value == Approx(0.1111111111111111).epsilon(1e-12));
  // The mirror test gives the mirror statistic and the same two-sided p-value.
  const RankTest mirror = MannWhitneyU(females, males);
  CHECK(mirror.u == 3);
  CHECK(mirror.p_value == Approx(test.p_value).epsilon(1e-12));
}

TEST_CASE("MannWhitneyU exact: completely separated samples", "[judge]") {
  // 3 vs 3: the most extreme arrangement is 1 of C(6,3) = 20 on each side, p = 2/20.
  const RankTest three = MannWhitneyU({4, 5, 6}, {1, 2, 3});
  CHECK(three.u == 9);
  CHECK(three.p_value == Approx(0.1));
  // 5 vs 5: p = 2 / C(10,5) = 2/252.
  const RankTest five = MannWhitneyU({6, 7, 8, 9, 10}, {1, 2, 3, 4, 5});
  CHECK(five.u == 25);
  CHECK(five.p_value == Approx(2.0 / 252).epsilon(1e-12));
  const RankTest below = MannWhitneyU({1, 2, 3, 4, 5}, {6, 7, 8, 9, 10});
  CHECK(below.u == 0);
  CHECK(below.p_value == Approx(2.0 / 252).epsilon(1e-12));
}

TEST_CASE("MannWhitneyU: Hollander and Wolfe's depression scores have ties", "[judge]") {
  // Hollander & Wolfe, Nonparametric Statistical Methods, Hamilton depression scale (first
  // and second visit). 1.06 and 1.29 appear twice in y, so even 9 vs 9 takes the normal
  // approximation: U = 58, tie term 6 + 6 = 12, var = 81/12 * (19 - 12/306) = 127.985,
  // z = (17.5 - 0.5)/11.313 = 1.5027, p = 0.13292.
  const std::vector<double> x{1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30};
  const std::vector<double> y{0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29};
  const RankTest test = MannWhitneyU(x, y);
  CHECK(test.u == 58);
  CHECK_FALSE(test.exact);
  CHECK(test.p_value == Approx(0.13291945818531886).epsilon(1e-10));
}

TEST_CASE("MannWhitneyU exact at the size limit of 20 per side", "[judge]") {
  std::vector<double> low;
  std::vector<double> high;
  std::vector<double> odd;
  std::vector<double> even;
  for (int i = 0; i < 20; ++i) {
    low.push_back(i + 1);
    high.push_back(i + 21);
    odd.push_back(2 * i + 1);
    even.push_back(2 * i);
  }
  const RankTest separated = MannWhitneyU(high, low);
  CHECK(separated.exact);
  CHECK(separated.u == 400);
  CHECK(separated.p_value == Approx(2 / 137846528820.0).epsilon(1e-9));  // 2 / C(40,20)
  // Interleaved: U = 210 of 400; p from the recursion f(m,n,u) = f(m-1,n,u-n) + f(m,n-1,u).
  const RankTest interleaved = MannWhitneyU(odd, even);
  CHECK(interleaved.exact);
  CHECK(interleaved.u == 210);
  CHECK(interleaved.p_value == Approx(0.799407187161697).epsilon(1e-10));
}

TEST_CASE("MannWhitneyU normal approximation above 20 samples", "[judge]") {
  std::vector<double> x;
  std::vector<double> y;
  for (int i = 0; i < 21; ++i) {
    x.push_back(i);
    y.push_back(i + 3.5);
  }
  // U = 153 of 441, mean 220.5, var = 21*21*43/12 = 1580.25, z = (67.5 - 0.5)/39.75 = 1.6855,
  // p = erfc(z/sqrt 2) = 0.091905.
  const RankTest test = MannWhitneyU(x, y);
  CHECK_FALSE(test.exact);
  CHECK(test.u == 153);
  CHECK(test.p_value == Approx(0.09190475432879931).epsilon(1e-10));
}

TEST_CASE("MannWhitneyU with ties uses mid-ranks and the tie-corrected variance", "[judge]") {
  // Pooled 1,2,2,2,3,3,3,3,4,4,4,5,5: tie groups of 3, 4, 3, 2 -> sum(t^3 - t) = 24+60+24+6 = 114.
  // U = 8.5, var = 42/12 * (14 - 114/156) = 46.442, z = (12.5 - 0.5)/6.8149 = 1.7609, p = 0.078262.
  const RankTest test = MannWhitneyU({1, 2, 2, 3, 3, 3, 4}, {2, 3, 4, 4, 5, 5});
  CHECK_FALSE(test.exact);  // ties rule out the exact table even for small samples
  CHECK(test.u == 8.5);
  CHECK(test.p_value == Approx(0.07826242947714625).epsilon(1e-10));
  // The scipy example scored with the normal approximation instead: p = 0.1113468865.
}

TEST_CASE("MannWhitneyU on identical and constant samples", "[judge]") {
  const std::vector<double> same{3, 1, 4, 1, 5, 9, 2, 6};
  const RankTest identical = MannWhitneyU(same, same);
  CHECK(identical.u == 32);  // exactly half of 64 pairs
  CHECK(identical.p_value == 1);
  const RankTest flat = MannWhitneyU(std::vector<double>(10, 7), std::vector<double>(12, 7));
  CHECK(flat.p_value == 1);  // zero variance: no evidence, not a division by zero
  // Two different constants: all 100 pairs favour the first. Tie groups of 10 and 10:
  // var = 100/12 * (21 - 1980/380) = 131.58, z = 49.5/11.471 = 4.3153, p = 1.5938e-5.
  const RankTest apart = MannWhitneyU(std::vector<double>(10, 2), std::vector<double>(10, 1));
  CHECK(apart.u == 100);
  CHECK(apart.p_value == Approx(1.5937911688066275e-05).epsilon(1e-8));
}

TEST_CASE("Median of odd and even counts", "[judge]") {
  CHECK(Median({5}) == 5);
  CHECK(Median({3, 1, 2}) == 2);
  CHECK(Median({4, 1, 3, 2}) == 2.5);
  CHECK(Median({-1, -1, 10, 10}) == 4.5);
}

std::vector<double> Latencies(double base, int count) {
  // A deterministic spread around `base` (about +-10%) with no two values equal.
  std::vector<double> values;
  for (int i = 0; i < count; ++i) values.push_back(base * (0.9 + 0.2 * ((i * 7) % count) / count) + i * 1e-6);
  return values;
}

JudgeOptions LatencyOptions() {
  JudgeOptions options;
  options.confidence = 0.95;
  options.allowed_increase = 10;
  options.decrease_allowed_unbounded = true;
  return options;
}

TEST_CASE("JudgeCanary: 30% higher latency is High", "[judge]") {
  const JudgeResult r = JudgeCanary(Latencies(130, 30), Latencies(100, 30), LatencyOptions());
  CHECK(r.verdict == JudgeVerdict::kHigh);
  CHECK(r.canary_samples == 30);
  CHECK(r.primary_samples == 30);
  CHECK(r.relative_change_percent == Approx(30).margin(0.5));
  CHECK(r.p_value < 1e-6);
  CHECK_THAT(r.message, Contains("higher") && Contains("+30.0%") && Contains("30 canary and 30 primary") &&
                            Contains("allowed +10%") && Contains("p="));
}

TEST_CASE("JudgeCanary: an increase within the allowance passes even when significant", "[judge]") {
  const JudgeResult r = JudgeCanary(Latencies(105, 30), Latencies(100, 30), LatencyOptions());
  CHECK(r.p_value < 0.05);
  CHECK(r.verdict == JudgeVerdict::kPass);
  CHECK_THAT(r.message, Contains("significant but within the allowed"));
}

TEST_CASE("JudgeCanary: a large but insignificant difference passes", "[judge]") {
  // Medians 20% apart, but 3 samples a side can never reach p <= 0.05 (the minimum is 0.1).
  JudgeOptions options = LatencyOptions();
  options.min_samples = 3;
  const JudgeResult r = JudgeCanary({118, 125, 121}, {100, 98, 103}, options);
  CHECK(r.p_value == Approx(0.1));
  CHECK(r.verdict == JudgeVerdict::kPass);
  CHECK_THAT(r.message, Contains("no significant difference at 95% confidence"));
}

TEST_CASE("JudgeCanary: directions", "[judge]") {
  const std::vector<double> lower = Latencies(70, 25);
  const std::vector<double> base = Latencies(100, 25);
  SECTION("a lower canary is Low when the decrease is bounded") {
    JudgeOptions options;
    options.allowed_decrease = 10;
    options.increase_allowed_unbounded = true;
    const JudgeResult r = JudgeCanary(lower, base, options);
    CHECK(r.verdict == JudgeVerdict::kLow);
    CHECK_THAT(r.message, Contains("lower") && Contains("allowed -10%"));
  }
  SECTION("a lower canary passes when only increases are judged") {
    const JudgeResult r = JudgeCanary(lower, base, LatencyOptions());
    CHECK(r.verdict == JudgeVerdict::kPass);
    CHECK_THAT(r.message, Contains("any decrease"));
  }
  SECTION("defaults judge both directions with no tolerance") {
    CHECK(JudgeCanary(lower, base, JudgeOptions{}).verdict == JudgeVerdict::kLow);
    CHECK(JudgeCanary(base, lower, JudgeOptions{}).verdict == JudgeVerdict::kHigh);
  }
  SECTION("a higher canary passes when increases are unbounded") {
    JudgeOptions options;
    options.increase_allowed_unbounded = true;
    CHECK(JudgeCanary(base, lower, options).verdict == JudgeVerdict::kPass);
  }
}

TEST_CASE("JudgeCanary: the same distribution with noise passes", "[judge]") {
  // Two interleaved draws of one distribution: canary and primary alternate along the sorted
  // order, so neither dominates.
  std::vector<double> canary;
  std::vector<double> primary;
  for (int i = 0; i < 40; ++i) (i % 2 == 0 ? canary : primary).push_back(100 + ((i * 37) % 40) * 0.5);
  const JudgeResult r = JudgeCanary(canary, primary, LatencyOptions());
  CHECK(r.verdict == JudgeVerdict::kPass);
  CHECK(r.p_value > 0.5);
}

TEST_CASE("JudgeCanary: identical and constant series pass", "[judge]") {
  const std::vector<double> same = Latencies(100, 12);
  CHECK(JudgeCanary(same, same, JudgeOptions{}).verdict == JudgeVerdict::kPass);
  const JudgeResult flat = JudgeCanary(std::vector<double>(10, 99.5), std::vector<double>(10, 99.5), JudgeOptions{});
  CHECK(flat.verdict == JudgeVerdict::kPass);
  CHECK(flat.p_value == 1);
  CHECK(flat.relative_change_percent == 0);
}

TEST_CASE("JudgeCanary: a primary at zero", "[judge]") {
  // Zero errors on the primary, some on the canary: the relative change is infinite, and a
  // significant rise is High whatever the allowance.
  JudgeOptions options;
  options.allowed_increase = 1000;
  options.decrease_allowed_unbounded = true;
  const JudgeResult r = JudgeCanary(std::vector<double>(10, 2), std::vector<double>(10, 0), options);
  CHECK(r.verdict == JudgeVerdict::kHigh);
  CHECK(std::isinf(r.relative_change_percent));
  CHECK_THAT(r.message, Contains("+inf%"));
}

TEST_CASE("JudgeCanary: NaN and infinite samples are dropped", "[judge]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> canary{nan, 10, 11, inf, 12, 13, -inf, 14};
  std::vector<double> primary{10, 11, 12, 13, 14, nan};
  JudgeResult r = JudgeCanary(canary, primary, JudgeOptions{});
  CHECK(r.canary_samples == 5);
  CHECK(r.primary_samples == 5);
  CHECK(r.verdict == JudgeVerdict::kPass);
  CHECK(r.canary_median == 12);
  // With the NaNs the canary would have had enough samples; without them it has not.
  std::vector<double> sparse{nan, nan, nan, 1, 2, 3, 4};
  r = JudgeCanary(sparse, primary, JudgeOptions{});
  CHECK(r.verdict == JudgeVerdict::kNoData);
  CHECK(r.canary_samples == 4);
}

TEST_CASE("JudgeCanary: too few samples is NoData, never Pass", "[judge]") {
  const JudgeResult none = JudgeCanary({}, Latencies(100, 30), JudgeOptions{});
  CHECK(none.verdict == JudgeVerdict::kNoData);
  CHECK_THAT(none.message, Contains("0 canary and 30 primary samples") && Contains("at least 5"));
  CHECK(JudgeCanary(Latencies(100, 30), {1, 2, 3, 4}, JudgeOptions{}).verdict == JudgeVerdict::kNoData);
  // min_samples 0 still needs one sample a side to compute a median.
  JudgeOptions lax;
  lax.min_samples = 0;
  CHECK(JudgeCanary({}, {}, lax).verdict == JudgeVerdict::kNoData);
  const JudgeResult single = JudgeCanary({2}, {1}, lax);
  CHECK(single.verdict == JudgeVerdict::kPass);  // one pair: p = 1
  CHECK(single.p_value == 1);
}

TEST_CASE("JudgeCanary: confidence sets the significance level", "[judge]") {
  // The scipy example: p = 0.111. Significant at 85% confidence, not at 95%.
  const std::vector<double> canary{19, 22, 16, 29, 24};
  const std::vector<double> primary{20, 11, 17, 12};
  JudgeOptions options;
  options.min_samples = 4;
  options.confidence = 0.95;
  CHECK(JudgeCanary(canary, primary, options).verdict == JudgeVerdict::kPass);
  options.confidence = 0.85;
  const JudgeResult r = JudgeCanary(canary, primary, options);
  CHECK(r.verdict == JudgeVerdict::kHigh);
  CHECK(r.exact);
  CHECK(r.u_statistic == 17);
}

TEST_CASE("ToString of verdicts", "[judge]") {
  CHECK(std::string(ToString(JudgeVerdict::kPass)) == "Pass");
  CHECK(std::string(ToString(JudgeVerdict::kHigh)) == "High");
  CHECK(std::string(ToString(JudgeVerdict::kLow)) == "Low");
  CHECK(std::string(ToString(JudgeVerdict::kNoData)) == "NoData");
}

}  // namespace
}  // namespace sluice::analysis
