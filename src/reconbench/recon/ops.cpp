#include "reconbench/recon/ops.hpp"

#include <fftw3.h>

// Exported by libfftw3f (api/apiplan.c) but declared only in FFTW's internal headers; it is
// what fftwf_make_planner_thread_safe() (libfftw3f_threads) uses.
extern "C" void fftwf_set_planner_hooks(void (*before)(void), void (*after)(void));

#include <cmath>
#include <map>
#include <memory>
#include <mutex>

#include "reconbench/core/parallel.hpp"
#include "reconbench/fft/fft.hpp"
#include "reconbench/recon/threads.hpp"

namespace rb::recon {

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
  for (int64_t i = 0; i < h; ++i) {
    cfloat* orow = out + ((i + sy) % h) * w;
    const cfloat* irow = in + i * w;
    for (int64_t j = 0; j < w; ++j) orow[(j + sx) % w] = irow[j];
  }
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

// FFTW's planner is not thread-safe, and fft/ plans under its own mutex. These hooks make
// every planner call in the process (fft/'s included) take one global mutex; they are
// installed during static initialisation, before any thread can plan.
std::recursive_mutex g_fftw_planner_mutex;
void planner_before() { g_fftw_planner_mutex.lock(); }
void planner_after() { g_fftw_planner_mutex.unlock(); }
const bool g_hooks_installed = [] {
  fftwf_set_planner_hooks(planner_before, planner_after);
  return true;
}();

// Uncentred in-place FFTs of `howmany` contiguous rows of length n (cached plans).
fftwf_plan rows_plan(int64_t n, int64_t howmany, int sign) {
  static std::mutex m;
  static std::map<std::tuple<int64_t, int64_t, int>, fftwf_plan> cache;
  std::lock_guard lock(m);
  auto key = std::make_tuple(n, howmany, sign);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  std::vector<fftwf_complex> scratch(static_cast<size_t>(n * howmany));
  int nn = static_cast<int>(n);
  fftwf_plan p = fftwf_plan_many_dft(1, &nn, static_cast<int>(howmany), scratch.data(), nullptr, 1,
                                     nn, scratch.data(), nullptr, 1, nn, sign,
                                     FFTW_ESTIMATE | FFTW_UNALIGNED);
  RB_ASSERT(p != nullptr && g_hooks_installed, "FFTW planning failed");
  cache.emplace(key, p);
  return p;
}

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
  fftwf_plan fwd = even ? rows_plan(w_, h_, FFTW_FORWARD) : nullptr;
  fftwf_plan bwd = even ? rows_plan(w_, h_, FFTW_BACKWARD) : nullptr;
  // Even W: fft1c(v)[k] = c_k F(M v)[k] with M = (-1)^j and c_k = +-1/sqrt(W) (fft.hpp), so
  //   ifft1c(P^2 fft1c(v)) = M F^-1(P^2 / W F(M v))
  // with plain FFTW row transforms and no shifts.
  for (size_t j = 0; j < p2.size(); ++j) p2[j] /= static_cast<float>(w_);
  parallel_for(
      nc_,
      [&](int64_t c) {
        cfloat* t = scratch_.data() + c * np;
        coil_image(maps_.data(), x, t, nm_, nc_, c, np);
        if (even) {
          for (int64_t i = 0; i < h_; ++i)
            for (int64_t j = 1; j < w_; j += 2) t[i * w_ + j] = -t[i * w_ + j];
          auto* f = reinterpret_cast<fftwf_complex*>(t);
          fftwf_execute_dft(fwd, f, f);
          for (int64_t i = 0; i < h_; ++i)
            for (int64_t j = 0; j < w_; ++j) t[i * w_ + j] *= p2[j];
          fftwf_execute_dft(bwd, f, f);
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
