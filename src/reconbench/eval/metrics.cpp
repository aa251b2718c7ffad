#include "reconbench/eval/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "reconbench/core/parallel.hpp"
#include "reconbench/eval/mask.hpp"

namespace rb::eval {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check_ssim_options(const SsimOptions& o) {
  RB_CHECK(o.win_size >= 3 && o.win_size % 2 == 1, "SSIM window size must be odd and >= 3, got ",
           o.win_size);
  RB_CHECK(o.k1 > 0 && o.k2 > 0, "SSIM constants K1, K2 must be positive");
}

// Per-slice partial results, reduced over slices in slice order.
struct SliceAccum {
  double ssim_sum = 0;       // sum of S(p) over valid positions
  int64_t ssim_count = 0;
  double ssim_masked_sum = 0;
  int64_t ssim_masked_count = 0;
  double sq_err = 0, sq_gt = 0;            // sum (x-y)^2, sum x^2 over the slice
  double sq_err_masked = 0, sq_gt_masked = 0;
  int64_t voxels_masked = 0;
};

// The SSIM kernel over one slice: x, y [h w] (contiguous), optional mask [h w] (centre
// pixels), optional map [h-win+1 w-win+1]. Column box sums of x, y, x^2, y^2, xy are kept
// as running sums over the window rows (add the entering row, subtract the leaving one),
// then summed horizontally per output row; all in double. Sums over positions go into one
// accumulator per column and are added up in column order at the end, so the loops
// vectorise and the result is fixed (no reassociation: the build has no -ffast-math and
// ISO mode turns FMA contraction off, so every ISA path computes the same bits).
template <int64_t kWin>
inline __attribute__((always_inline)) void ssim_kernel_body(
    const float* __restrict x, const float* __restrict y, int64_t h, int64_t w, int64_t win,
    double data_range, const SsimOptions& o, const uint8_t* __restrict mask,
    double* __restrict map, SliceAccum& acc) {
  if constexpr (kWin > 0) win = kWin;
  const int64_t oh = h - win + 1, ow = w - win + 1, half = win / 2;
  const double n = static_cast<double>(win * win);
  const double inv_n = 1.0 / n;
  const double cov_norm = o.sample_covariance ? n / (n - 1.0) : 1.0;
  const double c1 = (o.k1 * data_range) * (o.k1 * data_range);
  const double c2 = (o.k2 * data_range) * (o.k2 * data_range);

  // Sums and differences u = x + y, v = x - y need 4 box sums instead of 5:
  //   2 mu_x mu_y = (mu_u^2 - mu_v^2) / 2,   mu_x^2 + mu_y^2 = (mu_u^2 + mu_v^2) / 2,
  //   2 sigma_xy = (sigma_u^2 - sigma_v^2) / 2, sigma_x^2 + sigma_y^2 = (sigma_u^2 + sigma_v^2) / 2,
  // so S = (mu_u^2 - mu_v^2 + 2 C1)(sigma_u^2 - sigma_v^2 + 2 C2)
  //      / ((mu_u^2 + mu_v^2 + 2 C1)(sigma_u^2 + sigma_v^2 + 2 C2)).
  // (u, v of float inputs are exact in double; identical images give v = 0 and S = 1 exactly.)
  std::vector<double> buf(static_cast<size_t>(4 * w + 4 * w + 4 * ow));
  double* __restrict cu = buf.data();
  double* __restrict cv = cu + w;
  double* __restrict cuu = cv + w;
  double* __restrict cvv = cuu + w;
  double* __restrict hsum = cvv + w;  // 4 x w: horizontal sums (and the doubling temp)
  double* __restrict srow = hsum + 4 * w;
  double* __restrict acc_s = srow + ow;
  double* __restrict acc_m = acc_s + ow;
  double* __restrict cnt_m = acc_m + ow;
  std::fill(buf.begin(), buf.end(), 0.0);
  const double c1x2 = 2.0 * c1, c2x2 = 2.0 * c2;

  for (int64_t r = 0; r < win; ++r) {
    const float* xr = x + r * w;
    const float* yr = y + r * w;
    for (int64_t j = 0; j < w; ++j) {
      const double a = xr[j], b = yr[j];
      const double u = a + b, v = a - b;
      cu[j] += u;
      cv[j] += v;
      cuu[j] += u * u;
      cvv[j] += v * v;
    }
  }

  const double* cols[4] = {cu, cv, cuu, cvv};
  for (int64_t i = 0; i < oh; ++i) {
    if (i > 0) {
      const float* xn = x + (i + win - 1) * w;
      const float* yn = y + (i + win - 1) * w;
      const float* xo = x + (i - 1) * w;
      const float* yo = y + (i - 1) * w;
      for (int64_t j = 0; j < w; ++j) {
        const double a = xn[j], b = yn[j], ao = xo[j], bo = yo[j];
        const double un = a + b, vn = a - b, uo = ao + bo, vo = ao - bo;
        cu[j] = cu[j] + un - uo;
        cv[j] = cv[j] + vn - vo;
        cuu[j] = cuu[j] + un * un - uo * uo;
        cvv[j] = cvv[j] + vn * vn - vo * vo;
      }
    }
    // Horizontal window sums: hs_q[j] = sum_{t < win} col_q[j + t].
    for (int q = 0; q < 4; ++q) {
      const double* __restrict c = cols[q];
      double* __restrict hs = hsum + q * w;
      if constexpr (kWin == 7) {
        // pairs t2[j] = c[j] + c[j+1]; window = (t2[j] + t2[j+2]) + (t2[j+4] + c[j+6])
        for (int64_t j = 0; j < w - 1; ++j) hs[j] = c[j] + c[j + 1];
        for (int64_t j = 0; j < ow; ++j) hs[j] = (hs[j] + hs[j + 2]) + (hs[j + 4] + c[j + 6]);
      } else {
        for (int64_t j = 0; j < ow; ++j) hs[j] = c[j];
        for (int64_t t = 1; t < win; ++t)
          for (int64_t j = 0; j < ow; ++j) hs[j] += c[j + t];
      }
    }
    const double* __restrict su = hsum;
    const double* __restrict sv = hsum + w;
    const double* __restrict suu = hsum + 2 * w;
    const double* __restrict svv = hsum + 3 * w;
    for (int64_t j = 0; j < ow; ++j) {
      const double mu = su[j] * inv_n, mv = sv[j] * inv_n;
      const double mu2 = mu * mu, mv2 = mv * mv;
      const double vu = cov_norm * (suu[j] * inv_n - mu2);
      const double vv = cov_norm * (svv[j] * inv_n - mv2);
      const double num = (mu2 - mv2 + c1x2) * (vu - vv + c2x2);
      const double den = (mu2 + mv2 + c1x2) * (vu + vv + c2x2);
      const double s = num / den;
      srow[j] = s;
      acc_s[j] += s;
    }
    if (mask) {
      const uint8_t* __restrict mr = mask + (i + half) * w + half;
      for (int64_t j = 0; j < ow; ++j) {
        const double m = mr[j] ? 1.0 : 0.0;
        acc_m[j] += m * srow[j];
        cnt_m[j] += m;
      }
    }
    if (map) std::memcpy(map + i * ow, srow, static_cast<size_t>(ow) * sizeof(double));
  }
  double total = 0, total_m = 0, count_m = 0;
  for (int64_t j = 0; j < ow; ++j) {
    total += acc_s[j];
    total_m += acc_m[j];
    count_m += cnt_m[j];
  }
  acc.ssim_sum = total;
  acc.ssim_count = oh * ow;
  acc.ssim_masked_sum = total_m;
  acc.ssim_masked_count = static_cast<int64_t>(count_m);

  // Squared errors over the whole slice, one accumulator per column.
  double* __restrict e = hsum;           // reuse: 4 x w
  double* __restrict g = hsum + w;
  double* __restrict em = hsum + 2 * w;
  double* __restrict gm = hsum + 3 * w;
  std::fill(hsum, hsum + 4 * w, 0.0);
  int64_t vox_m = 0;
  for (int64_t i = 0; i < h; ++i) {
    const float* xr = x + i * w;
    const float* yr = y + i * w;
    for (int64_t j = 0; j < w; ++j) {
      const double a = xr[j], d = a - static_cast<double>(yr[j]);
      e[j] += d * d;
      g[j] += a * a;
    }
    if (mask) {
      const uint8_t* mr = mask + i * w;
      for (int64_t j = 0; j < w; ++j) {
        const double a = xr[j], d = a - static_cast<double>(yr[j]);
        const double m = mr[j] ? 1.0 : 0.0;
        em[j] += m * (d * d);
        gm[j] += m * (a * a);
        vox_m += mr[j] ? 1 : 0;
      }
    }
  }
  double se = 0, sg = 0, sem = 0, sgm = 0;
  for (int64_t j = 0; j < w; ++j) {
    se += e[j];
    sg += g[j];
    sem += em[j];
    sgm += gm[j];
  }
  acc.sq_err = se;
  acc.sq_gt = sg;
  acc.sq_err_masked = sem;
  acc.sq_gt_masked = sgm;
  acc.voxels_masked = vox_m;
}

using KernelFn = void (*)(const float*, const float*, int64_t, int64_t, int64_t, double,
                          const SsimOptions&, const uint8_t*, double*, SliceAccum&);

template <int64_t kWin>
void kernel_default(const float* x, const float* y, int64_t h, int64_t w, int64_t win,
                    double L, const SsimOptions& o, const uint8_t* m, double* map,
                    SliceAccum& a) {
  ssim_kernel_body<kWin>(x, y, h, w, win, L, o, m, map, a);
}

#if defined(__x86_64__) && defined(__GNUC__)
template <int64_t kWin>
__attribute__((target("avx2"))) void kernel_avx2(const float* x, const float* y, int64_t h,
                                                  int64_t w, int64_t win, double L,
                                                  const SsimOptions& o, const uint8_t* m,
                                                  double* map, SliceAccum& a) {
  ssim_kernel_body<kWin>(x, y, h, w, win, L, o, m, map, a);
}
bool have_avx2() {
  static const bool v = __builtin_cpu_supports("avx2");
  return v;
}
#endif

KernelFn pick_kernel(int64_t win) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (have_avx2()) return win == 7 ? &kernel_avx2<7> : &kernel_avx2<0>;
#endif
  return win == 7 ? &kernel_default<7> : &kernel_default<0>;
}

