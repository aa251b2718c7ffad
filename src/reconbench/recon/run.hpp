// The one reconstruction loop: a test/challenge-style fastMRI file (or a fully sampled one
// undersampled in memory) through a ReconMethod into a magnitude volume cropped as fastMRI
// does. `reconbench recon`, `reconbench demo` and training validation (ml/train.cpp) all call
// it, so every reconstruction the challenge gets as a baseline is made by it.
//
// Per slice the method receives (SliceInput): the k-space slice [coil read phase]; the mask
// [phase] with the columns outside the header's acquired range zeroed (acquired_columns,
// io/fastmri.hpp); num_low_frequency; the ISMRMRD header; the output crop (fastmri_crop_size:
// reconSpace with the FLAIR-203 rule) and the slice index. Slices run in parallel when the
// method allows it; each slice's kernels get an equal share of the threads
// (ScopedReconThreads), so nothing oversubscribes and results do not depend on the thread
// count.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "reconbench/core/array.hpp"
#include "reconbench/core/progress.hpp"
#include "reconbench/io/fastmri.hpp"
#include "reconbench/recon/method.hpp"
#include "reconbench/sampling/masks.hpp"

namespace rb {

struct RunOptions {
  int threads = 0;                   // 0: rb::num_threads()
  bool allow_fully_sampled = false;  // a file without `mask`: every column counts as sampled
  // Retrospective undersampling of a fully sampled file (training validation): every slice
  // is masked as fastMRI's apply_mask does (acquired columns only) before the method sees it,
  // with the mask's num_low_frequencies.
  const Mask* undersample = nullptr;
  int64_t crop_h = 0, crop_w = 0;  // output size; 0: fastmri_crop_size of the header
  Progress* progress = nullptr;    // ticked once per slice
};

// UserError naming the file unless it can be reconstructed under `opts` (a mask, or
// allow_fully_sampled / undersample; finite mask values).
void check_reconstructable(const FastMriFile& file, const RunOptions& opts);

// [slice crop_h crop_w] magnitude volume.
Array<float> reconstruct_volume(const FastMriFile& file, const ReconMethod& method,
                                const RunOptions& opts = {});

// The same loop over k-space in memory (the Python binding's recon), with the mask and
// header a file would hold; slices are used in place (copied only to undersample them).
struct KspaceVolume {
  ArrayView<const cfloat> kspace;       // [slice coil read phase], zeros where unsampled
  std::vector<float> mask;              // [phase], 1 = sampled (all ones: fully sampled)
  const IsmrmrdInfo* header = nullptr;  // null: no padding, 320 x 320 crop
  int64_t num_low_frequency = 0;        // 0: the method derives it from the mask
  std::string name = "k-space";         // names the volume in errors and progress
};
// UserError naming `name` for a mask of the wrong length or with non-finite values.
Array<float> reconstruct_volume(const KspaceVolume& volume, const ReconMethod& method,
                                const RunOptions& opts = {});

// Every file into out_dir/<its name> (`reconstruction` + the file's acquisition; atomic
// writes), one progress bar labelled `label` over all slices. All files are opened and
// checked before any work; output names must be unique. With skip_existing an output that
// already exists is kept (resumable runs).
void reconstruct_files(const std::vector<std::filesystem::path>& files, const ReconMethod& method,
                       const std::filesystem::path& out_dir, const RunOptions& opts,
                       const std::string& label, bool skip_existing = false);

}  // namespace rb
