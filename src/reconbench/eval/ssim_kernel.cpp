#include "reconbench/eval/ssim_kernel.hpp"

#include <algorithm>
#include <atomic>
#include <vector>

#include "reconbench/core/error.hpp"

namespace rb::eval {

namespace {

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

#define RB_EVAL_INLINE inline __attribute__((always_inline))

// The kernel's scratch rows: disjoint slices of one thread-local buffer (reused across calls
// on the same thread, no allocation per slice), zeroed.
struct KernelRows {
  double* cu;  // column sums over the window rows of u, v, u^2, v^2
  double *cv, *cuu, *cvv;
  double* tu;  // pair sums (kWin == 7) or window sums (generic) of the same
  double *tv, *tuu, *tvv;
  double* e;  // per column: sum (x - y)^2, sum x^2
  double* g;
  double* em;  // the same inside the mask, and the voxel count
  double *gm, *vm;
  double* acc_s;  // per output column: sum of S, masked sum, count
  double *acc_m, *cnt_m;
};

KernelRows kernel_rows(int64_t w, int64_t ow) {
  thread_local std::vector<double> scratch;
  const size_t need = static_cast<size_t>(17 * w + 3 * ow);
  if (scratch.size() < need) scratch.resize(need);
  std::fill(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(need), 0.0);
  double* p = scratch.data();
  KernelRows r{};
  for (double** row : {&r.cu, &r.cv, &r.cuu, &r.cvv, &r.tu, &r.tv, &r.tuu, &r.tvv, &r.e, &r.g,
                       &r.em, &r.gm, &r.vm})
    *row = p, p += w;
  for (double** row : {&r.acc_s, &r.acc_m, &r.cnt_m}) *row = p, p += ow;
  return r;
}

// Row (xr, yr) enters the column sums (and the error sums); with a previous row (xo, yo)
// that leaves the window, its contribution is subtracted.
template <bool kMask, bool kLeave>
RB_EVAL_INLINE void kernel_row(const float* __restrict xr, const float* __restrict yr,
                               const float* __restrict xo, const float* __restrict yo,
                               const uint8_t* __restrict mr, int64_t w, double* __restrict cu,
                               double* __restrict cv, double* __restrict cuu,
                               double* __restrict cvv, double* __restrict e, double* __restrict g,
                               double* __restrict em, double* __restrict gm,
                               double* __restrict vm) {
  RB_EVAL_IVDEP
  for (int64_t j = 0; j < w; ++j) {
    const double a = xr[j], b = yr[j];
    const double u = a + b, v = a - b;
    const double uu = u * u, vv = v * v, aa = a * a;
    if constexpr (kLeave) {
      const double ao = xo[j], bo = yo[j];
      const double uo = ao + bo, vo = ao - bo;
      cu[j] = cu[j] + u - uo;
      cv[j] = cv[j] + v - vo;
      cuu[j] = cuu[j] + uu - uo * uo;
      cvv[j] = cvv[j] + vv - vo * vo;
    } else {
      cu[j] += u;
      cv[j] += v;
      cuu[j] += uu;
      cvv[j] += vv;
    }
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

// One output row: the horizontal window sums of the column sums (pairs c[j] + c[j+1]
// combined for the 7-wide window, plain sums otherwise), S at every window position (the
// formula below), added to the per-column accumulators; mr: the mask at the windows'
// centres; maprow: the map row.
template <int64_t kWin, bool kMask, bool kMap>
RB_EVAL_INLINE void ssim_row(int64_t w, int64_t ow, int64_t win, double n, double k1, double k2,
                             const uint8_t* __restrict mr, double* __restrict maprow,
                             const KernelRows& k) {
  const double* __restrict cu = k.cu;
  const double* __restrict cv = k.cv;
  const double* __restrict cuu = k.cuu;
  const double* __restrict cvv = k.cvv;
  double* __restrict tu = k.tu;
  double* __restrict tv = k.tv;
  double* __restrict tuu = k.tuu;
  double* __restrict tvv = k.tvv;
  double* __restrict acc_s = k.acc_s;
  double* __restrict acc_m = k.acc_m;
  double* __restrict cnt_m = k.cnt_m;
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

// The per-column accumulators added up in column order into the slice's results.
template <bool kMask>
RB_EVAL_INLINE void reduce_columns(int64_t w, int64_t ow, int64_t oh, const KernelRows& k,
                                   SliceAccum& acc) {
  double total = 0;
  for (int64_t j = 0; j < ow; ++j) total += k.acc_s[j];
  acc.ssim_sum = total;
  acc.ssim_count = oh * ow;
  double se = 0, sg = 0;
  RB_EVAL_IVDEP
  for (int64_t j = 0; j < w; ++j) {
    se += k.e[j];
    sg += k.g[j];
  }
  acc.sq_err = se;
  acc.sq_gt = sg;
  if constexpr (kMask) {
    double total_m = 0, count_m = 0, sem = 0, sgm = 0, vox = 0;
    RB_EVAL_IVDEP
    for (int64_t j = 0; j < ow; ++j) {
      total_m += k.acc_m[j];
      count_m += k.cnt_m[j];
    }
    RB_EVAL_IVDEP
    for (int64_t j = 0; j < w; ++j) {
      sem += k.em[j];
      sgm += k.gm[j];
      vox += k.vm[j];
    }
    acc.ssim_masked_sum = total_m;
    acc.ssim_masked_count = static_cast<int64_t>(count_m);
    acc.sq_err_masked = sem;
    acc.sq_gt_masked = sgm;
    acc.voxels_masked = static_cast<int64_t>(vox);
  }
}

template <int64_t kWin, bool kMask, bool kMap>
RB_EVAL_INLINE void ssim_kernel_body(const SlicePair& in, int64_t win, double data_range,
                                     const SsimOptions& o, const uint8_t* __restrict mask,
                                     double* __restrict map, SliceAccum& acc) {
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
  const KernelRows rows = kernel_rows(w, ow);
  // Rows 0 .. win-1 enter the first window.
  const KernelRows& k = rows;
  for (int64_t r = 0; r < win; ++r)
    kernel_row<kMask, false>(in.x + r * sx, in.y + r * sy, nullptr, nullptr,
                             kMask ? mask + r * w : nullptr, w, k.cu, k.cv, k.cuu, k.cvv, k.e,
                             k.g, k.em, k.gm, k.vm);
  for (int64_t i = 0; i < oh; ++i) {
    if (i > 0) {  // row i + win - 1 enters, row i - 1 leaves
      const int64_t rn = i + win - 1;
      kernel_row<kMask, true>(in.x + rn * sx, in.y + rn * sy, in.x + (i - 1) * sx,
                              in.y + (i - 1) * sy, kMask ? mask + rn * w : nullptr, w, k.cu,
                              k.cv, k.cuu, k.cvv, k.e, k.g, k.em, k.gm, k.vm);
    }
    ssim_row<kWin, kMask, kMap>(w, ow, win, n, k1, k2,
                                kMask ? mask + (i + half) * w + half : nullptr,
                                kMap ? map + i * ow : nullptr, rows);
  }
  reduce_columns<kMask>(w, ow, oh, rows, acc);
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


}  // namespace

void run_kernel(const SlicePair& in, double data_range, const SsimOptions& o,
                const uint8_t* mask, double* map, SliceAccum& acc) {
  kernel_table().f[o.win_size == 7][mask != nullptr][map != nullptr](in, o.win_size, data_range,
                                                                    o, mask, map, acc);
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