void run_kernel(ArrayView<const float> x, ArrayView<const float> y, double data_range,
                const SsimOptions& o, const uint8_t* mask, double* map, SliceAccum& acc) {
  pick_kernel(o.win_size)(x.data(), y.data(), x.dim(0), x.dim(1), o.win_size, data_range, o,
                          mask, map, acc);
}

void check_slice_args(ArrayView<const float> x, ArrayView<const float> y, double data_range,
                      const SsimOptions& o) {
  check_ssim_options(o);
  RB_CHECK(x.ndim() == 2 && y.ndim() == 2, "SSIM needs 2-D slices, got ", shape_str(x.shape()),
           " and ", shape_str(y.shape()));
  RB_CHECK(x.shape() == y.shape(), "SSIM inputs differ in shape: ", shape_str(x.shape()),
           " vs ", shape_str(y.shape()));
  RB_CHECK(x.dim(0) >= o.win_size && x.dim(1) >= o.win_size, "image ", shape_str(x.shape()),
           " is smaller than the ", o.win_size, "x", o.win_size, " SSIM window");
  RB_CHECK(data_range > 0 && std::isfinite(data_range), "SSIM data range must be positive, got ",
           data_range);
}

}  // namespace

std::string ssim_spec(const SsimOptions& o) {
  return cat("skimage-0.19 structural_similarity defaults: win ", o.win_size, " uniform, K1 ",
             o.k1, ", K2 ", o.k2, ", ",
             o.sample_covariance ? "sample covariance" : "population covariance",
             ", valid windows only, data_range=max(GT volume), per slice then mean over slices");
}

