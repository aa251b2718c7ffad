#include "reconbench/eval/stats.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "reconbench/core/error.hpp"

namespace rb::eval {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double sorted_quantile(const std::vector<double>& s, double p) {
  if (s.empty()) return kNaN;
  const double h = (static_cast<double>(s.size()) - 1.0) * p;
  const double fl = std::floor(h);
  const size_t lo = static_cast<size_t>(fl);
  const size_t hi = std::min(lo + 1, s.size() - 1);
  // numpy's _lerp: a + (b - a) t, with the t >= 0.5 branch b - (b - a)(1 - t).
  const double a = s[lo], b = s[hi], t = h - fl;
  const double diff = b - a;
  return t >= 0.5 ? b - diff * (1.0 - t) : a + diff * t;
}

// sorted_quantile(sort(v), p) for p and 1 - p... of an unsorted buffer (reordered), with
// order statistics instead of a full sort: the same two values each.
Interval unsorted_quantile_pair(std::vector<double>& v, double plo, double phi) {
  if (v.empty()) return {kNaN, kNaN};
  auto q = [&](double p) {
    const double h = (static_cast<double>(v.size()) - 1.0) * p;
    const double fl = std::floor(h);
    const size_t lo = static_cast<size_t>(fl);
    const size_t hi = std::min(lo + 1, v.size() - 1);
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(lo), v.end());
    const double a = v[lo];
    const double b =
        hi == lo ? a : *std::min_element(v.begin() + static_cast<std::ptrdiff_t>(hi), v.end());
    const double t = h - fl;
    const double diff = b - a;
    return t >= 0.5 ? b - diff * (1.0 - t) : a + diff * t;
  };
  const double lo = q(plo);
  return {lo, q(phi)};
}

// The rejection limit of uniform_index for n.
uint64_t index_limit(uint64_t n) {
  return std::numeric_limits<uint64_t>::max() -
         (std::numeric_limits<uint64_t>::max() % n + 1) % n;
}

inline uint64_t draw_index(uint64_t n, uint64_t limit, std::mt19937_64& rng) {
  for (;;) {
    const uint64_t r = rng();
    if (r <= limit) return (n & (n - 1)) == 0 ? r & (n - 1) : r % n;  // same value
  }
}

void check_bootstrap(const BootstrapOptions& o) {
  RB_CHECK(o.resamples >= 1, "bootstrap resamples must be >= 1, got ", o.resamples);
  RB_CHECK(o.level > 0 && o.level < 1, "bootstrap level must be in (0, 1), got ", o.level);
}
}  // namespace

double mean(std::span<const double> v) {
  if (v.empty()) return kNaN;
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

double stddev(std::span<const double> v, int ddof) {
  if (static_cast<int64_t>(v.size()) <= ddof) return kNaN;
  const double m = mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(static_cast<int64_t>(v.size()) - ddof));
}

double quantile(std::span<const double> v, double p) {
  RB_CHECK(p >= 0 && p <= 1, "quantile probability must be in [0, 1], got ", p);
  std::vector<double> s(v.begin(), v.end());
  std::sort(s.begin(), s.end());
  return sorted_quantile(s, p);
}

Interval quantile_interval(std::span<const double> v, double lo, double hi) {
  std::vector<double> s(v.begin(), v.end());
  std::sort(s.begin(), s.end());
  return {sorted_quantile(s, lo), sorted_quantile(s, hi)};
}

uint64_t uniform_index(uint64_t n, std::mt19937_64& rng) {
  RB_ASSERT(n > 0);
  // Reject draws in the incomplete top block so that every index is equally likely.
  return draw_index(n, index_limit(n), rng);
}

std::vector<double> bootstrap_means(std::span<const double> v, const BootstrapOptions& o) {
  check_bootstrap(o);
  std::vector<double> means;
  if (v.empty()) return means;
  std::mt19937_64 rng(o.seed);
  const uint64_t n = v.size(), limit = index_limit(n);
  means.resize(static_cast<size_t>(o.resamples));
  for (auto& m : means) {
    double s = 0;
    for (uint64_t i = 0; i < n; ++i) s += v[draw_index(n, limit, rng)];
    m = s / static_cast<double>(n);
  }
  return means;
}

