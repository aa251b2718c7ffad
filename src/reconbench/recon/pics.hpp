// Parallel imaging and compressed sensing with ESPIRiT maps, BART `pics` semantics
// (BART 0.8 src/pics.c, sense/optcom.c, grecon/optreg.c, iter/{italgos,admm}.c,
// wavelet/{wavelet,wavthresh}.c, linops/grad.c; design note classical-recon.md §7). With the
// same k-space, maps, lambda and iterations the result equals `bart pics -S` to float
// rounding (tests/unit/recon/test_bart.cpp: NRMSE ~1e-6 for -R W and -R T):
//
//   x* = argmin_x 1/2 ||P F S x - y / s||^2 + R(x),   image = s x*
//
// s is BART's data scaling (estimate_scaling; `-S` multiplies it back, which we always do
// so that outputs are on the coil-RSS intensity scale): take the fully sampled calibration
// box (calib_geom inside the whole readout x central min(32, W) phase lines, grown one
// sample per axis while fully sampled, <= 32 per axis, then slid along the readout to its
// energy maximum), inverse-DFT it (unitary) per coil, coil-RSS, sort: s = p90 if
// max - p90 < 2 (p90 - median), else max; divided by sqrt(H / h_cal) sqrt(W / w_cal).
// (Not the RSS of the k-space samples themselves: that is ~7x larger and was the cause
// of the former "our lambda ~ bart lambda / 12".)
//
//   SENSE (l2):  R = lambda/2 ||x||^2   -> CG on (A^H A + lambda I) x = A^H y  (-l2 -r lambda)
//   L1-wavelet:  R = lambda ||W x||_1    -> FISTA (-R W:7:0:lambda)
//     W is BART's Daubechies-2 transform, *not* orthonormal: half-sample symmetric boundary
//     extension, (n + 3) / 2 coefficients per band, axes split while the band is >= 16;
//     every coefficient is thresholded (coarse band included), complex magnitude soft
//     threshold step * lambda. Cycle spinning draws BART's shifts (rand_r from state
//     1 + seed, in [0, 2^levels] per axis) every iteration. FISTA in BART's order (prox,
//     momentum, gradient step), step 0.95, output = the last gradient-step point.
//   TV:          R = lambda ||G x||_{2,1} -> ADMM (-R T:7:0:lambda)
//     G = periodic backward differences along y and x, the two thresholded jointly
//     (isotropic). ADMM rho 0.5, over-relaxation 1.6, z = u = 0 at the start, <= 10 inner
//     CG with tolerance 1e-3 ||rhs||; as BART, -i bounds the *total* inner CG iterations
//     (ADMM stops once they exceed max_iter), so TV does ~max_iter normal-operator steps.
#pragma once

#include <cstdint>
#include <span>

#include "reconbench/core/array.hpp"

namespace rb::recon {

// BART estimate_scaling of k-space [coil read phase] (no sensitivities: RSS over coils).
float estimate_scaling(ArrayView<const cfloat> kspace);

struct SenseOptions {
  int max_iter = 30;      // BART pics -i (CG)
  float lambda = 0.01f;   // BART pics -l2 -r: Tikhonov weight (0 = plain CG-SENSE)
  float tol = 1e-6f;      // CG relative residual
  bool scale_data = true; // BART estimate_scaling (+ -S rescaling)
};

struct CsOptions {
  enum class Reg { L1Wavelet, TV };
  Reg reg = Reg::L1Wavelet;
  float lambda = 0.005f;  // BART -R W:7:0:lambda / -R T:7:0:lambda
  int max_iter = 50;      // BART -i: FISTA iterations / ADMM total inner CG iterations
  float step = 0.95f;     // FISTA step (BART default)
  bool cycle_spin = true; // random circular shift every iteration (BART default; -n disables)
  uint32_t seed = 0;      // cycle-spinning rand_r state 1 + seed (0: BART's own sequence)
  int64_t wavelet_min_size = 16;  // BART minsize: split an axis while its band is >= this
  float rho = 0.5f;       // ADMM penalty (BART -u)
  int cg_iter = 10;       // ADMM inner CG iterations
  float cg_tol = 1e-3f;   // ADMM inner CG tolerance
  bool scale_data = true;
};

// kspace [coil read phase], maps [map coil y x], pattern [phase]. Return the complex image
// [map y x], multiplied back by the data scaling (RSS scale).
Array<cfloat> sense_recon(ArrayView<const cfloat> kspace, ArrayView<const cfloat> maps,
                          std::span<const float> pattern, const SenseOptions& opt = {});
Array<cfloat> cs_recon(ArrayView<const cfloat> kspace, ArrayView<const cfloat> maps,
                       std::span<const float> pattern, const CsOptions& opt = {});

// sqrt(sum_m |x_m|^2): [map y x] -> [y x]
Array<float> combine_maps(ArrayView<const cfloat> image);

}  // namespace rb::recon
