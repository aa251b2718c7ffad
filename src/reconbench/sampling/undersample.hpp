// Retrospective undersampling: fully sampled fastMRI volumes -> challenge-style test files
// (fastMRI's test/challenge layout, fastmri-reference.md §1a) plus the hidden ground truth.
//
//   test file    kspace   complex64 [slice coil read phase], kspace * mask + 0.0 (unsampled
//                         entries exactly +0.0; no -0.0 sign bit leaks, the 2019 test-set bug)
//                mask     float32 [phase], zero outside the acquired PE range
//                         [padding_left, padding_right) of the ISMRMRD header (VarNet rule)
//                attrs    acceleration (int), num_low_frequency (int), acquisition, patient_id;
//                         ismrmrd_header kept; reconstruction_rss, max, norm removed
//   target file  the input with attrs acceleration and num_low_frequency added, max/norm
//                present (computed from reconstruction_rss when the input lacks them):
//                what fastMRI's evaluate.py reads (reconstruction_rss, acquisition,
//                acceleration), in the layout of fastMRI's released `*_test_full` files.
#pragma once

#include <filesystem>
#include <optional>

#include "reconbench/io/fastmri.hpp"
#include "reconbench/sampling/masks.hpp"

namespace rb {

enum class SeedMode {
  File,   // seed = tuple(map(ord, basename)): fastMRI's per-file validation masks
  Fixed,  // the same int seed for every file
};

struct UndersampleOptions {
  MaskFuncOptions mask;  // default: equispaced_fraction, 4X, center fraction 0.08
  SeedMode seed_mode = SeedMode::File;
  uint32_t seed = 0;     // SeedMode::Fixed
};

struct UndersampledVolume {
  FastMriVolume test;                   // the public test file
  std::optional<FastMriVolume> target;  // the ground-truth file (if asked for)
  Mask mask;                            // as drawn, before zeroing the padding
  int64_t pad_left = 0, pad_right = 0;  // acquired PE columns [pad_left, pad_right)
};

// The per-file seed under `opts` for a file named `basename`.
MaskSeed undersample_seed(const UndersampleOptions& opts, const std::string& basename);

// Undersample one volume. `name` is the file's base name (seed) and `what` names it in errors
// (UserError when it is already undersampled, has no ground truth but one is asked for, a
// non-integer acceleration is drawn, or its header's padding is invalid).
UndersampledVolume undersample_volume(FastMriVolume full, MaskFunc& func,
                                      const MaskSeed& seed, bool with_target,
                                      const std::string& what);

// Read `in`, write the test file to `out` and, if given, the target file to `target_out`
// (both atomically). Returns the mask drawn, with `mask` = the mask applied (padding zeroed).
Mask undersample_file(const std::filesystem::path& in, const std::filesystem::path& out,
                      const std::optional<std::filesystem::path>& target_out, MaskFunc& func,
                      const UndersampleOptions& opts);

}  // namespace rb
