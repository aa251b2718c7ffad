// Learned reconstruction methods and the weights converter: torch-free declarations of
// functions implemented with LibTorch (pipeline.cpp), reached from torch-free code through
// the module loader (loader.hpp).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "reconbench/ml/learned.hpp"
#include "reconbench/recon/method.hpp"

namespace rb::ml {

// `recon --method unet|varnet|unet-grappa|varnet-grappa --weights FILE`: loads FILE
// (+ FILE.json) once; slices run one at a time (parallel_slices() = false) with torch
// intra-op threads = rb::num_threads(). cfg.params are parsed with learned_param_table()
// (learned.hpp).
std::unique_ptr<ReconMethod> make_learned_method(const std::string& kind,
                                                 const ReconMethodConfig& cfg);
std::unique_ptr<ReconMethod> make_learned_method(const std::string& kind, const LearnedParams& p,
                                                 const std::string& weights);

// Converter from a fastMRI PyTorch state_dict saved as a plain dict of tensors:
//   python3 -c "import torch; sd = torch.load('brain_leaderboard_state_dict.pt',
//               map_location='cpu'); torch.save(dict(sd), 'plain.pt')"
// (torch::pickle_load cannot rebuild Python's OrderedDict, a plain dict it can). Also
// accepted: Lightning checkpoints ({"state_dict": {...}}), with `strip_prefix` (e.g.
// "varnet.") removed from the keys. The model kind and sizes are inferred from the tensor
// shapes; every key must match a parameter of the rebuilt model and vice versa.
struct ConvertReport {
  std::string model;       // "unet" | "varnet"
  int64_t tensors = 0;     // number of tensors copied
  int64_t parameters = 0;  // scalar parameters
  std::string spec_json;   // the written description
};
ConvertReport convert_state_dict(const std::filesystem::path& in,
                                 const std::filesystem::path& out_weights,
                                 const std::string& strip_prefix = "");

}  // namespace rb::ml
