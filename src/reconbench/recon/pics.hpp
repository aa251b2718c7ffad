// Parallel imaging and compressed sensing with ESPIRiT maps, BART `pics` semantics
// (BART src/pics.c, sense/optcom.c, iter/italgos.c; design note classical-recon.md §7):
//
//   x* = argmin_x 1/2 ||P F S x - y / s||^2 + R(x),   image = s |x*|
//
// s is BART's data scaling (estimate_scaling, applied by default; `-S` multiplies it back,
// which we always do so that outputs are on the coil-RSS intensity scale): the coil-RSS of
// the central (<= 32 x 32) k-space samples, sorted; s = p90 if max - p90 < 2 (p90 - median),
// else max; divided by sqrt(N / N_cal) per axis. With it BART's lambdas transfer unchanged.
//
//   SENSE (l2):      R = lambda/2 ||x||^2      -> CG on (A^H A + lambda I) x = A^H y
//   L1-wavelet:      R = lambda ||W x||_1       -> FISTA, Daubechies-2, random cycle spinning
//                    (W orthonormal, periodic; coarse band not thresholded. Measured against
//                    bart 0.8: its -R W:7:0:L is closest to our lambda ~ L/12 -- BART's
//                    wavelet scaling differs; not yet traced in its source)
//   TV:              R = lambda ||D x||_1       -> ADMM (rho 0.5, <= 10 inner CG, tol 1e-3)
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
  int max_iter = 50;      // FISTA / ADMM outer iterations (BART -i)
  float step = 0.95f;     // FISTA step (BART default)
  bool cycle_spin = true; // random circular shift of the wavelet grid every iteration
  uint32_t seed = 0;      // cycle-spinning RNG seed (per slice: seed + slice index)
  int64_t wavelet_min_size = 16;
  float rho = 0.5f;       // ADMM penalty
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
