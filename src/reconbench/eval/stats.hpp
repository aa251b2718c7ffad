// Statistics for leaderboards and the reader study (design/challenge-server.md §3.2, §3.3).
//
// Every interval carries what it is; the two are not interchangeable:
//   "quantile interval of volumes"  [Q(0.025), Q(0.975)] of the per-volume scores (spread,
//                                   the paper's Table III); Q = numpy percentile, linear
//                                   (Hyndman-Fan type 7): h = (n-1) p,
//                                   Q = s_(floor h) + (h - floor h)(s_(floor h + 1) - s_(floor h))
//   "bootstrap CI of the mean"      percentile bootstrap: B resamples of the n volumes with
//                                   replacement (the volume is the resampling unit), the
//                                   type-7 2.5%/97.5% quantiles of the B resampled means.
// The bootstrap draws indices from std::mt19937_64(seed) by rejection sampling
// (index = draw mod n, draws >= 2^64 - (2^64 mod n) rejected), so a (seed, B) pair gives the
// same interval on every platform and thread count.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace rb::eval {

struct Interval {
  double lo = 0, hi = 0;
};

inline constexpr const char* kQuantileIntervalLabel = "quantile interval of volumes";
inline constexpr const char* kBootstrapLabel = "bootstrap CI of the mean";

double mean(std::span<const double> v);                    // NaN if empty
double stddev(std::span<const double> v, int ddof = 1);    // NaN if size <= ddof
// numpy.percentile(v, 100 p) (linear / type 7); NaN if empty. p in [0, 1].
double quantile(std::span<const double> v, double p);
Interval quantile_interval(std::span<const double> v, double lo = 0.025, double hi = 0.975);

// The one bootstrap configuration: `reconbench eval`, the challenge's scores (server,
// workers, demo), the leaderboard's rank uncertainty and the report all use these defaults,
// so a CI printed anywhere is the CI stored with a score. B = 2000 keeps the Monte Carlo
// error of the 2.5/97.5 % quantiles small beside the interval widths of tens of volumes.
struct BootstrapOptions {
  int64_t resamples = 2000;  // B
  uint64_t seed = 20201;
  double level = 0.95;       // interval [Q((1-level)/2), Q((1+level)/2)]
};

// Uniform index in [0, n) from the generator (the rejection rule above).
uint64_t uniform_index(uint64_t n, std::mt19937_64& rng);

// The B bootstrap means (in draw order) and the percentile interval.
std::vector<double> bootstrap_means(std::span<const double> v, const BootstrapOptions& opts = {});
Interval bootstrap_mean_ci(std::span<const double> v, const BootstrapOptions& opts = {});

// Paired bootstrap of mean(a) - mean(b) over the same volumes (a[i], b[i] from volume i):
// the same resampled indices for both.
struct PairedBootstrap {
  double mean_difference = 0;  // mean(a) - mean(b)
  Interval ci;                 // percentile CI of the difference
  double p_not_greater = 0;    // fraction of resamples with difference <= 0
};
PairedBootstrap paired_bootstrap(std::span<const double> a, std::span<const double> b,
                                 const BootstrapOptions& opts = {});

// Rank stability: scores[k][i] = score of submission k on volume i (all equally long). On
// every resample the submissions are ranked by their mean (higher is better unless
// higher_is_better == false; ties share the best rank). Returns P(rank = 1) per submission.
std::vector<double> probability_rank_first(const std::vector<std::vector<double>>& scores,
                                           bool higher_is_better = true,
                                           const BootstrapOptions& opts = {});

// Fewer finite volumes than this and the intervals above ([v, v] at n = 1) and P(rank = 1)
// suggest a certainty the data cannot give: displays (the web UI, from the server's
// /api/challenge "intervals_min_n"; `reconbench eval`'s text table) show "n too small".
inline constexpr int64_t kMinVolumesForIntervals = 3;

// Summary of one metric over volumes.
struct Summary {
  int64_t n = 0;
  double mean = 0, sd = 0;        // sd with ddof 1 (NaN for n < 2)
  Interval quantile_interval;     // kQuantileIntervalLabel, 2.5% / 97.5%
  Interval bootstrap_ci;          // kBootstrapLabel
  BootstrapOptions bootstrap;
};
// Non-finite values (undefined metrics) are left out; n counts the values used.
Summary summarize(std::span<const double> v, const BootstrapOptions& opts = {});
// summarize() of each column, the same numbers; columns with equally many finite values
// share one pass of bootstrap draws (summarize() draws the same indices for each of them).
std::vector<Summary> summarize_columns(const std::vector<std::vector<double>>& columns,
                                       const BootstrapOptions& opts = {});

// Mid-ranks (1-based; ties get the average of the ranks they span), ascending values.
std::vector<double> mid_ranks(std::span<const double> v);

// Kendall's coefficient of concordance with tie correction (irr::kendall(correct = TRUE)).
// ratings[j][i] = rating of object i by rater j (m raters x n objects); raw ratings are
// mid-ranked per rater (ranks 1 = best and Likert 4 = best give the same W).
//   R_i = sum_j r_ij, S = sum_i (R_i - m(n+1)/2)^2, T = sum_j sum_k (t_jk^3 - t_jk)
//   W = 12 S / (m^2 (n^3 - n)),  W_t = 12 S / (m^2 (n^3 - n) - m T)
//   chi2 = m (n - 1) W_t, df = n - 1, p = P(chi2_df >= chi2)
// `defined` is false ("n/a") when the tie-corrected denominator is 0 (every rater ties
// every object) or m < 1 or n < 2.
struct KendallW {
  int64_t m = 0, n = 0;
  double s = 0, t = 0;
  double w = 0, w_t = 0, chi2 = 0, p_value = 0;
  int64_t df = 0;
  bool defined = false;
};
KendallW kendall_w(const std::vector<std::vector<double>>& ratings);

// One W per case (the paper: one ranking per reader per case), averaged over the cases
// whose W is defined.
struct KendallSummary {
  std::vector<KendallW> cases;
  int64_t defined_cases = 0;
  double mean_w_t = 0, median_w_t = 0, mean_chi2 = 0, mean_p_value = 0;  // NaN if none
};
KendallSummary kendall_w_over_cases(const std::vector<std::vector<std::vector<double>>>& cases);

// Regularized upper incomplete gamma Q(a, x) = Gamma(a, x) / Gamma(a) (series for
// x < a + 1, Lentz continued fraction otherwise; relative accuracy ~1e-14).
double gamma_q(double a, double x);
// Survival function of the chi-square distribution: P(X >= x), X ~ chi2(df).
double chi2_sf(double x, double df);

// Mean +- SD (ddof 1) as in the paper's Table IV (ranks, Likert scores).
struct MeanSd {
  int64_t n = 0;
  double mean = 0, sd = 0;
};
MeanSd mean_sd(std::span<const double> v);

// "0.9123 [0.9001, 0.9200]" style formatting helpers; NaN prints as "n/a".
std::string format_number(double v, int precision = 4);

}  // namespace rb::eval
