#include "reconbench/eval/metrics.hpp"

#include <algorithm>
#include <atomic>
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

// One slice of each volume: the (h, w) region starting at x (row stride sx) and at y (row
// stride sy), so that centre crops need no copy.
struct SlicePair {
  const float* x;
  int64_t sx;
  const float* y;
  int64_t sy;
  int64_t h, w;
};

// The fused kernel over one slice: SSIM over the valid windows, and the squared-error sums
// of the whole slice, in one pass over the rows. With u = x + y, v = x - y (exact in
// double), the column box sums of u, v, u^2, v^2 are running sums over the window rows (add
// the entering row, subtract the leaving one); each row's u, v, u^2, v^2 are computed when
// it enters (and again when it leaves), and the entering row also adds v^2 = (x - y)^2 and
// x^2 to per-column error accumulators. The horizontal window sums come from pair sums
// t2[j] = c[j] + c[j+1]: window = (t2[j] + t2[j+2]) + (t2[j+4] + c[j+6]), fused with the
// SSIM formula. Sums over positions go into one accumulator per column, added up in column
// order at the end, so the loops vectorise and the result is fixed: the build has no
// -ffast-math and FMA contraction is off for the AVX-512 path (the SSE2 and AVX2 paths have
// no FMA), so every ISA path computes the same bits (checked by the unit tests).
//
// Sums and differences u, v need 4 box sums instead of 5:
//   2 mu_x mu_y = (mu_u^2 - mu_v^2) / 2,   mu_x^2 + mu_y^2 = (mu_u^2 + mu_v^2) / 2,
//   2 sigma_xy = (sigma_u^2 - sigma_v^2) / 2, sigma_x^2 + sigma_y^2 = (sigma_u^2 + sigma_v^2) / 2,
// so S = (mu_u^2 - mu_v^2 + 2 C1)(sigma_u^2 - sigma_v^2 + 2 C2)
//      / ((mu_u^2 + mu_v^2 + 2 C1)(sigma_u^2 + sigma_v^2 + 2 C2)),
// evaluated on the sums without the divisions by N (see the kernel). Identical images give
// v = 0 and S = 1 exactly.
//
// The mask (centre pixels) holds 0 or 1, as foreground_mask writes it.
//
// A non-finite input makes sq_err or sq_gt non-finite (finite float squares cannot overflow
// a double sum), which is how evaluate_volume detects NaN/Inf without a separate pass.
// The scratch rows below are disjoint slices of one buffer, which GCC cannot prove, so it
// would not vectorise the loops without being told that iterations are independent.
#if defined(__GNUC__) && !defined(__clang__)
#define RB_EVAL_IVDEP _Pragma("GCC ivdep")
#else
#define RB_EVAL_IVDEP
#endif

