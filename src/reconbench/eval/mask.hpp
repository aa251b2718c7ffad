// Foreground (head) mask from the ground truth only, for background-masked metrics (paper
// supplement Fig. S1: a reconstruction that zeroes the air is not punished for it).
//
// Recipe "rb-fg-1" (per volume [slice y x], GT magnitude images x >= 0):
//   1. Noise floor b: the median, over the 4 corner squares of every slice (side
//      max(4, round(corner_fraction * min(h, w)))), of each square's median value. Air fills
//      the corners of brain images; the median of medians tolerates anatomy in up to half
//      of the corner squares.
//   2. Signal level s: the 99th percentile of all voxels of the volume.
//   3. Threshold t = max(noise_factor * b, signal_floor * s)   (defaults 3 and 0.02):
//      3 b is far above the RSS background (chi-distributed, mean >> spread), and the
//      signal floor keeps noiseless (simulated) data from taking every nonzero voxel.
//   4. Per slice: m = x > t; morphological closing with a (2 r + 1)^2 square
//      (r = close_radius, default 2; pixels outside the image are ignored);
//      8-connected components: keep the largest one and any other of at least
//      keep_fraction (0.1) of its area; drop everything if the largest is smaller than
//      min_area_fraction (0.002) of the slice (low-SNR end slices with only noise);
//      fill holes (background pixels not 4-connected to the image border).
// The threshold is set per volume, so end slices with little anatomy and low SNR get a
// small (or empty) mask rather than one fitted to their noise.
#pragma once

#include <cstdint>
#include <string>

#include "reconbench/core/array.hpp"

namespace rb::eval {

struct ForegroundMaskOptions {
  double corner_fraction = 0.08;   // corner square side relative to min(h, w)
  double noise_factor = 3.0;       // t >= noise_factor * b
  double signal_floor = 0.02;      // t >= signal_floor * p99(volume)
  int64_t close_radius = 2;        // closing with a (2r+1)x(2r+1) square
  double keep_fraction = 0.1;      // keep components >= keep_fraction * largest
  double min_area_fraction = 0.002;  // empty mask if largest < this fraction of the slice
  int threads = 0;                 // 0 = rb::num_threads()
};

// One-line description of the recipe with its parameters (stored with masked scores).
std::string mask_recipe(const ForegroundMaskOptions& opts = {});

struct MaskThreshold {
  double noise_floor = 0;   // b
  double signal_level = 0;  // s
  double threshold = 0;     // t
};
MaskThreshold mask_threshold(ArrayView<const float> volume, const ForegroundMaskOptions& opts = {});

// Foreground mask [slice y x] (1 = head, 0 = air) of a GT volume [slice y x].
Array<uint8_t> foreground_mask(ArrayView<const float> volume,
                               const ForegroundMaskOptions& opts = {});

// One slice with a given threshold (steps 4 of the recipe): [y x] -> [y x].
Array<uint8_t> foreground_mask_slice(ArrayView<const float> slice, double threshold,
                                     const ForegroundMaskOptions& opts = {});

}  // namespace rb::eval