Interval bootstrap_mean_ci(std::span<const double> v, const BootstrapOptions& o) {
  std::vector<double> means = bootstrap_means(v, o);
  if (means.empty()) return {kNaN, kNaN};
  const double alpha = (1.0 - o.level) / 2.0;
  return unsorted_quantile_pair(means, alpha, 1.0 - alpha);
}

PairedBootstrap paired_bootstrap(std::span<const double> a, std::span<const double> b,
                                 const BootstrapOptions& o) {
  check_bootstrap(o);
  RB_CHECK(a.size() == b.size(), "paired bootstrap needs equally many scores, got ", a.size(),
           " and ", b.size());
  PairedBootstrap r;
  if (a.empty()) return {kNaN, {kNaN, kNaN}, kNaN};
  std::vector<double> d(a.size());
  for (size_t i = 0; i < a.size(); ++i) d[i] = a[i] - b[i];
  r.mean_difference = mean(a) - mean(b);
  std::vector<double> means = bootstrap_means(d, o);
  int64_t not_greater = 0;
  for (double m : means) not_greater += m <= 0 ? 1 : 0;
  r.p_not_greater = static_cast<double>(not_greater) / static_cast<double>(means.size());
  std::sort(means.begin(), means.end());
  const double alpha = (1.0 - o.level) / 2.0;
  r.ci = {sorted_quantile(means, alpha), sorted_quantile(means, 1.0 - alpha)};
  return r;
}

std::vector<double> probability_rank_first(const std::vector<std::vector<double>>& scores,
                                           bool higher_is_better, const BootstrapOptions& o) {
  check_bootstrap(o);
  const size_t k = scores.size();
  std::vector<double> p(k, 0.0);
  if (k == 0) return p;
  const size_t n = scores[0].size();
  for (const auto& s : scores)
    RB_CHECK(s.size() == n, "rank probabilities need equally many scores per submission");
  if (n == 0) return std::vector<double>(k, kNaN);
  std::mt19937_64 rng(o.seed);
  std::vector<uint64_t> idx(n);
  std::vector<double> m(k);
  std::vector<int64_t> first(k, 0);
  for (int64_t b = 0; b < o.resamples; ++b) {
    for (auto& i : idx) i = uniform_index(n, rng);
    for (size_t s = 0; s < k; ++s) {
      double sum = 0;
      for (uint64_t i : idx) sum += scores[s][i];
      m[s] = sum / static_cast<double>(n);
    }
    const double best = higher_is_better ? *std::max_element(m.begin(), m.end())
                                         : *std::min_element(m.begin(), m.end());
    for (size_t s = 0; s < k; ++s) first[s] += m[s] == best ? 1 : 0;
  }
  for (size_t s = 0; s < k; ++s)
    p[s] = static_cast<double>(first[s]) / static_cast<double>(o.resamples);
  return p;
}

Summary summarize(std::span<const double> v, const BootstrapOptions& o) {
  std::vector<double> f;
  f.reserve(v.size());
  for (double x : v)
    if (std::isfinite(x)) f.push_back(x);
  Summary s;
  s.n = static_cast<int64_t>(f.size());
  s.bootstrap = o;
  s.mean = mean(f);
  s.sd = stddev(f, 1);
  s.quantile_interval = f.empty() ? Interval{kNaN, kNaN} : quantile_interval(f);
  s.bootstrap_ci = f.empty() ? Interval{kNaN, kNaN} : bootstrap_mean_ci(f, o);
  return s;
}

