// Internal to eval/: the fused SSIM + squared-error kernel over one slice (ssim_kernel.cpp),
// dispatched at run time to the best ISA of the CPU (default, AVX2, AVX-512F) with the same
// bits on every path. metrics.cpp builds the metrics on it.
#pragma once

#include <cstdint>

#include "reconbench/eval/metrics.hpp"

namespace rb::eval {

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

// The kernel over one slice: SSIM at every valid window position of `in` (summed into acc;
// written to map [h - win + 1, w - win + 1] when map is not null), the masked sums when mask
// [h w] (0/1, foreground_mask) is not null, and the squared-error sums of the whole slice.
void run_kernel(const SlicePair& in, double data_range, const SsimOptions& o,
                const uint8_t* mask, double* map, SliceAccum& acc);

}  // namespace rb::eval