Array<double> ssim_map(ArrayView<const float> x, ArrayView<const float> y, double data_range,
                       const SsimOptions& opts) {
  check_slice_args(x, y, data_range, opts);
  Array<double> map({x.dim(0) - opts.win_size + 1, x.dim(1) - opts.win_size + 1});
  SliceAccum acc;
  run_kernel(x, y, data_range, opts, nullptr, map.data(), acc);
  return map;
}

double ssim_2d(ArrayView<const float> x, ArrayView<const float> y, double data_range,
               const SsimOptions& opts) {
  check_slice_args(x, y, data_range, opts);
  SliceAccum acc;
  run_kernel(x, y, data_range, opts, nullptr, nullptr, acc);
  return acc.ssim_sum / static_cast<double>(acc.ssim_count);
}

Array<float> pad_ssim_map(ArrayView<const double> map, int64_t h, int64_t w, float fill,
                          const SsimOptions& opts) {
  const int64_t half = opts.win_size / 2;
  RB_ASSERT(map.ndim() == 2 && map.dim(0) == h - 2 * half && map.dim(1) == w - 2 * half);
  Array<float> out({h, w}, fill);
  for (int64_t i = 0; i < map.dim(0); ++i)
    for (int64_t j = 0; j < map.dim(1); ++j)
      out.at(i + half, j + half) = static_cast<float>(map.at(i, j));
  return out;
}