std::vector<Summary> summarize_columns(const std::vector<std::vector<double>>& columns,
                                       const BootstrapOptions& o) {
  check_bootstrap(o);
  const size_t k = columns.size();
  std::vector<std::vector<double>> f(k);
  std::vector<Summary> out(k);
  for (size_t c = 0; c < k; ++c) {
    for (double x : columns[c])
      if (std::isfinite(x)) f[c].push_back(x);
    Summary& s = out[c];
    s.n = static_cast<int64_t>(f[c].size());
    s.bootstrap = o;
    s.mean = mean(f[c]);
    s.sd = stddev(f[c], 1);
    s.quantile_interval = f[c].empty() ? Interval{kNaN, kNaN} : quantile_interval(f[c]);
    s.bootstrap_ci = {kNaN, kNaN};
  }
  // One pass of draws per distinct count n: the index stream of bootstrap_means(v) depends
  // only on (seed, n), and each column sums its values in draw order as it does there.
  const double alpha = (1.0 - o.level) / 2.0;
  std::vector<bool> done(k, false);
  for (size_t c0 = 0; c0 < k; ++c0) {
    if (done[c0] || f[c0].empty()) continue;
    std::vector<size_t> group;
    for (size_t c = c0; c < k; ++c)
      if (!done[c] && f[c].size() == f[c0].size()) {
        group.push_back(c);
        done[c] = true;
      }
    const uint64_t n = f[c0].size(), limit = index_limit(n);
    if (n == 1) {  // every resample is the one value: the interval is [v, v]
      for (size_t c : group) out[c].bootstrap_ci = {f[c][0], f[c][0]};
      continue;
    }
    const size_t g = group.size(), B = static_cast<size_t>(o.resamples);
    std::vector<double> means(g * B), sums(g);
    std::mt19937_64 rng(o.seed);
    for (size_t b = 0; b < B; ++b) {
      std::fill(sums.begin(), sums.end(), 0.0);
      for (uint64_t i = 0; i < n; ++i) {
        const uint64_t idx = draw_index(n, limit, rng);
        for (size_t q = 0; q < g; ++q) sums[q] += f[group[q]][idx];
      }
      for (size_t q = 0; q < g; ++q) means[q * B + b] = sums[q] / static_cast<double>(n);
    }
    for (size_t q = 0; q < g; ++q) {
      std::vector<double> m(means.begin() + static_cast<std::ptrdiff_t>(q * B),
                            means.begin() + static_cast<std::ptrdiff_t>((q + 1) * B));
      out[group[q]].bootstrap_ci = unsorted_quantile_pair(m, alpha, 1.0 - alpha);
    }
  }
  return out;
}

std::vector<double> mid_ranks(std::span<const double> v) {
  const size_t n = v.size();
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> r(n);
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j + 1 < n && v[order[j + 1]] == v[order[i]]) ++j;
    // positions i..j (0-based) share rank mean(i+1 .. j+1)
    const double rank = 0.5 * (static_cast<double>(i + 1) + static_cast<double>(j + 1));
    for (size_t k = i; k <= j; ++k) r[order[k]] = rank;
    i = j + 1;
  }
  return r;
}

KendallW kendall_w(const std::vector<std::vector<double>>& ratings) {
  KendallW k;
  k.m = static_cast<int64_t>(ratings.size());
  k.n = k.m ? static_cast<int64_t>(ratings[0].size()) : 0;
  for (const auto& row : ratings) {
    RB_CHECK(static_cast<int64_t>(row.size()) == k.n, "Kendall's W: every rater must rate the ",
             k.n, " objects, one rated ", row.size());
    for (double x : row) RB_CHECK(std::isfinite(x), "Kendall's W: ratings must be finite");
  }
  k.df = k.n - 1;
  if (k.m < 1 || k.n < 2) {
    k.w = k.w_t = k.chi2 = k.p_value = kNaN;
    return k;
  }
  std::vector<double> R(static_cast<size_t>(k.n), 0.0);
  double T = 0;
  for (const auto& row : ratings) {
    const std::vector<double> r = mid_ranks(row);
    for (int64_t i = 0; i < k.n; ++i) R[i] += r[i];
    // Tie groups of this rater: t^3 - t per group.
    std::vector<double> sorted(row);
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 0; i < sorted.size();) {
      size_t j = i;
      while (j + 1 < sorted.size() && sorted[j + 1] == sorted[i]) ++j;
      const double t = static_cast<double>(j - i + 1);
      T += t * t * t - t;
      i = j + 1;
    }
  }
  const double m = static_cast<double>(k.m), n = static_cast<double>(k.n);
  const double rbar = m * (n + 1.0) / 2.0;
  double S = 0;
  for (double r : R) S += (r - rbar) * (r - rbar);
  k.s = S;
  k.t = T;
  const double denom = m * m * (n * n * n - n);
  const double denom_t = denom - m * T;
  k.w = 12.0 * S / denom;
  // The tie-corrected denominator is m^2(n^3-n) - mT >= 0 and is 0 only when every rater
  // ties all objects; compare with a relative tolerance against rounding.
  if (denom_t <= 1e-12 * denom) {
    k.w_t = k.chi2 = k.p_value = kNaN;
    k.defined = false;
    return k;
  }
  k.w_t = 12.0 * S / denom_t;
  k.chi2 = m * (n - 1.0) * k.w_t;
  k.p_value = chi2_sf(k.chi2, static_cast<double>(k.df));
  k.defined = true;
  return k;
}