template <int64_t kWin, bool kMask, bool kMap>
inline __attribute__((always_inline)) void ssim_kernel_body(
    const SlicePair& in, int64_t win, double data_range, const SsimOptions& o,
    const uint8_t* __restrict mask, double* __restrict map, SliceAccum& acc) {
  if constexpr (kWin > 0) win = kWin;
  const int64_t h = in.h, w = in.w, sx = in.sx, sy = in.sy;
  const int64_t oh = h - win + 1, ow = w - win + 1, half = win / 2;
  // With the window sums A = sum u, B = sum v, P = sum u^2, Q = sum v^2 over N pixels and
  // D = N (N - 1) (sample covariance) or N^2:
  //   mu_u^2 -+ mu_v^2 = (A^2 -+ B^2) / N^2,
  //   sigma_u^2 -+ sigma_v^2 = (N (P -+ Q) - (A^2 -+ B^2)) / D,
  // and numerator and denominator of S multiplied by N^2 D:
  //   S = (A^2 - B^2 + 2 C1 N^2)(N (P - Q) - (A^2 - B^2) + 2 C2 D)
  //     / ((A^2 + B^2 + 2 C1 N^2)(N (P + Q) - (A^2 + B^2) + 2 C2 D)).
  const double n = static_cast<double>(win * win);
  const double d = o.sample_covariance ? n * (n - 1.0) : n * n;
  const double c1 = (o.k1 * data_range) * (o.k1 * data_range);
  const double c2 = (o.k2 * data_range) * (o.k2 * data_range);
  const double k1 = 2.0 * c1 * (n * n), k2 = 2.0 * c2 * d;

  // Scratch, reused across calls on the same thread (no allocation per slice).
  thread_local std::vector<double> scratch;
  const size_t need = static_cast<size_t>(17 * w + 3 * ow);
  if (scratch.size() < need) scratch.resize(need);
  std::fill(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(need), 0.0);
  double* __restrict cu = scratch.data();  // column sums over the window rows
  double* __restrict cv = cu + w;
  double* __restrict cuu = cv + w;
  double* __restrict cvv = cuu + w;
  double* __restrict tu = cvv + w;         // pair sums (kWin == 7) or window sums (generic)
  double* __restrict tv = tu + w;
  double* __restrict tuu = tv + w;
  double* __restrict tvv = tuu + w;
  double* __restrict e = tvv + w;          // per column: sum (x - y)^2, sum x^2
  double* __restrict g = e + w;
  double* __restrict em = g + w;           // the same inside the mask, and the voxel count
  double* __restrict gm = em + w;
  double* __restrict vm = gm + w;
  double* __restrict acc_s = vm + w;       // per output column: sum of S, masked sum, count
  double* __restrict acc_m = acc_s + ow;
  double* __restrict cnt_m = acc_m + ow;
  (void)em, (void)gm, (void)vm, (void)acc_m, (void)cnt_m;

  // Rows 0 .. win-1 enter the first window.
  for (int64_t r = 0; r < win; ++r) {
    const float* __restrict xr = in.x + r * sx;
    const float* __restrict yr = in.y + r * sy;
    const uint8_t* __restrict mr = kMask ? mask + r * w : nullptr;
    RB_EVAL_IVDEP
    for (int64_t j = 0; j < w; ++j) {
      const double a = xr[j], b = yr[j];
      const double u = a + b, v = a - b;
      const double uu = u * u, vv = v * v, aa = a * a;
      cu[j] += u;
      cv[j] += v;
      cuu[j] += uu;
      cvv[j] += vv;
      e[j] += vv;
      g[j] += aa;
      if constexpr (kMask) {
        const double m = static_cast<double>(mr[j]);  // 0 or 1 (foreground_mask)
        em[j] += m * vv;
        gm[j] += m * aa;
        vm[j] += m;
      }
    }
  }

  for (int64_t i = 0; i < oh; ++i) {
    if (i > 0) {  // row i + win - 1 enters, row i - 1 leaves
      const int64_t rn = i + win - 1;
      const float* __restrict xn = in.x + rn * sx;
      const float* __restrict yn = in.y + rn * sy;
      const float* __restrict xo = in.x + (i - 1) * sx;
      const float* __restrict yo = in.y + (i - 1) * sy;
      const uint8_t* __restrict mr = kMask ? mask + rn * w : nullptr;
      RB_EVAL_IVDEP
      for (int64_t j = 0; j < w; ++j) {
        const double a = xn[j], b = yn[j], ao = xo[j], bo = yo[j];
        const double un = a + b, vn = a - b, uo = ao + bo, vo = ao - bo;
        const double vv = vn * vn, aa = a * a;
        cu[j] = cu[j] + un - uo;
        cv[j] = cv[j] + vn - vo;
        cuu[j] = cuu[j] + un * un - uo * uo;
        cvv[j] = cvv[j] + vv - vo * vo;
        e[j] += vv;
        g[j] += aa;
        if constexpr (kMask) {
          const double m = static_cast<double>(mr[j]);  // 0 or 1 (foreground_mask)
          em[j] += m * vv;
          gm[j] += m * aa;
          vm[j] += m;
        }
      }
    }
    if constexpr (kWin == 7) {
      RB_EVAL_IVDEP
      for (int64_t j = 0; j < w - 1; ++j) {
        tu[j] = cu[j] + cu[j + 1];
        tv[j] = cv[j] + cv[j + 1];
        tuu[j] = cuu[j] + cuu[j + 1];
        tvv[j] = cvv[j] + cvv[j + 1];
      }
    } else {
      RB_EVAL_IVDEP
      for (int64_t j = 0; j < ow; ++j) {
        tu[j] = cu[j];
        tv[j] = cv[j];
        tuu[j] = cuu[j];
        tvv[j] = cvv[j];
      }
      for (int64_t t = 1; t < win; ++t) {
        RB_EVAL_IVDEP
        for (int64_t j = 0; j < ow; ++j) {
          tu[j] += cu[j + t];
          tv[j] += cv[j + t];
          tuu[j] += cuu[j + t];
          tvv[j] += cvv[j + t];
        }
      }
    }
    const uint8_t* __restrict mr = kMask ? mask + (i + half) * w + half : nullptr;
    double* __restrict maprow = kMap ? map + i * ow : nullptr;
    RB_EVAL_IVDEP
    for (int64_t j = 0; j < ow; ++j) {
      double su, sv, suu, svv;
      if constexpr (kWin == 7) {
        su = (tu[j] + tu[j + 2]) + (tu[j + 4] + cu[j + 6]);
        sv = (tv[j] + tv[j + 2]) + (tv[j + 4] + cv[j + 6]);
        suu = (tuu[j] + tuu[j + 2]) + (tuu[j + 4] + cuu[j + 6]);
        svv = (tvv[j] + tvv[j + 2]) + (tvv[j + 4] + cvv[j + 6]);
      } else {
        su = tu[j], sv = tv[j], suu = tuu[j], svv = tvv[j];
      }
      const double a2 = su * su, b2 = sv * sv;
      const double dm = a2 - b2, sm = a2 + b2;
      const double dvar = n * (suu - svv) - dm, svar = n * (suu + svv) - sm;
      const double s = ((dm + k1) * (dvar + k2)) / ((sm + k1) * (svar + k2));
      acc_s[j] += s;
      if constexpr (kMap) maprow[j] = s;
      if constexpr (kMask) {
        const double m = static_cast<double>(mr[j]);  // 0 or 1 (foreground_mask)
        acc_m[j] += m * s;
        cnt_m[j] += m;
      }
    }
  }
  double total = 0;
  for (int64_t j = 0; j < ow; ++j) total += acc_s[j];
  acc.ssim_sum = total;
  acc.ssim_count = oh * ow;
  double se = 0, sg = 0;
  RB_EVAL_IVDEP
  for (int64_t j = 0; j < w; ++j) {
    se += e[j];
    sg += g[j];
  }
  acc.sq_err = se;
  acc.sq_gt = sg;
  if constexpr (kMask) {
    double total_m = 0, count_m = 0, sem = 0, sgm = 0, vox = 0;
    RB_EVAL_IVDEP
    for (int64_t j = 0; j < ow; ++j) {
      total_m += acc_m[j];
      count_m += cnt_m[j];
    }
    RB_EVAL_IVDEP
    for (int64_t j = 0; j < w; ++j) {
      sem += em[j];
      sgm += gm[j];
      vox += vm[j];
    }
    acc.ssim_masked_sum = total_m;
    acc.ssim_masked_count = static_cast<int64_t>(count_m);
    acc.sq_err_masked = sem;
    acc.sq_gt_masked = sgm;
    acc.voxels_masked = static_cast<int64_t>(vox);
  }
}

