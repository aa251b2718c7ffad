// Validation during training: SSIM exactly as fastMRI's evaluate.py and `reconbench eval`
// (eval::evaluate_volume: crop, data range = max of the cropped ground-truth volume, mean over
// slices, then over volumes) of the model on
// fully sampled files undersampled with per-file seeded masks (seed = the file name, as
// fastMRI's validation), and optionally of the zero-filled and GRAPPA reconstructions on the
// same masks as references. Includes torch: ml/ only.
#pragma once

#include <filesystem>
#include <vector>

#include "reconbench/ml/pipeline.hpp"
#include "reconbench/sampling/masks.hpp"

namespace rb::ml {

struct ValResult {
  double ssim = -1;
  double ssim_zero_filled = -1;  // -1: not computed
  double ssim_grappa = -1;       // -1: not computed (or GRAPPA impossible on these masks)
};

ValResult validate(Model& model, const std::vector<std::filesystem::path>& files,
                   const MaskFuncOptions& masks, bool references);

}  // namespace rb::ml
