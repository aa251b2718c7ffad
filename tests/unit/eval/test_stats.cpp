// Statistics: numpy-type-7 quantiles, bootstrap CIs, Kendall's W (design/challenge-server.md
// §3.3 test vectors), chi-square survival function.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "reconbench/core/error.hpp"
#include "reconbench/eval/evaluate.hpp"
#include "reconbench/eval/stats.hpp"

namespace {

namespace ev = rb::eval;

TEST(EvalStats, QuantilesAreNumpyLinear) {
  // numpy.percentile([1, 2, 3, 4], [2.5, 50, 97.5]) = [1.075, 2.5, 3.925]
  std::vector<double> v{4, 1, 3, 2};
  EXPECT_NEAR(ev::quantile(v, 0.025), 1.075, 1e-15);
  EXPECT_NEAR(ev::quantile(v, 0.5), 2.5, 1e-15);
  EXPECT_NEAR(ev::quantile(v, 0.975), 3.925, 1e-15);
  ev::Interval iv = ev::quantile_interval(v);
  EXPECT_NEAR(iv.lo, 1.075, 1e-15);
  EXPECT_NEAR(iv.hi, 3.925, 1e-15);
  std::vector<double> one{0.7};
  EXPECT_EQ(ev::quantile(one, 0.025), 0.7);
  EXPECT_TRUE(std::isnan(ev::quantile(std::vector<double>{}, 0.5)));
  EXPECT_THROW(ev::quantile(v, 1.5), rb::UserError);
}

TEST(EvalStats, MeanAndSd) {
  std::vector<double> v{1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(ev::mean(v), 2.5);
  EXPECT_NEAR(ev::stddev(v, 1), std::sqrt(5.0 / 3.0), 1e-15);
  EXPECT_NEAR(ev::stddev(v, 0), std::sqrt(1.25), 1e-15);
  ev::MeanSd ms = ev::mean_sd(v);
  EXPECT_EQ(ms.n, 4);
  EXPECT_TRUE(std::isnan(ev::stddev(std::vector<double>{1.0}, 1)));
}

TEST(EvalStats, UniformIndexIsUnbiasedAndInRange) {
  std::mt19937_64 rng(1);
  std::vector<int> counts(7, 0);
  for (int i = 0; i < 70000; ++i) {
    uint64_t k = ev::uniform_index(7, rng);
    ASSERT_LT(k, 7u);
    ++counts[k];
  }
  for (int c : counts) EXPECT_NEAR(c, 10000, 500);
}

TEST(EvalStats, BootstrapCiIsSeededAndSensible) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> g(0.9, 0.02);
  std::vector<double> v(200);
  for (auto& x : v) x = g(rng);
  ev::BootstrapOptions o;
  o.resamples = 4000;
  o.seed = 3;
  ev::Interval a = ev::bootstrap_mean_ci(v, o), b = ev::bootstrap_mean_ci(v, o);
  EXPECT_EQ(a.lo, b.lo);
  EXPECT_EQ(a.hi, b.hi);
  o.seed = 4;
  ev::Interval c = ev::bootstrap_mean_ci(v, o);
  EXPECT_NE(a.lo, c.lo);
  const double m = ev::mean(v), se = ev::stddev(v) / std::sqrt(200.0);
  EXPECT_LT(a.lo, m);
  EXPECT_GT(a.hi, m);
  // Width close to the normal-theory 2 * 1.96 * SE.
  EXPECT_NEAR((a.hi - a.lo) / (2 * 1.959964 * se), 1.0, 0.1);
  // The CI of the mean is much narrower than the quantile interval of volumes.
  ev::Interval q = ev::quantile_interval(v);
  EXPECT_LT(a.hi - a.lo, 0.3 * (q.hi - q.lo));
  // Constant data: degenerate interval.
  std::vector<double> k(10, 0.5);
  ev::Interval d = ev::bootstrap_mean_ci(k, o);
  EXPECT_DOUBLE_EQ(d.lo, 0.5);
  EXPECT_DOUBLE_EQ(d.hi, 0.5);
}

TEST(EvalStats, SummarySkipsUndefinedValues) {
  std::vector<double> v{0.8, std::nan(""), 0.9};
  ev::Summary s = ev::summarize(v);
  EXPECT_EQ(s.n, 2);
  EXPECT_NEAR(s.mean, 0.85, 1e-15);
  ev::Summary e = ev::summarize(std::vector<double>{});
  EXPECT_EQ(e.n, 0);
  EXPECT_TRUE(std::isnan(e.mean));
  EXPECT_TRUE(std::isnan(e.bootstrap_ci.lo));
}

TEST(EvalStats, PairedBootstrapAndRankProbability) {
  std::vector<double> a{0.91, 0.92, 0.93, 0.90, 0.94, 0.92};
  std::vector<double> b{0.90, 0.91, 0.92, 0.89, 0.93, 0.91};  // a - b = 0.01 on every volume
  ev::PairedBootstrap p = ev::paired_bootstrap(a, b);
  EXPECT_NEAR(p.mean_difference, 0.01, 1e-12);
  EXPECT_NEAR(p.ci.lo, 0.01, 1e-12);
  EXPECT_NEAR(p.ci.hi, 0.01, 1e-12);
  EXPECT_EQ(p.p_not_greater, 0.0);
  std::vector<double> r = ev::probability_rank_first({a, b});
  EXPECT_EQ(r[0], 1.0);
  EXPECT_EQ(r[1], 0.0);
  r = ev::probability_rank_first({a, b}, false);
  EXPECT_EQ(r[1], 1.0);
  EXPECT_THROW(ev::paired_bootstrap(a, std::vector<double>{1.0}), rb::UserError);
}

TEST(EvalStats, MidRanks) {
  std::vector<double> r = ev::mid_ranks(std::vector<double>{4, 3, 3});
  EXPECT_EQ(r, (std::vector<double>{3, 1.5, 1.5}));
  r = ev::mid_ranks(std::vector<double>{2, 2, 2, 1});
  EXPECT_EQ(r, (std::vector<double>{3, 3, 3, 1}));
}

// design/challenge-server.md §3.3, data A: ranks, no ties.
TEST(EvalKendall, VectorAWithoutTies) {
  ev::KendallW k = ev::kendall_w({{1, 2, 3}, {1, 3, 2}, {1, 2, 3}, {2, 1, 3}, {1, 2, 3}, {1, 3, 2}});
  ASSERT_TRUE(k.defined);
  EXPECT_EQ(k.m, 6);
  EXPECT_EQ(k.n, 3);
  EXPECT_DOUBLE_EQ(k.s, 42.0);
  EXPECT_DOUBLE_EQ(k.t, 0.0);
  EXPECT_NEAR(k.w, 0.58333333333333, 1e-12);
  EXPECT_NEAR(k.w_t, 0.58333333333333, 1e-12);
  EXPECT_NEAR(k.chi2, 7.0, 1e-12);
  EXPECT_EQ(k.df, 2);
  EXPECT_NEAR(k.p_value, std::exp(-3.5), 1e-14);  // chi2(2) sf = exp(-x/2)
}

// Data B: Likert 4 = best, with ties.
TEST(EvalKendall, VectorBWithTies) {
  ev::KendallW k = ev::kendall_w({{4, 3, 3}, {4, 4, 2}, {3, 3, 2}, {4, 2, 2}, {3, 3, 3}, {4, 3, 1}});
  ASSERT_TRUE(k.defined);
  EXPECT_DOUBLE_EQ(k.s, 32.0);
  EXPECT_DOUBLE_EQ(k.t, 48.0);
  EXPECT_NEAR(k.w, 0.44444444444444, 1e-12);
  EXPECT_NEAR(k.w_t, 0.66666666666667, 1e-12);
  EXPECT_NEAR(k.chi2, 8.0, 1e-12);
  EXPECT_NEAR(k.p_value, std::exp(-4.0), 1e-14);
  // Reversing the scale (rank 1 = best vs Likert 4 = best) gives the same W.
  ev::KendallW r = ev::kendall_w({{1, 2, 2}, {1, 1, 3}, {2, 2, 3}, {1, 3, 3}, {2, 2, 2}, {1, 2, 4}});
  EXPECT_NEAR(r.w_t, k.w_t, 1e-12);
}

TEST(EvalKendall, PerfectAgreementAndUndefined) {
  ev::KendallW k = ev::kendall_w({{1, 2, 3, 4}, {1, 2, 3, 4}, {1, 2, 3, 4}});
  EXPECT_NEAR(k.w_t, 1.0, 1e-14);
  EXPECT_NEAR(k.chi2, 9.0, 1e-12);
  ev::KendallW u = ev::kendall_w({{2, 2, 2}, {3, 3, 3}});
  EXPECT_FALSE(u.defined);
  EXPECT_TRUE(std::isnan(u.w_t));
  EXPECT_THROW(ev::kendall_w({{1, 2}, {1, 2, 3}}), rb::UserError);
  // Averaged over cases; the undefined case is left out.
  ev::KendallSummary s = ev::kendall_w_over_cases(
      {{{1, 2, 3}, {1, 3, 2}, {1, 2, 3}, {2, 1, 3}, {1, 2, 3}, {1, 3, 2}},
       {{4, 3, 3}, {4, 4, 2}, {3, 3, 2}, {4, 2, 2}, {3, 3, 3}, {4, 3, 1}},
       {{2, 2, 2}, {1, 1, 1}}});
  EXPECT_EQ(s.cases.size(), 3u);
  EXPECT_EQ(s.defined_cases, 2);
  EXPECT_NEAR(s.mean_w_t, (7.0 / 12.0 + 2.0 / 3.0) / 2.0, 1e-12);
  EXPECT_NEAR(s.mean_chi2, 7.5, 1e-12);
}

TEST(EvalKendall, Chi2SurvivalFunction) {
  // Reference values: scipy.stats.chi2.sf (closed forms where available).
  EXPECT_NEAR(ev::chi2_sf(3.841458820694124, 1), 0.05, 1e-13);
  EXPECT_NEAR(ev::chi2_sf(2.0, 1), std::erfc(1.0), 1e-14);
  EXPECT_NEAR(ev::chi2_sf(10.0, 4), std::exp(-5.0) * (1 + 5.0), 1e-14);
  EXPECT_NEAR(ev::chi2_sf(0.5, 6), std::exp(-0.25) * (1 + 0.25 + 0.25 * 0.25 / 2), 1e-14);
  EXPECT_NEAR(ev::chi2_sf(100.0, 3), 2.0 * std::sqrt(50.0 / M_PI) * std::exp(-50.0) + std::erfc(std::sqrt(50.0)),
              1e-25);
  EXPECT_EQ(ev::chi2_sf(0.0, 2), 1.0);
  EXPECT_NEAR(ev::gamma_q(1.0, 2.0), std::exp(-2.0), 1e-15);
  EXPECT_THROW(ev::chi2_sf(1.0, 0), rb::UserError);
}

TEST(EvalStats, FormatNumber) {
  EXPECT_EQ(ev::format_number(0.912345, 4), "0.9123");
  EXPECT_EQ(ev::format_number(std::nan(""), 4), "n/a");
}

}  // namespace