using KernelFn = void (*)(const SlicePair&, int64_t, double, const SsimOptions&,
                          const uint8_t*, double*, SliceAccum&);

template <int64_t kWin, bool kMask, bool kMap>
void kernel_default(const SlicePair& in, int64_t win, double L, const SsimOptions& o,
                    const uint8_t* m, double* map, SliceAccum& a) {
  ssim_kernel_body<kWin, kMask, kMap>(in, win, L, o, m, map, a);
}

#if defined(__x86_64__) && defined(__GNUC__)
#define RB_EVAL_X86_DISPATCH 1
// AVX-512F brings FMA, and GCC contracts a * b + c in C++ even in ISO mode: keep every path
// on the same roundings (separate multiply and add, as the SSE2/AVX2 paths compute).
#if defined(__clang__)
#pragma clang fp contract(off)
#define RB_EVAL_NO_CONTRACT
#else
#define RB_EVAL_NO_CONTRACT __attribute__((optimize("fp-contract=off")))
#endif
template <int64_t kWin, bool kMask, bool kMap>
__attribute__((target("avx2"))) void kernel_avx2(const SlicePair& in, int64_t win, double L,
                                                  const SsimOptions& o, const uint8_t* m,
                                                  double* map, SliceAccum& a) {
  ssim_kernel_body<kWin, kMask, kMap>(in, win, L, o, m, map, a);
}
template <int64_t kWin, bool kMask, bool kMap>
__attribute__((target("avx512f"))) RB_EVAL_NO_CONTRACT void kernel_avx512(const SlicePair& in, int64_t win,
                                                       double L, const SsimOptions& o,
                                                       const uint8_t* m, double* map,
                                                       SliceAccum& a) {
  ssim_kernel_body<kWin, kMask, kMap>(in, win, L, o, m, map, a);
}
#endif