KendallSummary kendall_w_over_cases(
    const std::vector<std::vector<std::vector<double>>>& cases) {
  KendallSummary r;
  std::vector<double> wt, chi2, p;
  for (const auto& c : cases) {
    r.cases.push_back(kendall_w(c));
    const KendallW& k = r.cases.back();
    if (k.defined) {
      wt.push_back(k.w_t);
      chi2.push_back(k.chi2);
      p.push_back(k.p_value);
    }
  }
  r.defined_cases = static_cast<int64_t>(wt.size());
  r.mean_w_t = mean(wt);
  r.median_w_t = wt.empty() ? kNaN : quantile(wt, 0.5);
  r.mean_chi2 = mean(chi2);
  r.mean_p_value = mean(p);
  return r;
}

// Q(a, x) = Gamma(a, x) / Gamma(a) (Numerical Recipes gser/gcf, to full double precision).
double gamma_q(double a, double x) {
  RB_CHECK(a > 0 && x >= 0 && std::isfinite(a), "gamma_q needs a > 0, x >= 0 (a = ", a,
           ", x = ", x, ")");
  if (x == 0) return 1.0;
  if (std::isinf(x)) return 0.0;
  const double log_prefix = -x + a * std::log(x) - std::lgamma(a);
  constexpr double eps = 1e-16;
  if (x < a + 1.0) {
    // P(a, x) = e^-x x^a / Gamma(a+1) * sum_k x^k / ((a+1)...(a+k))
    double ap = a, del = 1.0 / a, sum = del;
    for (int it = 0; it < 100000; ++it) {
      ap += 1.0;
      del *= x / ap;
      sum += del;
      if (std::fabs(del) < std::fabs(sum) * eps) break;
    }
    return 1.0 - sum * std::exp(log_prefix);
  }
  // Continued fraction for Q (modified Lentz).
  constexpr double tiny = 1e-300;
  double b = x + 1.0 - a, c = 1.0 / tiny, d = 1.0 / b, h = d;
  for (int i = 1; i < 100000; ++i) {
    const double an = -i * (i - a);
    b += 2.0;
    d = an * d + b;
    if (std::fabs(d) < tiny) d = tiny;
    c = b + an / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1.0 / d;
    const double del = d * c;
    h *= del;
    if (std::fabs(del - 1.0) < eps) break;
  }
  return std::exp(log_prefix) * h;
}

double chi2_sf(double x, double df) {
  RB_CHECK(df > 0, "chi-square degrees of freedom must be positive, got ", df);
  if (std::isnan(x)) return kNaN;
  if (x <= 0) return 1.0;
  return gamma_q(df / 2.0, x / 2.0);
}

MeanSd mean_sd(std::span<const double> v) {
  return {static_cast<int64_t>(v.size()), mean(v), stddev(v, 1)};
}

std::string format_number(double v, int precision) {
  if (std::isnan(v)) return "n/a";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", precision, v);
  return buf;
}

}  // namespace rb::eval
