// The operators of Cartesian parallel imaging and compressed sensing, as LinOps and as the
// fast kernels the solvers call directly. Shapes in axis names (row-major):
//
//   image        [map y x]          (y = readout, x = phase encode; 1 or 2 ESPIRiT maps)
//   coil image   [coil y x]
//   k-space      [coil read phase]  (centred, fastMRI layout)
//   maps         [map coil y x]     coil sensitivities (ESPIRiT), sum_c |S_mc|^2 <= 1
//   pattern      [phase]            sampling weights, 1 = sampled (1-D Cartesian masks)
//
// SENSE model (BART sense/model.c): A = P F S, (A x)_c = P fft2c(sum_m S_mc x_m). Because P
// only acts along the phase axis, the normal operator needs 1-D FFTs only:
//   A^H A x = sum_c S_c^H ifft1c_phase(P fft1c_phase(S_c x))
// (the readout FFT pair cancels), half the work of BART's 2-D normal operator.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "reconbench/core/array.hpp"
#include "reconbench/recon/linop.hpp"

namespace rb::recon {

// ---- Daubechies-2 (D4) orthogonal wavelet, periodic boundaries, multilevel ------------
// Each level halves an axis while it is even and the half is >= min_size (BART: down to 16
// samples); a level stops when neither axis can be halved. Coefficients are stored in place
// (Mallat layout): after the last level the coarse block is [0, coarse_h) x [0, coarse_w).
struct WaveletPlan {
  int64_t h = 0, w = 0;
  struct Level {
    int64_t bh, bw;      // block size transformed at this level
    bool split_h, split_w;
  };
  std::vector<Level> levels;
  int64_t coarse_h = 0, coarse_w = 0;
};
WaveletPlan make_wavelet_plan(int64_t h, int64_t w, int64_t min_size = 16);
void dwt2(const WaveletPlan& plan, cfloat* x);   // forward, in place, [h w]
void idwt2(const WaveletPlan& plan, cfloat* x);  // inverse (= adjoint), in place
// W: [h w] -> [h w] coefficients of the image circularly shifted by (sy, sx) (cycle spinning).
LinOp wavelet_op(int64_t h, int64_t w, int64_t shift_y = 0, int64_t shift_x = 0,
                 int64_t min_size = 16);
void circshift2(const cfloat* in, cfloat* out, int64_t h, int64_t w, int64_t sy, int64_t sx);

// ---- BART's Daubechies-2 wavelet (BART src/wavelet/wavelet.c, `pics -R W`) --------------
// Not orthogonal: each 1-D level filters with half-sample symmetric extension at both ends
// (BART coord()) and keeps (n + 3) / 2 low and (n + 3) / 2 high coefficients (redundant for
// n > 1); the inverse is BART's synthesis (iwt), which reconstructs exactly. Levels: at the
// top every axis with more than one sample is split; an axis keeps being split while its
// band stays >= min(size, min_size) (BART minsize = MIN(dims, 16)). The soft threshold of
// `pics -R W:7:0:lambda` applies to *all* coefficients, the final coarse band included.
struct BartWaveletPlan {
  int64_t h = 0, w = 0;
  struct Level {
    int64_t n0, n1;  // input block [n0 n1] (y, x)
    bool s0, s1;     // axis split at this level
    int64_t b0, b1;  // band size per axis ((n + 3) / 2 if split, else n)
    int64_t m0, m1;  // output block (2 b if split, else n); the low-low band is [0, b0) x [0, b1)
  };
  std::vector<Level> levels;
  // BART wavelet_num_levels of each axis alone: random shifts are drawn in [0, 2^levels].
  int shift_levels_y = 0, shift_levels_x = 0;
};
BartWaveletPlan make_bart_wavelet_plan(int64_t h, int64_t w, int64_t min_size = 16);
// Forward transform of [h w] (no shift): one output block [m0 m1] per level, concatenated.
std::vector<cfloat> bart_fwt(const BartWaveletPlan& plan, const cfloat* x);
// Inverse of bart_fwt (ignores the low-low band of every level but the last) -> [h w].
void bart_iwt(const BartWaveletPlan& plan, const std::vector<cfloat>& coeffs, cfloat* x);
// Scratch buffers of bart_wavelet_thresh, reusable across calls (one per slice/thread).
struct BartWaveletWork {
  std::vector<cfloat> shifted, coeffs, cur, tmp, rec, rec2;
};
// BART wavelet_thresh: x <- iwt(soft(fwt(shift(x)), lambda)) shifted back, in place, [h w];
// shift (sy, sx) as BART md_circ_shift: out[(i + s) mod n] = in[i].
void bart_wavelet_thresh(const BartWaveletPlan& plan, cfloat* x, float lambda, int64_t sy = 0,
                         int64_t sx = 0, BartWaveletWork* work = nullptr);
// BART's cycle-spinning draw (wavthresh.c rand_lim with POSIX rand_r): uniform in [0, limit].
int bart_rand_lim(unsigned int* state, int limit);

// ---- Finite differences (TV), periodic: [y x] -> [2 y x] -------------------------------
//   (D x)_0[y, x] = x[y+1, x] - x[y, x],  (D x)_1[y, x] = x[y, x+1] - x[y, x]
LinOp fdiff_op(int64_t h, int64_t w);
void fdiff_forward(const cfloat* x, cfloat* d, int64_t h, int64_t w);
void fdiff_adjoint(const cfloat* d, cfloat* x, int64_t h, int64_t w);

// ---- BART's gradient (linops/grad.c, `pics -R T`), periodic: [y x] -> [2 y x] -----------
//   (G x)_0[y, x] = x[y, x] - x[y-1, x],  (G x)_1[y, x] = x[y, x] - x[y, x-1]
// BART thresholds the two components jointly (isotropic TV).
LinOp bart_grad_op(int64_t h, int64_t w);
void bart_grad_forward(const cfloat* x, cfloat* d, int64_t h, int64_t w);
void bart_grad_adjoint(const cfloat* d, cfloat* x, int64_t h, int64_t w);

// ---- Building blocks of SENSE -----------------------------------------------------------
LinOp fft2c_op(int64_t batch, int64_t h, int64_t w);  // centred orthonormal, [batch h w]
LinOp sampling_op(std::span<const float> pattern, int64_t coils, int64_t h);  // P, [coil h w]
LinOp coil_op(ArrayView<const cfloat> maps);  // S: [map y x] -> [coil y x]

// SENSE operator A = P F S with a fused normal operator (1-D FFTs along phase), threads over
// coils then over pixels (fixed reduction order). Keeps its own scratch: one per slice.
class SenseOperator {
 public:
  SenseOperator(ArrayView<const cfloat> maps, std::span<const float> pattern);
  int64_t maps() const { return nm_; }
  int64_t coils() const { return nc_; }
  int64_t h() const { return h_; }
  int64_t w() const { return w_; }
  int64_t image_size() const { return nm_ * h_ * w_; }
  int64_t kspace_size() const { return nc_ * h_ * w_; }
  void forward(const cfloat* x, cfloat* y) const;  // [map y x] -> [coil read phase]
  void adjoint(const cfloat* y, cfloat* x) const;  // [coil read phase] -> [map y x]
  void normal(const cfloat* x, cfloat* z) const;   // A^H A
  LinOp linop() const;  // refers to *this (keep it alive)

 private:
  void combine(cfloat* x) const;  // x_m = sum_c conj(S_mc) scratch_c
  ArrayView<const cfloat> maps_;
  std::vector<float> pattern_;
  int64_t nm_, nc_, h_, w_;
  mutable std::vector<cfloat> scratch_;  // [coil y x]
};

}  // namespace rb::recon