// The kernel variants of one ISA, indexed [win == 7][mask][map].
#define RB_EVAL_KERNEL_TABLE(fn)                                                         \
  {{{{&fn<0, false, false>, &fn<0, false, true>}, {&fn<0, true, false>, &fn<0, true, true>}}, \
    {{&fn<7, false, false>, &fn<7, false, true>}, {&fn<7, true, false>, &fn<7, true, true>}}}}

struct KernelTable {
  KernelFn f[2][2][2];
};
const KernelTable kDefaultKernels = RB_EVAL_KERNEL_TABLE(kernel_default);
#ifdef RB_EVAL_X86_DISPATCH
const KernelTable kAvx2Kernels = RB_EVAL_KERNEL_TABLE(kernel_avx2);
const KernelTable kAvx512Kernels = RB_EVAL_KERNEL_TABLE(kernel_avx512);
#endif

std::atomic<int> g_forced_isa{-1};  // -1: best available (tests may force one)

const KernelTable& kernel_table() {
#ifdef RB_EVAL_X86_DISPATCH
  static const int best = __builtin_cpu_supports("avx512f")  ? 2
                          : __builtin_cpu_supports("avx2") ? 1
                                                           : 0;
  const int f = g_forced_isa.load(std::memory_order_relaxed);
  const int isa = f >= 0 ? std::min(f, best) : best;
  return isa == 2 ? kAvx512Kernels : isa == 1 ? kAvx2Kernels : kDefaultKernels;
#else
  return kDefaultKernels;
#endif
}

void run_kernel(const SlicePair& in, double data_range, const SsimOptions& o,
                const uint8_t* mask, double* map, SliceAccum& acc) {
  kernel_table().f[o.win_size == 7][mask != nullptr][map != nullptr](in, o.win_size, data_range,
                                                                    o, mask, map, acc);
}

SlicePair slice_pair(ArrayView<const float> x, ArrayView<const float> y) {
  return {x.data(), x.dim(1), y.data(), y.dim(1), x.dim(0), x.dim(1)};
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
  run_kernel(slice_pair(x, y), data_range, opts, nullptr, map.data(), acc);
  return map;
}

