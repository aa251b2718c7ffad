// ESPIRiT coil sensitivities (Uecker et al., MRM 71:990, 2014) with BART's `ecalib`
// defaults and semantics (BART src/calib/calib.c; design note classical-recon.md §7):
//
//  1. Calibration region: the largest centred box, grown one axis at a time while fully
//     sampled, capped at calib_max (BART calib_geom, -r 24).
//  2. Calibration (block-Hankel) matrix A: one row per kr x kp window ([read phase]),
//     kr*kp*nc columns; the right singular vectors with sigma_i / sigma_0 > sqrt(threshold)
//     span the signal subspace V (BART -t 0.001). We decompose the smaller of A A^H and A^H A.
//     Kernel: k x k (BART -k 6), except that an axis whose box holds fewer than min_windows
//     kernel positions gets a kernel of n - min_windows + 1 (>= 3) along it. BART keeps
//     k = 6 and aborts when the box is narrower than the kernel; at 8X (4 % centre: 6-8
//     lines) its 1-3 phase positions give a subspace fitted to too few windows, whose
//     eigenvalue maps sink below the crop inside the object (holes in the image). With 8
//     lines and kp = 5 (4 positions) the small profile's 8X SENSE NMSE goes 0.64 -> 0.10.
//  3. Image-space operator: averaging the projection onto V over the kr kp windows that
//     contain a k-space point is, in image space, the pointwise nc x nc matrix
//        G(r) = 1/(kr kp) sum_j g_j(r) g_j(r)^H,  g_j(r)_c = sum_o v_j[c, o] e^{+2 pi i o.r/N}
//     a trigonometric polynomial with offsets d = o - o' in [-(kr-1), kr-1] x [-(kp-1), kp-1]:
//        G(r) = sum_d C_d e^{+2 pi i d.r/N},  C_d = 1/(kr kp) sum_j sum_{o-o'=d} v_j[o] v_j[o']^H
//     BART computes G on a 2k x 2k grid and sinc-interpolates it; since 2k > 2k-1 that is the
//     same polynomial, which we evaluate exactly and separably (rows, then columns).
//  4. Per pixel, the top `maps` eigenvectors of G(r) by orthogonal (power) iteration. BART
//     runs 30 iterations from scratch at every pixel; we warm-start from the previous pixel
//     of the row, stop at convergence, and skip pixels whose eigenvalue is provably below the
//     crop threshold (lambda_1 <= ||G||_F; lambda_2 <= sqrt(||G||_F^2 - lambda_1^2)). Rows
//     are independent (threads over rows), so results do not depend on the thread count.
//  5. Maps zeroed where the eigenvalue <= crop (-c 0.8; -S soft s-curve weighting instead;
//     crop_first may set another value for the first map), phase fixed so that <u, s> is
//     real positive with u the first principal component of the calibration data (BART
//     fixphase2 with scc's rot[0]).
#pragma once

#include <cstdint>

#include "reconbench/core/array.hpp"

namespace rb::recon {

struct EspiritOptions {
  int64_t kernel = 6;        // BART -k: kernel size k (k x k windows)
  int64_t calib_max = 24;    // BART -r: maximal calibration box per axis
  float threshold = 0.001f;  // BART -t: keep kernels with sigma_i / sigma_0 > sqrt(t)
  int64_t maps = 2;          // BART -m: number of sensitivity sets (1 or 2; <= coils)
  float crop = 0.8f;         // BART -c: zero maps where eigenvalue <= crop (0: keep all)
  bool soft_crop = false;    // BART -S: soft s-curve weighting instead of hard crop
  bool fix_phase = true;     // BART default (-P disables)
  int max_iter = 30;         // per-pixel iteration cap (BART runs exactly 30)
  float tol = 1e-7f;         // convergence: ||v_new - v||^2 < tol for every map
  bool warm_start = true;    // start from the previous pixel's eigenvectors
  int64_t min_windows = 4;   // per axis, shrink the kernel (not below 3) until the calibration
                             // box holds this many kernel positions (0: BART, fixed kernel;
                             // a box narrower than the kernel is then an error)
  float crop_first = -1;     // crop of the first map (< 0: = crop). 0 keeps the first map
                             // everywhere: SENSE/CS then never zero the object where a poor
                             // calibration sinks its eigenvalue, and keep the background noise
                             // that SSIM against the noisy RSS counts; later maps keep `crop`
                             // (BART's second map for aliased FOVs appears only where needed)
};

// Calibration box [y0, y0 + h) x [x0, x0 + w) in k-space [read phase].
struct CalibRegion {
  int64_t y0 = 0, h = 0, x0 = 0, w = 0;
};
// BART calib_geom: grow a centred box one axis at a time while every sample in it is
// non-zero in some coil, up to max_size per axis. kspace [coil read phase].
CalibRegion find_calibration_region(ArrayView<const cfloat> kspace, int64_t max_size);

struct EspiritMaps {
  Array<cfloat> maps;        // [map coil y x], unit norm over coils where not cropped
  Array<float> eigenvalues;  // [map y x]
  CalibRegion calib;
  int64_t kernels_kept = 0, kernels_total = 0;
  int64_t kernel = 0, kernel_phase = 0;  // kernel extents used [read phase]
};

// kspace [coil read phase] (zeros where unsampled). Throws UserError if the calibration
// region is smaller than 3x3 (or than the kernel with min_windows = 0) or holds no signal.
EspiritMaps espirit(ArrayView<const cfloat> kspace, const EspiritOptions& opt = {});

// Removes trailing maps that the crop zeroed everywhere (at least one map stays). SENSE/CS
// results do not change: an all-zero map contributes nothing to A = P F S and its image
// stays zero; only their cost does.
void drop_empty_maps(EspiritMaps& e);

}  // namespace rb::recon
