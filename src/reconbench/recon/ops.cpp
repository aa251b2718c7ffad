#include "reconbench/recon/ops.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>

#include "reconbench/core/parallel.hpp"
#include "reconbench/fft/fft.hpp"
#include "reconbench/recon/threads.hpp"

namespace rb::recon {

namespace {
// Threads for a wavelet pass over `elements` samples: a thread start costs ~20-50 us, more
// than a pass over a small coarse level, so those run on the calling thread.
int pass_threads(int64_t elements) { return elements >= 32768 ? recon_threads() : 1; }
}  // namespace

// ---- wavelet ---------------------------------------------------------------------------
namespace {

// Daubechies-2 (4 taps) scaling filter h; wavelet filter g[k] = (-1)^k h[3 - k].
constexpr double kS3 = 1.7320508075688772;
constexpr double kNorm = 5.656854249492381;  // 4 sqrt(2)
constexpr float kH[4] = {float((1 + kS3) / kNorm), float((3 + kS3) / kNorm),
                         float((3 - kS3) / kNorm), float((1 - kS3) / kNorm)};
constexpr float kG[4] = {kH[3], -kH[2], kH[1], -kH[0]};

// One periodic analysis step on a strided line of even length n:
//   a[i] = sum_k h[k] x[(2i + k) mod n],  d[i] = sum_k g[k] x[(2i + k) mod n]
// output [a (n/2), d (n/2)] written back into the line.
void analysis_line(cfloat* x, int64_t n, int64_t stride, cfloat* tmp) {
  const int64_t half = n / 2;
  for (int64_t i = 0; i < half; ++i) {
    float ar = 0, ai = 0, dr = 0, di = 0;
    for (int k = 0; k < 4; ++k) {
      const cfloat v = x[((2 * i + k) % n) * stride];
      ar += kH[k] * v.real();
      ai += kH[k] * v.imag();
      dr += kG[k] * v.real();
      di += kG[k] * v.imag();
    }
    tmp[i] = {ar, ai};
    tmp[half + i] = {dr, di};
  }
  for (int64_t i = 0; i < n; ++i) x[i * stride] = tmp[i];
}

// Synthesis = transpose of the analysis (orthogonal): x[(2i + k) mod n] += h[k] a[i] + g[k] d[i].
void synthesis_line(cfloat* x, int64_t n, int64_t stride, cfloat* tmp) {
  const int64_t half = n / 2;
  for (int64_t i = 0; i < n; ++i) tmp[i] = 0;
  for (int64_t i = 0; i < half; ++i) {
    const cfloat a = x[i * stride], d = x[(half + i) * stride];
    for (int k = 0; k < 4; ++k) {
      cfloat& t = tmp[(2 * i + k) % n];
      t = {t.real() + kH[k] * a.real() + kG[k] * d.real(),
           t.imag() + kH[k] * a.imag() + kG[k] * d.imag()};
    }
  }
  for (int64_t i = 0; i < n; ++i) x[i * stride] = tmp[i];
}

}  // namespace

WaveletPlan make_wavelet_plan(int64_t h, int64_t w, int64_t min_size) {
  WaveletPlan p;
  p.h = h;
  p.w = w;
  int64_t bh = h, bw = w;
  for (;;) {
    const bool sh = bh % 2 == 0 && bh / 2 >= min_size;
    const bool sw = bw % 2 == 0 && bw / 2 >= min_size;
    if (!sh && !sw) break;
    p.levels.push_back({bh, bw, sh, sw});
    if (sh) bh /= 2;
    if (sw) bw /= 2;
  }
  p.coarse_h = bh;
  p.coarse_w = bw;
  return p;
}

void dwt2(const WaveletPlan& p, cfloat* x) {
  std::vector<cfloat> tmp(static_cast<size_t>(std::max(p.h, p.w)));
  for (const auto& lv : p.levels) {
    if (lv.split_w)
      for (int64_t i = 0; i < lv.bh; ++i) analysis_line(x + i * p.w, lv.bw, 1, tmp.data());
    if (lv.split_h)
      for (int64_t j = 0; j < lv.bw; ++j) analysis_line(x + j, lv.bh, p.w, tmp.data());
  }
}

void idwt2(const WaveletPlan& p, cfloat* x) {
  std::vector<cfloat> tmp(static_cast<size_t>(std::max(p.h, p.w)));
  for (auto it = p.levels.rbegin(); it != p.levels.rend(); ++it) {
    const auto& lv = *it;
    if (lv.split_h)
      for (int64_t j = 0; j < lv.bw; ++j) synthesis_line(x + j, lv.bh, p.w, tmp.data());
    if (lv.split_w)
      for (int64_t i = 0; i < lv.bh; ++i) synthesis_line(x + i * p.w, lv.bw, 1, tmp.data());
  }
}

void circshift2(const cfloat* in, cfloat* out, int64_t h, int64_t w, int64_t sy, int64_t sx) {
  sy = ((sy % h) + h) % h;
  sx = ((sx % w) + w) % w;
  parallel_for(
      h,
      [&](int64_t i) {
        cfloat* orow = out + ((i + sy) % h) * w;
        const cfloat* irow = in + i * w;
        std::copy(irow, irow + (w - sx), orow + sx);
        std::copy(irow + (w - sx), irow + w, orow);
      },
      pass_threads(h * w));
}

LinOp wavelet_op(int64_t h, int64_t w, int64_t sy, int64_t sx, int64_t min_size) {
  auto plan = std::make_shared<WaveletPlan>(make_wavelet_plan(h, w, min_size));
  const int64_t n = h * w;
  auto fw = [plan, h, w, sy, sx](CCSpan x, CSpan y) {
    circshift2(x.data(), y.data(), h, w, sy, sx);
    dwt2(*plan, y.data());
  };
  auto tmp = std::make_shared<CVec>(static_cast<size_t>(n));
  auto ad = [plan, h, w, sy, sx, tmp](CCSpan y, CSpan x) {
    std::copy(y.begin(), y.end(), tmp->begin());
    idwt2(*plan, tmp->data());
    circshift2(tmp->data(), x.data(), h, w, -sy, -sx);
  };
  auto nr = [](CCSpan x, CSpan z) { std::copy(x.begin(), x.end(), z.begin()); };
  return LinOp("wavelet", n, n, fw, ad, nr);
}

// ---- BART's wavelet ------------------------------------------------------------------
namespace {

// BART wavelet_dau2[2][2][4]: [analysis, synthesis][low, high][tap], as in wavelet.c.
constexpr float kBartDau2[2][2][4] = {
    {{-0.1294095225512603f, +0.2241438680420134f, +0.8365163037378077f, +0.4829629131445341f},
     {-0.4829629131445341f, +0.8365163037378077f, -0.2241438680420134f, -0.1294095225512603f}},
    {{+0.4829629131445341f, +0.8365163037378077f, +0.2241438680420134f, -0.1294095225512603f},
     {-0.1294095225512603f, -0.2241438680420134f, +0.8365163037378077f, -0.4829629131445341f}},
};
constexpr int kFlen = 4;

int64_t bart_bandsize(int64_t n) { return (n + kFlen - 1) / 2; }


// BART coord(): input index of output j, tap l, with half-sample symmetric extension.
int64_t bart_coord(int64_t j, int64_t n, int l) {
  int64_t m = 2 * j + 1 - (kFlen - 1) + l;
  if (m < 0) m = -m - 1;
  if (m >= n) m = n - 1 - (m - n);
  return m;
}

// Analysis along axis 0 of in [n rows, cols] -> out [2 b rows, cols] (low rows, then high):
//   out[j] = sum_l in[coord(j, l)] f[flen - 1 - l]   (BART wavelet_down3)
void down_rows(const cfloat* in, int64_t n, int64_t cols, cfloat* out) {
  const int64_t b = bart_bandsize(n);
  parallel_for(b, [&](int64_t j) {
    cfloat* lo = out + j * cols;
    cfloat* hi = out + (b + j) * cols;
    std::fill(lo, lo + cols, cfloat(0));
    std::fill(hi, hi + cols, cfloat(0));
    for (int l = 0; l < kFlen; ++l) {
      const cfloat* src = in + bart_coord(j, n, l) * cols;
      const float fl = kBartDau2[0][0][kFlen - l - 1], fh = kBartDau2[0][1][kFlen - l - 1];
      for (int64_t c = 0; c < cols; ++c) {
        lo[c] += fl * src[c];
        hi[c] += fh * src[c];
      }
    }
  }, pass_threads(n * cols));
}

// The same along axis 1 of in [rows, n] -> out [rows, 2 b]. Outputs 1 .. (n - 2) / 2 read
// in[2j - 2 .. 2j + 1] with no reflection, so only the edge outputs call bart_coord(); the
// sums run in the same order either way. (The interior loop is written out rather than
// shared with edge() through an index callback: that version ran the whole wavelet prox
// 2.2x slower, BM_WaveletThresh/threads:1 5.4 vs 2.5 ms.)
void down_cols(const cfloat* in, int64_t rows, int64_t n, cfloat* out) {
  const int64_t b = bart_bandsize(n), j_end = std::min(b, (n - 2) / 2 + 1);
  parallel_for(rows, [&](int64_t r) {
    const cfloat* src = in + r * n;
    cfloat* dst = out + r * 2 * b;
    auto edge = [&](int64_t j) {
      cfloat lo = 0, hi = 0;
      for (int l = 0; l < kFlen; ++l) {
        const cfloat v = src[bart_coord(j, n, l)];
        lo += kBartDau2[0][0][kFlen - l - 1] * v;
        hi += kBartDau2[0][1][kFlen - l - 1] * v;
      }
      dst[j] = lo;
      dst[b + j] = hi;
    };
    if (b > 0) edge(0);
    for (int64_t j = 1; j < j_end; ++j) {
      const cfloat* s = src + 2 * j - 2;
      cfloat lo = 0, hi = 0;
      for (int l = 0; l < kFlen; ++l) {
        lo += kBartDau2[0][0][kFlen - l - 1] * s[l];
        hi += kBartDau2[0][1][kFlen - l - 1] * s[l];
      }
      dst[j] = lo;
      dst[b + j] = hi;
    }
    for (int64_t j = std::max<int64_t>(j_end, 1); j < b; ++j) edge(j);
  }, pass_threads(rows * n));
}

// Synthesis (BART wavelet_up3) along axis 0: in [2 b rows, cols] -> out [n rows, cols],
//   out[i] = sum_{l = (i+1)%2, step 2} (lo[j] g_lo[flen-1-l] + hi[j] g_hi[flen-1-l]),
//   j = (i + l - 1) / 2 where 0 <= j < b.
void up_rows(const cfloat* in, int64_t n, int64_t cols, cfloat* out) {
  const int64_t b = bart_bandsize(n);
  parallel_for(n, [&](int64_t i) {
    cfloat* dst = out + i * cols;
    std::fill(dst, dst + cols, cfloat(0));
    for (int l = static_cast<int>((i + 1) % 2); l < kFlen; l += 2) {
      const int64_t j = (i + l - 1) / 2;
      if (j < 0 || j >= b) continue;
      const cfloat* lo = in + j * cols;
      const cfloat* hi = in + (b + j) * cols;
      const float gl = kBartDau2[1][0][kFlen - l - 1], gh = kBartDau2[1][1][kFlen - l - 1];
      for (int64_t c = 0; c < cols; ++c) dst[c] += gl * lo[c] + gh * hi[c];
    }
  }, pass_threads(n * cols));
}

void up_cols(const cfloat* in, int64_t rows, int64_t n, cfloat* out) {
  const int64_t b = bart_bandsize(n);
  parallel_for(rows, [&](int64_t r) {
    const cfloat* src = in + r * 2 * b;
    cfloat* dst = out + r * n;
    for (int64_t i = 0; i < n; ++i) {
      cfloat acc = 0;
      for (int l = static_cast<int>((i + 1) % 2); l < kFlen; l += 2) {
        const int64_t j = (i + l - 1) / 2;
        if (j < 0 || j >= b) continue;
        acc += kBartDau2[1][0][kFlen - l - 1] * src[j] + kBartDau2[1][1][kFlen - l - 1] * src[b + j];
      }
      dst[i] = acc;
    }
  }, pass_threads(rows * n));
}

// BART wavelet_num_levels for one axis: 1 + number of splits (see make_bart_wavelet_plan).
int bart_axis_levels(int64_t n, int64_t min) {
  int levels = 1;
  bool split = n > 1;
  while (split) {
    const int64_t b = bart_bandsize(n);
    ++levels;
    split = b >= min && b < n;
    n = b;
  }
  return levels;
}

}  // namespace

BartWaveletPlan make_bart_wavelet_plan(int64_t h, int64_t w, int64_t min_size) {
  RB_CHECK(h >= 1 && w >= 1 && min_size >= 3, "wavelet: bad size ", h, "x", w, " / min ",
           min_size);
  BartWaveletPlan p;
  p.h = h;
  p.w = w;
  const int64_t min0 = std::min(h, min_size), min1 = std::min(w, min_size);
  int64_t n0 = h, n1 = w;
  bool s0 = h > 1, s1 = w > 1;
  while (s0 || s1) {
    BartWaveletPlan::Level lv{n0, n1, s0, s1, 0, 0, 0, 0};
    lv.b0 = s0 ? bart_bandsize(n0) : n0;
    lv.b1 = s1 ? bart_bandsize(n1) : n1;
    lv.m0 = s0 ? 2 * lv.b0 : n0;
    lv.m1 = s1 ? 2 * lv.b1 : n1;
    p.levels.push_back(lv);
    // wavelet_filter_flags: an axis stops once its band is below the minimum size (and,
    // unlike BART, once it no longer shrinks, so tiny axes cannot loop).
    s0 = s0 && lv.b0 >= min0 && lv.b0 < n0;
    s1 = s1 && lv.b1 >= min1 && lv.b1 < n1;
    n0 = lv.b0;
    n1 = lv.b1;
  }
  p.shift_levels_y = h > 1 ? bart_axis_levels(h, min0) : 0;
  p.shift_levels_x = w > 1 ? bart_axis_levels(w, min1) : 0;
  return p;
}

namespace {

size_t coeff_count(const BartWaveletPlan& p) {
  size_t total = 0;
  for (const auto& lv : p.levels) total += static_cast<size_t>(lv.m0 * lv.m1);
  return total;
}

// Forward transform of x [h w] into out (coeff_count), scratch in ws.
void fwt_into(const BartWaveletPlan& p, const cfloat* x, cfloat* out, BartWaveletWork& ws) {
  const cfloat* cur = x;
  size_t off = 0;
  for (const auto& lv : p.levels) {
    cfloat* dst = out + off;
    // axis 0 (y) first, then axis 1 (x), as BART fwtN
    const cfloat* src = cur;
    if (lv.s0) {
      ws.tmp.resize(static_cast<size_t>(lv.m0 * lv.n1));
      down_rows(src, lv.n0, lv.n1, ws.tmp.data());
      src = ws.tmp.data();
    }
    if (lv.s1) {
      down_cols(src, lv.m0, lv.n1, dst);
    } else {
      std::copy(src, src + lv.m0 * lv.n1, dst);
    }
    // next level input: the low-low band [b0 b1]
    ws.cur.resize(static_cast<size_t>(lv.b0 * lv.b1));
    for (int64_t i = 0; i < lv.b0; ++i)
      std::copy(dst + i * lv.m1, dst + i * lv.m1 + lv.b1, ws.cur.data() + i * lv.b1);
    cur = ws.cur.data();
    off += static_cast<size_t>(lv.m0 * lv.m1);
  }
}

// Inverse; overwrites the low-low bands of c (all levels but the last) with the coarser
// reconstruction on the way up.
void iwt_inplace(const BartWaveletPlan& p, cfloat* c, cfloat* x, BartWaveletWork& ws) {
  std::vector<size_t> offs;
  size_t off = 0;
  for (const auto& lv : p.levels) {
    offs.push_back(off);
    off += static_cast<size_t>(lv.m0 * lv.m1);
  }
  for (size_t l = p.levels.size(); l-- > 0;) {
    const auto& lv = p.levels[l];
    cfloat* blk = c + offs[l];
    if (l + 1 < p.levels.size())  // low-low band from the coarser level (in ws.rec)
      for (int64_t i = 0; i < lv.b0; ++i)
        std::copy(ws.rec.data() + i * lv.b1, ws.rec.data() + (i + 1) * lv.b1, blk + i * lv.m1);
    // axis 1 (x) first, then axis 0 (y), as BART iwtN
    const cfloat* src = blk;
    if (lv.s1) {
      ws.tmp.resize(static_cast<size_t>(lv.m0 * lv.n1));
      up_cols(src, lv.m0, lv.n1, ws.tmp.data());
      src = ws.tmp.data();
    }
    cfloat* dst = x;
    if (l > 0) {
      ws.rec2.resize(static_cast<size_t>(lv.n0 * lv.n1));
      dst = ws.rec2.data();
    }
    if (lv.s0) {
      up_rows(src, lv.n0, lv.n1, dst);
    } else {
      std::copy(src, src + lv.n0 * lv.n1, dst);
    }
    if (l > 0) std::swap(ws.rec, ws.rec2);
  }
}

}  // namespace

std::vector<cfloat> bart_fwt(const BartWaveletPlan& p, const cfloat* x) {
  BartWaveletWork ws;
  std::vector<cfloat> out(coeff_count(p));
  fwt_into(p, x, out.data(), ws);
  return out;
}

void bart_iwt(const BartWaveletPlan& p, const std::vector<cfloat>& coeffs, cfloat* x) {
  RB_ASSERT(coeffs.size() == coeff_count(p), "wavelet coefficients ", coeffs.size(), " vs ",
            coeff_count(p));
  BartWaveletWork ws;
  std::vector<cfloat> c = coeffs;
  iwt_inplace(p, c.data(), x, ws);
}

void bart_wavelet_thresh(const BartWaveletPlan& p, cfloat* x, float lambda, int64_t sy,
                         int64_t sx, BartWaveletWork* work) {
  BartWaveletWork local;
  BartWaveletWork& ws = work ? *work : local;
  const int64_t n = p.h * p.w;
  ws.shifted.resize(static_cast<size_t>(n));
  ws.coeffs.resize(coeff_count(p));
  circshift2(x, ws.shifted.data(), p.h, p.w, sy, sx);
  fwt_into(p, ws.shifted.data(), ws.coeffs.data(), ws);
  // md_zsoftthresh over every coefficient (the low-low bands of all but the last level are
  // not coefficients: BART never stores them, and the inverse replaces them).
  size_t off = 0;
  for (size_t l = 0; l < p.levels.size(); ++l) {
    const auto& lv = p.levels[l];
    const bool last = l + 1 == p.levels.size();
    cfloat* blk = ws.coeffs.data() + off;
    parallel_for(
        lv.m0,
        [&](int64_t i) {
          for (int64_t j = (!last && i < lv.b0) ? lv.b1 : 0; j < lv.m1; ++j) {
            cfloat& v = blk[i * lv.m1 + j];
            const float a = std::hypot(v.real(), v.imag());
            v = a > lambda ? v * ((a - lambda) / a) : cfloat(0);
          }
        },
        pass_threads(lv.m0 * lv.m1));
    off += static_cast<size_t>(lv.m0 * lv.m1);
  }
  iwt_inplace(p, ws.coeffs.data(), ws.shifted.data(), ws);
  circshift2(ws.shifted.data(), x, p.h, p.w, -sy, -sx);
}

int bart_rand_lim(unsigned int* state, int limit) {
  const int divisor = RAND_MAX / (limit + 1);
  int r;
  do {
    r = rand_r(state) / divisor;
  } while (r > limit);
  return r;
}

// ---- finite differences --------------------------------------------------------------
void fdiff_forward(const cfloat* x, cfloat* d, int64_t h, int64_t w) {
  cfloat* d0 = d;
  cfloat* d1 = d + h * w;
  for (int64_t i = 0; i < h; ++i) {
    const cfloat* row = x + i * w;
    const cfloat* next = x + ((i + 1) % h) * w;
    for (int64_t j = 0; j < w; ++j) {
      d0[i * w + j] = next[j] - row[j];
      d1[i * w + j] = row[(j + 1) % w] - row[j];
    }
  }
}

// D^H d: (D^H d)[y, x] = d0[y-1, x] - d0[y, x] + d1[y, x-1] - d1[y, x]
void fdiff_adjoint(const cfloat* d, cfloat* x, int64_t h, int64_t w) {
  const cfloat* d0 = d;
  const cfloat* d1 = d + h * w;
  for (int64_t i = 0; i < h; ++i) {
    const int64_t ip = (i + h - 1) % h;
    for (int64_t j = 0; j < w; ++j) {
      const int64_t jp = (j + w - 1) % w;
      x[i * w + j] = d0[ip * w + j] - d0[i * w + j] + d1[i * w + jp] - d1[i * w + j];
    }
  }
}

LinOp fdiff_op(int64_t h, int64_t w) {
  auto fw = [h, w](CCSpan x, CSpan y) { fdiff_forward(x.data(), y.data(), h, w); };
  auto ad = [h, w](CCSpan y, CSpan x) { fdiff_adjoint(y.data(), x.data(), h, w); };
  return LinOp("fdiff", h * w, 2 * h * w, fw, ad);
}

// ---- BART gradient -------------------------------------------------------------------
void bart_grad_forward(const cfloat* x, cfloat* d, int64_t h, int64_t w) {
  cfloat* d0 = d;
  cfloat* d1 = d + h * w;
  for (int64_t i = 0; i < h; ++i) {
    const cfloat* row = x + i * w;
    const cfloat* prev = x + ((i + h - 1) % h) * w;
    cfloat* o0 = d0 + i * w;
    cfloat* o1 = d1 + i * w;
    for (int64_t j = 0; j < w; ++j) o0[j] = row[j] - prev[j];
    o1[0] = row[0] - row[w - 1];
    for (int64_t j = 1; j < w; ++j) o1[j] = row[j] - row[j - 1];
  }
}

// G^H d: (G^H d)[y, x] = d0[y, x] - d0[y+1, x] + d1[y, x] - d1[y, x+1]
void bart_grad_adjoint(const cfloat* d, cfloat* x, int64_t h, int64_t w) {
  const cfloat* d0 = d;
  const cfloat* d1 = d + h * w;
  for (int64_t i = 0; i < h; ++i) {
    const cfloat* a = d0 + i * w;
    const cfloat* an = d0 + ((i + 1) % h) * w;
    const cfloat* c = d1 + i * w;
    cfloat* o = x + i * w;
    for (int64_t j = 0; j + 1 < w; ++j) o[j] = a[j] - an[j] + c[j] - c[j + 1];
    o[w - 1] = a[w - 1] - an[w - 1] + c[w - 1] - c[0];
  }
}

LinOp bart_grad_op(int64_t h, int64_t w) {
  auto fw = [h, w](CCSpan x, CSpan y) { bart_grad_forward(x.data(), y.data(), h, w); };
  auto ad = [h, w](CCSpan y, CSpan x) { bart_grad_adjoint(y.data(), x.data(), h, w); };
  return LinOp("bart_grad", h * w, 2 * h * w, fw, ad);
}

// ---- SENSE building blocks -----------------------------------------------------------
LinOp fft2c_op(int64_t batch, int64_t h, int64_t w) {
  const int64_t n = batch * h * w;
  auto fw = [batch, h, w](CCSpan x, CSpan y) {
    std::copy(x.begin(), x.end(), y.begin());
    fft2c(ArrayView<cfloat>(y.data(), {batch, h, w}));
  };
  auto ad = [batch, h, w](CCSpan y, CSpan x) {
    std::copy(y.begin(), y.end(), x.begin());
    ifft2c(ArrayView<cfloat>(x.data(), {batch, h, w}));
  };
  auto nr = [](CCSpan x, CSpan z) { std::copy(x.begin(), x.end(), z.begin()); };
  return LinOp("fft2c", n, n, fw, ad, nr);
}

LinOp sampling_op(std::span<const float> pattern, int64_t coils, int64_t h) {
  auto pat = std::make_shared<std::vector<float>>(pattern.begin(), pattern.end());
  const int64_t w = static_cast<int64_t>(pat->size());
  auto apply = [pat, w](CCSpan x, CSpan y) {
    for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * (*pat)[i % w];
  };
  auto nrm = [pat, w](CCSpan x, CSpan y) {
    for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * ((*pat)[i % w] * (*pat)[i % w]);
  };
  return LinOp("sampling", coils * h * w, coils * h * w, apply, apply, nrm);
}

LinOp coil_op(ArrayView<const cfloat> maps) {
  RB_ASSERT(maps.ndim() == 4, "maps [map coil y x]");
  const int64_t nm = maps.dim(0), nc = maps.dim(1), np = maps.dim(2) * maps.dim(3);
  auto fw = [maps, nm, nc, np](CCSpan x, CSpan y) {
    for (int64_t c = 0; c < nc; ++c)
      for (int64_t p = 0; p < np; ++p) {
        cfloat s = 0;
        for (int64_t m = 0; m < nm; ++m) s += maps[(m * nc + c) * np + p] * x[m * np + p];
        y[c * np + p] = s;
      }
  };
  auto ad = [maps, nm, nc, np](CCSpan y, CSpan x) {
    for (int64_t m = 0; m < nm; ++m)
      for (int64_t p = 0; p < np; ++p) {
        cfloat s = 0;
        for (int64_t c = 0; c < nc; ++c) s += std::conj(maps[(m * nc + c) * np + p]) * y[c * np + p];
        x[m * np + p] = s;
      }
  };
  return LinOp("coils", nm * np, nc * np, fw, ad);
}

SenseOperator::SenseOperator(ArrayView<const cfloat> maps, std::span<const float> pattern)
    : maps_(maps), pattern_(pattern.begin(), pattern.end()) {
  RB_ASSERT(maps.ndim() == 4, "maps [map coil y x]");
  nm_ = maps.dim(0);
  nc_ = maps.dim(1);
  h_ = maps.dim(2);
  w_ = maps.dim(3);
  RB_ASSERT(static_cast<int64_t>(pattern_.size()) == w_, "pattern length ", pattern_.size(),
            " vs phase ", w_);
  scratch_.resize(static_cast<size_t>(nc_ * h_ * w_));
}

namespace {

// t = sum_m S_mc x_m for one coil (manual complex arithmetic: no __mulsc3 calls).
void coil_image(const cfloat* maps, const cfloat* x, cfloat* t, int64_t nm, int64_t nc, int64_t c,
                int64_t np) {
  const cfloat* s0 = maps + c * np;
  for (int64_t p = 0; p < np; ++p) {
    const float sr = s0[p].real(), si = s0[p].imag(), xr = x[p].real(), xi = x[p].imag();
    t[p] = {sr * xr - si * xi, sr * xi + si * xr};
  }
  for (int64_t m = 1; m < nm; ++m) {
    const cfloat* s = maps + (m * nc + c) * np;
    const cfloat* xm = x + m * np;
    for (int64_t p = 0; p < np; ++p) {
      const float sr = s[p].real(), si = s[p].imag(), xr = xm[p].real(), xi = xm[p].imag();
      t[p] = {t[p].real() + sr * xr - si * xi, t[p].imag() + sr * xi + si * xr};
    }
  }
}
}  // namespace

void SenseOperator::forward(const cfloat* x, cfloat* y) const {
  const int64_t np = h_ * w_;
  parallel_for(
      nc_,
      [&](int64_t c) {
        cfloat* t = y + c * np;
        coil_image(maps_.data(), x, t, nm_, nc_, c, np);
        fft2c(ArrayView<cfloat>(t, {h_, w_}));
        for (int64_t i = 0; i < h_; ++i)
          for (int64_t j = 0; j < w_; ++j) t[i * w_ + j] *= pattern_[j];
      },
      recon_threads());
}

void SenseOperator::combine(cfloat* x) const {
  const int64_t np = h_ * w_;
  const int64_t block = 4096;
  const int64_t nblocks = (np + block - 1) / block;
  parallel_for(
      nblocks,
      [&](int64_t b) {
        const int64_t p0 = b * block, p1 = std::min(np, p0 + block);
        for (int64_t m = 0; m < nm_; ++m) {
          cfloat* xm = x + m * np;
          for (int64_t p = p0; p < p1; ++p) xm[p] = 0;
          for (int64_t c = 0; c < nc_; ++c) {
            const cfloat* s = maps_.data() + (m * nc_ + c) * np;
            const cfloat* t = scratch_.data() + c * np;
            for (int64_t p = p0; p < p1; ++p) {
              // conj(s) t
              const float sr = s[p].real(), si = s[p].imag(), tr = t[p].real(), ti = t[p].imag();
              xm[p] = {xm[p].real() + sr * tr + si * ti, xm[p].imag() + sr * ti - si * tr};
            }
          }
        }
      },
      recon_threads());
}

void SenseOperator::adjoint(const cfloat* y, cfloat* x) const {
  const int64_t np = h_ * w_;
  parallel_for(
      nc_,
      [&](int64_t c) {
        cfloat* t = scratch_.data() + c * np;
        const cfloat* yc = y + c * np;
        for (int64_t i = 0; i < h_; ++i)
          for (int64_t j = 0; j < w_; ++j) t[i * w_ + j] = yc[i * w_ + j] * pattern_[j];
        ifft2c(ArrayView<cfloat>(t, {h_, w_}));
      },
      recon_threads());
  combine(x);
}

void SenseOperator::normal(const cfloat* x, cfloat* z) const {
  const int64_t np = h_ * w_;
  std::vector<float> p2(pattern_.size());
  for (size_t j = 0; j < p2.size(); ++j) p2[j] = pattern_[j] * pattern_[j];
  const bool even = w_ % 2 == 0;
  // Even W: fft1c(v)[k] = c_k F(M v)[k] with M = (-1)^j and c_k = +-1/sqrt(W) (fft.hpp), so
  //   ifft1c(P^2 fft1c(v)) = M F^-1(P^2 / W F(M v))
  // with plain (uncentred) row DFTs and no shifts (fft/ fft_rows: fft/'s plan cache).
  for (size_t j = 0; j < p2.size(); ++j) p2[j] /= static_cast<float>(w_);
  parallel_for(
      nc_,
      [&](int64_t c) {
        cfloat* t = scratch_.data() + c * np;
        coil_image(maps_.data(), x, t, nm_, nc_, c, np);
        if (even) {
          for (int64_t i = 0; i < h_; ++i)
            for (int64_t j = 1; j < w_; j += 2) t[i * w_ + j] = -t[i * w_ + j];
          fft_rows(t, w_, h_, false);
          for (int64_t i = 0; i < h_; ++i)
            for (int64_t j = 0; j < w_; ++j) t[i * w_ + j] *= p2[j];
          fft_rows(t, w_, h_, true);
          for (int64_t i = 0; i < h_; ++i)
            for (int64_t j = 1; j < w_; j += 2) t[i * w_ + j] = -t[i * w_ + j];
        } else {
          ArrayView<cfloat> v(t, {h_, w_});
          fft1c(v, 1);
          for (int64_t i = 0; i < h_; ++i)
            for (int64_t j = 0; j < w_; ++j) t[i * w_ + j] *= p2[j] * static_cast<float>(w_);
          ifft1c(v, 1);
        }
      },
      recon_threads());
  combine(z);
}

LinOp SenseOperator::linop() const {
  auto fw = [this](CCSpan x, CSpan y) { forward(x.data(), y.data()); };
  auto ad = [this](CCSpan y, CSpan x) { adjoint(y.data(), x.data()); };
  auto nr = [this](CCSpan x, CSpan z) { normal(x.data(), z.data()); };
  return LinOp("sense", image_size(), kspace_size(), fw, ad, nr);
}

}  // namespace rb::recon
