// GRAPPA for 1-D Cartesian undersampling (Griswold et al., MRM 47:1202, 2002), with one
// kernel per distinct local sampling geometry so that masks with varying spacing (fastMRI's
// pseudo-equispaced "equispaced fraction" masks, random masks) are handled (pygrappa
// `mdgrappa`-style; design note classical-recon.md §7):
//
//  * ACS: the contiguous run of sampled phase columns around the centre.
//  * For every missing column j, the sources are the `sources_per_side` nearest sampled
//    columns on each side (offsets o_1 < ... < o_n relative to j), each with
//    `kernel_read` neighbouring readout samples, in every coil. The offset tuple is the
//    geometry; missing columns with the same tuple share one kernel.
//  * Fit per geometry on the ACS (all target columns whose sources fall inside it):
//        W = (S^H S + lambda' I)^-1 S^H T,   lambda' = lambda trace(S^H S) / n_sources
//    (Tikhonov; pygrappa uses 0.01 ||S^H S||_F / n), S = source rows, T = target samples.
//    Geometries wider than the ACS drop their farthest sources until they fit.
//  * Fill: missing samples = sources W; measured samples are kept.
//
// Regularisation and kernel size (issue 5 review; simulator test splits, mean over volumes,
// NMSE / SSIM, `reconbench eval`):
//                          small profile (6-12 coils, 192 phase)   ci profile (4-5 coils, 128)
//    lambda                 4X              8X                     4X              8X
//    zero-filled            0.116 / 0.752   0.149 / 0.634          0.073 / 0.680   0.264 / 0.572
//    0.01 (~pygrappa)       0.026 / 0.849   0.188 / 0.563          0.085 / 0.715   0.337 / 0.522
//    0.1 (default)          0.022 / 0.885   0.128 / 0.668          0.063 / 0.757   0.281 / 0.569
//    1                      0.036 / 0.875   0.122 / 0.669          0.049 / 0.788   0.255 / 0.590
// Weak pygrappa/Gadgetron-like lambdas amplify noise at these coil counts; 0.1 is best or
// within 0.005 SSIM of the best on the realistic profile. Two source columns per side
// (Gadgetron's kE1 = 4) were worse everywhere (ci 4X: 0.154 / 0.672), because the 8-12
// ACS columns cannot train geometries that wide. Cross-validating lambda on the ACS was
// tried and chose too little regularisation (the ACS is the high-SNR centre). The weak
// 8X result on few coils is a data limit, not a fitting defect: R = 8 exceeds the 4-5
// coils, and a 5-column ACS cannot hold the 9-column span of a kernel bridging an 8-column
// gap, so those columns get one-sided (extrapolating) kernels.
#pragma once

#include <cstdint>
#include <span>

#include "reconbench/core/array.hpp"
#include "reconbench/io/fastmri.hpp"

namespace rb::recon {

struct GrappaOptions {
  int64_t kernel_read = 5;        // readout extent of the source window (odd)
  int64_t sources_per_side = 1;   // nearest sampled columns used on each side
  float lambda = 0.1f;            // Tikhonov weight, relative to trace(S^H S)/n (pygrappa:
                                  // 0.01 x ||S^H S||_F / n; ours measured better on the
                                  // simulated 5-6 coil data at 4X)
  int64_t train_rows = 192;       // central readout rows used for fitting (0 = all)
  int64_t min_acs = 4;            // fewer ACS columns than this is a UserError
  // Phase columns that may be filled: [fill_begin, fill_end); -1 = from the first to the last
  // sampled column (interpolation only). Columns outside the acquired range (fastMRI
  // padding_left/right) are zero in the ground truth too and must stay zero.
  int64_t fill_begin = -1, fill_end = -1;
  // lambda' = lambda trace(S^H S) / n (mean eigenvalue) instead of pygrappa's Frobenius norm.
  bool trace_reg = true;
};

struct GrappaStats {
  int64_t acs_begin = 0, acs_width = 0, geometries = 0, filled_columns = 0;
};

// Restricts filling to the header's acquired phase columns (IsmrmrdInfo::acquired_columns;
// fastMRI files with phase resolution < 100 %: the padding columns are zero in the ground
// truth too); no change without a header or with one that does not describe `phase` columns
// (then GRAPPA interpolates only).
void fill_acquired_range_only(GrappaOptions& opt, const IsmrmrdInfo* header, int64_t phase);

// kspace [coil read phase] (zeros where unsampled), mask [phase]. Returns the filled
// k-space [coil read phase].
Array<cfloat> grappa(ArrayView<const cfloat> kspace, std::span<const float> mask,
                     const GrappaOptions& opt = {}, GrappaStats* stats = nullptr);

}  // namespace rb::recon
