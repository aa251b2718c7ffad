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

// ---- Finite differences (TV), periodic: [y x] -> [2 y x] -------------------------------
//   (D x)_0[y, x] = x[y+1, x] - x[y, x],  (D x)_1[y, x] = x[y, x+1] - x[y, x]
LinOp fdiff_op(int64_t h, int64_t w);
void fdiff_forward(const cfloat* x, cfloat* d, int64_t h, int64_t w);
void fdiff_adjoint(const cfloat* d, cfloat* x, int64_t h, int64_t w);

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