double ssim_2d(ArrayView<const float> x, ArrayView<const float> y, double data_range,
               const SsimOptions& opts) {
  check_slice_args(x, y, data_range, opts);
  SliceAccum acc;
  run_kernel(slice_pair(x, y), data_range, opts, nullptr, nullptr, acc);
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

namespace {

// Largest value of a (rows x w) region with row stride `stride`, as double, and whether
// every value is finite (x - x is 0 for finite x, NaN for NaN and Inf). The lanes make the
// loop vectorise; max is exact, so the result does not depend on the lane split.
struct RegionMax {
  double max;
  bool finite;
};
RegionMax region_max(const float* p, int64_t rows, int64_t w, int64_t stride) {
  constexpr int kLanes = 16;
  float lane[kLanes], zero[kLanes];
  for (int k = 0; k < kLanes; ++k) {
    lane[k] = -std::numeric_limits<float>::infinity();
    zero[k] = 0.0f;
  }
  for (int64_t i = 0; i < rows; ++i) {
    const float* __restrict r = p + i * stride;
    int64_t j = 0;
    for (; j + kLanes <= w; j += kLanes)
      for (int k = 0; k < kLanes; ++k) {
        const float v = r[j + k];
        lane[k] = v > lane[k] ? v : lane[k];
        zero[k] += v - v;
      }
    for (; j < w; ++j) {
      lane[0] = r[j] > lane[0] ? r[j] : lane[0];
      zero[0] += r[j] - r[j];
    }
  }
  float m = lane[0], z = 0.0f;
  for (int k = 0; k < kLanes; ++k) {
    m = lane[k] > m ? lane[k] : m;
    z += zero[k];
  }
  return {static_cast<double>(m), z == 0.0f};
}

// True if every value of the region is finite (exponent bits not all ones).
bool region_finite(const float* p, int64_t rows, int64_t w, int64_t stride) {
  for (int64_t i = 0; i < rows; ++i) {
    const float* r = p + i * stride;
    uint32_t bad = 0;
    for (int64_t j = 0; j < w; ++j) {
      uint32_t b;
      std::memcpy(&b, r + j, sizeof b);
      bad |= (b & 0x7f800000u) == 0x7f800000u ? 1u : 0u;
    }
    if (bad) return false;
  }
  return true;
}

// Every voxel of [s h w] outside the centre (c, c) crop is finite.
bool outside_crop_finite(ArrayView<const float> v, int64_t c) {
  const int64_t S = v.dim(0), h = v.dim(1), w = v.dim(2);
  if (h == c && w == c) return true;
  const int64_t y0 = (h - c) / 2, x0 = (w - c) / 2;
  for (int64_t s = 0; s < S; ++s) {
    const float* p = v.data() + s * h * w;
    if (!region_finite(p, y0, w, w)) return false;                            // rows above
    if (!region_finite(p + (y0 + c) * w, h - y0 - c, w, w)) return false;     // rows below
    if (!region_finite(p + y0 * w, c, x0, w)) return false;                   // left
    if (!region_finite(p + y0 * w + x0 + c, c, w - x0 - c, w)) return false;  // right
  }
  return true;
}

}  // namespace

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
  // NaN/Inf: the full check (which names the first bad voxel) runs only when the fused
  // detection below finds something, so the errors are the same as checking up front.
  auto check_both_finite = [&] {
    try {
      check_finite(target, target_name);
    } catch (const UserError& e) {
      throw NonFiniteError(e.what(), true);
    }
    try {
      check_finite(prediction, pred_name);
    } catch (const UserError& e) {
      throw NonFiniteError(e.what(), false);
    }
  };
  if (!outside_crop_finite(target, c) || !outside_crop_finite(prediction, c)) check_both_finite();

  // The centre crops as strided regions (no copy).
  const int64_t S = target.dim(0);
  const int64_t th = target.dim(1), tw = target.dim(2), ph = prediction.dim(1),
                pw = prediction.dim(2);
  const float* x0 = target.data() + ((th - c) / 2) * tw + (tw - c) / 2;
  const float* y0 = prediction.data() + ((ph - c) / 2) * pw + (pw - c) / 2;
  auto slice = [&](int64_t s) {
    return SlicePair{x0 + s * th * tw, tw, y0 + s * ph * pw, pw, c, c};
  };

  // Data range and finiteness of the GT crop in one pass (the mask needs finite values);
  // NaN/Inf in the prediction's crop shows up in the kernel's error sums.
  double R = -std::numeric_limits<double>::infinity();
  bool gt_finite = true;
  for (int64_t s = 0; s < S; ++s) {
    const RegionMax r = region_max(x0 + s * th * tw, c, c, tw);
    R = std::max(R, r.max);
    gt_finite = gt_finite && r.finite;
  }
  if (!gt_finite || !(R > 0)) check_both_finite();
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
    if (th == c && tw == c) {
      mask = foreground_mask(target, mo);
    } else {
      const Array<float> xc = crop_volume(target, c, target_name);
      mask = foreground_mask(xc.view(), mo);
    }
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
        run_kernel(slice(s), R, opts.ssim, mk, map, acc[s]);
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
  if (!std::isfinite(err) || !std::isfinite(gt2)) {
    check_both_finite();
    RB_ASSERT(false, "non-finite error sums of finite volumes");
  }
  const double nvox = static_cast<double>(S * c * c);
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

namespace detail {

std::vector<std::string> ssim_kernel_isas() {
  std::vector<std::string> v = {"default"};
#ifdef RB_EVAL_X86_DISPATCH
  if (__builtin_cpu_supports("avx2")) v.push_back("avx2");
  if (__builtin_cpu_supports("avx512f")) v.push_back("avx512f");
#endif
  return v;
}

void force_ssim_kernel_isa(const std::string& isa) {
  const int v = isa.empty() ? -1 : isa == "default" ? 0 : isa == "avx2" ? 1 : isa == "avx512f" ? 2 : -2;
  RB_CHECK(v >= -1, "unknown SSIM kernel ISA '", isa, "' (default, avx2, avx512f)");
  g_forced_isa.store(v, std::memory_order_relaxed);
}

}  // namespace detail

}  // namespace rb::eval