MaskedMean masked_map_mean(ArrayView<const double> map, ArrayView<const uint8_t> mask,
                           const SsimOptions& opts) {
  const int64_t half = opts.win_size / 2;
  RB_CHECK(mask.ndim() == 2 && map.ndim() == 2 && mask.dim(0) == map.dim(0) + 2 * half &&
               mask.dim(1) == map.dim(1) + 2 * half,
           "mask ", shape_str(mask.shape()), " does not match SSIM map ", shape_str(map.shape()));
  MaskedMean r;
  double sum = 0;
  for (int64_t i = 0; i < map.dim(0); ++i)
    for (int64_t j = 0; j < map.dim(1); ++j)
      if (mask.at(i + half, j + half)) {
        sum += map.at(i, j);
        ++r.count;
      }
  r.mean = r.count ? sum / static_cast<double>(r.count) : kNaN;
  return r;
}

int64_t crop_side(const Shape& s) {
  RB_CHECK(s.size() == 3, "target must be [slice y x], got ", shape_str(s));
  return std::min(s[1], s[2]);
}

Array<float> crop_volume(ArrayView<const float> v, int64_t c, const std::string& what) {
  RB_CHECK(v.ndim() == 3, what, ": expected [slice y x], got shape ", shape_str(v.shape()));
  const int64_t s = v.dim(0), h = v.dim(1), w = v.dim(2);
  RB_CHECK(h >= c && w >= c, what, ": image ", h, "x", w, " is smaller than the evaluation crop ",
           c, "x", c);
  Array<float> out({s, c, c});
  const int64_t y0 = (h - c) / 2, x0 = (w - c) / 2;
  for (int64_t k = 0; k < s; ++k)
    for (int64_t i = 0; i < c; ++i)
      std::memcpy(&out.at(k, i, 0), v.data() + (k * h + y0 + i) * w + x0,
                  static_cast<size_t>(c) * sizeof(float));
  return out;
}

void check_finite(ArrayView<const float> v, const std::string& what) {
  const float* p = v.data();
  const int64_t n = v.size();
  int64_t bad = -1;
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(p[i])) {
      bad = i;
      break;
    }
  if (bad < 0) return;
  std::string where;
  if (v.ndim() == 3) {
    const int64_t hw = v.dim(1) * v.dim(2);
    where = cat(" at (slice ", bad / hw, ", y ", (bad % hw) / v.dim(2), ", x ", bad % v.dim(2), ")");
  } else {
    where = cat(" at flat index ", bad);
  }
  RB_CHECK(false, what, ": contains ", std::isnan(p[bad]) ? "NaN" : "infinite", " values",
           where);
}

double mse(ArrayView<const float> x, ArrayView<const float> y) {
  RB_ASSERT(x.size() == y.size() && x.size() > 0);
  double s = 0;
  for (int64_t i = 0; i < x.size(); ++i) {
    const double d = static_cast<double>(x[i]) - static_cast<double>(y[i]);
    s += d * d;
  }
  return s / static_cast<double>(x.size());
}

double nmse(ArrayView<const float> x, ArrayView<const float> y) {
  RB_ASSERT(x.size() == y.size());
  double e = 0, g = 0;
  for (int64_t i = 0; i < x.size(); ++i) {
    const double a = x[i], d = a - static_cast<double>(y[i]);
    e += d * d;
    g += a * a;
  }
  return e / g;
}

double psnr(ArrayView<const float> x, ArrayView<const float> y, double data_range) {
  return 10.0 * std::log10(data_range * data_range / mse(x, y));
}