namespace {

// The text table shows "n too small" instead of intervals below kMinVolumesForIntervals
// volumes (an interval [v, v] at n = 1 suggests certainty), and the intervals from there on.
TEST(EvalStats, TextTableSaysNTooSmallBelowTheMinimumVolumes) {
  auto table = [](int64_t n) {
    std::vector<rb::eval::VolumeResult> vols(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      vols[i].file = std::to_string(i).append(".h5");
      vols[i].metrics.ssim = 0.8 + 0.01 * static_cast<double>(i);
      vols[i].metrics.psnr = 30;
      vols[i].metrics.nmse = 0.02;
    }
    std::vector<const rb::eval::VolumeResult*> ptrs;
    for (const auto& v : vols) ptrs.push_back(&v);
    rb::eval::EvalRun run;
    run.options.metrics.masked = false;
    run.all = rb::eval::summarize_volumes(ptrs, {});
    run.volumes = vols;
    return rb::eval::to_text(run);
  };
  for (int64_t n = 1; n < rb::eval::kMinVolumesForIntervals; ++n)
    EXPECT_NE(table(n).find("n too small"), std::string::npos) << n;
  const std::string enough = table(rb::eval::kMinVolumesForIntervals);
  EXPECT_EQ(enough.find("n too small"), std::string::npos);
  EXPECT_NE(enough.find("[0.80"), std::string::npos) << enough;
}

}  // namespace