VolumeMetrics evaluate_volume(ArrayView<const float> target, ArrayView<const float> prediction,
                              const MetricOptions& opts, const std::string& target_name,
                              const std::string& pred_name) {
  check_ssim_options(opts.ssim);
  RB_CHECK(target.ndim() == 3, target_name, ": ground truth must be [slice y x], got shape ",
           shape_str(target.shape()));
  RB_CHECK(prediction.ndim() == 3, pred_name, ": reconstruction must be [slice y x], got shape ",
           shape_str(prediction.shape()));
  RB_CHECK(target.dim(0) > 0, target_name, ": ground truth has no slices");
  RB_CHECK(prediction.dim(0) == target.dim(0), pred_name, ": ", prediction.dim(0),
           " slices, but the ground truth has ", target.dim(0));
  const int64_t c = crop_side(target.shape());
  RB_CHECK(prediction.dim(1) >= c && prediction.dim(2) >= c, pred_name, ": image ",
           prediction.dim(1), "x", prediction.dim(2), " is smaller than the evaluation crop ", c,
           "x", c, " (ground truth ", target.dim(1), "x", target.dim(2), ")");
  RB_CHECK(c >= opts.ssim.win_size, target_name, ": crop ", c, "x", c, " is smaller than the ",
           opts.ssim.win_size, "x", opts.ssim.win_size, " SSIM window");
  check_finite(target, target_name);
  check_finite(prediction, pred_name);

  // Crop (copy only when needed).
  std::optional<Array<float>> xc, yc;
  ArrayView<const float> x = target, y = prediction;
  if (target.dim(1) != c || target.dim(2) != c) {
    xc = crop_volume(target, c, target_name);
    x = xc->view();
  }
  if (prediction.dim(1) != c || prediction.dim(2) != c) {
    yc = crop_volume(prediction, c, pred_name);
    y = yc->view();
  }

  const int64_t S = x.dim(0);
  double R = -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < x.size(); ++i) R = std::max(R, static_cast<double>(x[i]));
  RB_CHECK(R > 0, target_name, ": the ground truth maximum is ", R,
           " (<= 0), so the SSIM/PSNR data range is undefined");

  VolumeMetrics m;
  m.slices = S;
  m.crop = c;
  m.data_range = R;

  std::optional<Array<uint8_t>> mask;
  if (opts.masked) {
    ForegroundMaskOptions mo;
    mo.threads = opts.threads;
    mask = foreground_mask(x, mo);
  }

  std::vector<SliceAccum> acc(static_cast<size_t>(S));
  if (opts.keep_maps) m.ssim_maps.resize(static_cast<size_t>(S));
  const int64_t ow = c - opts.ssim.win_size + 1;
  parallel_for(
      S,
      [&](int64_t s) {
        check_interrupted();
        double* map = nullptr;
        if (opts.keep_maps) {
          m.ssim_maps[s] = Array<double>({ow, ow});
          map = m.ssim_maps[s].data();
        }
        const uint8_t* mk = mask ? mask->data() + s * c * c : nullptr;
        pick_kernel(opts.ssim.win_size)(x.data() + s * c * c, y.data() + s * c * c, c, c,
                                        opts.ssim.win_size, R, opts.ssim, mk, map, acc[s]);
      },
      opts.threads);

  // Reductions in slice order.
  double ssim_sum = 0, err = 0, gt2 = 0, err_m = 0, gt2_m = 0, ssim_m_sum = 0;
  int64_t vox_m = 0, slices_m = 0;
  m.ssim_per_slice.resize(static_cast<size_t>(S));
  m.ssim_masked_per_slice.assign(static_cast<size_t>(S), kNaN);
  for (int64_t s = 0; s < S; ++s) {
    const SliceAccum& a = acc[s];
    m.ssim_per_slice[s] = a.ssim_sum / static_cast<double>(a.ssim_count);
    ssim_sum += m.ssim_per_slice[s];
    err += a.sq_err;
    gt2 += a.sq_gt;
    if (mask) {
      err_m += a.sq_err_masked;
      gt2_m += a.sq_gt_masked;
      vox_m += a.voxels_masked;
      if (a.ssim_masked_count > 0) {
        m.ssim_masked_per_slice[s] = a.ssim_masked_sum / static_cast<double>(a.ssim_masked_count);
        ssim_m_sum += m.ssim_masked_per_slice[s];
        ++slices_m;
      }
    }
  }
  const double nvox = static_cast<double>(x.size());
  m.ssim = ssim_sum / static_cast<double>(S);
  m.mse = err / nvox;
  m.nmse = err / gt2;
  m.psnr = 10.0 * std::log10(R * R / m.mse);
  if (mask) {
    m.mask_fraction = static_cast<double>(vox_m) / nvox;
    m.ssim_masked = slices_m ? ssim_m_sum / static_cast<double>(slices_m) : kNaN;
    m.mse_masked = vox_m ? err_m / static_cast<double>(vox_m) : kNaN;
    m.nmse_masked = vox_m ? err_m / gt2_m : kNaN;
    m.psnr_masked = vox_m ? 10.0 * std::log10(R * R / m.mse_masked) : kNaN;
    if (opts.keep_maps) m.mask = std::move(*mask);
  } else {
    m.ssim_masked = m.psnr_masked = m.nmse_masked = m.mse_masked = kNaN;
    m.mask_fraction = kNaN;
  }
  return m;
}

}  // namespace rb::eval
