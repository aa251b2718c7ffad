// What a weights file is: the model kind and its options, stored as a small JSON beside the
// LibTorch archive (`model.pt` + `model.json`) so that `recon` can rebuild the network.
// Torch-free: included by the CLI.
//
//   {"format": "reconbench-weights-1", "model": "varnet", "num_cascades": 4, "chans": 8,
//    "pools": 4, "sens_chans": 4, "sens_pools": 4, "mask_center": true, "training": {...}}
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace rb::ml {

enum class ModelKind { Unet, VarNet };
ModelKind parse_model_kind(const std::string& name);  // "unet" | "varnet", UserError else
std::string model_kind_name(ModelKind k);

struct ModelSpec {
  ModelKind kind = ModelKind::VarNet;
  // U-Net (fastMRI Unet(in_chans=1, out_chans=1, chans=32, num_pool_layers=4)); the VarNet's
  // cascade U-Nets use chans/pools too (fastMRI chans=18, pools=4).
  int64_t in_chans = 1, out_chans = 1;
  int64_t chans = 18, pools = 4;
  double drop_prob = 0.0;
  // VarNet (fastMRI VarNet(num_cascades=12, sens_chans=8, sens_pools=4, mask_center=True))
  int64_t num_cascades = 12, sens_chans = 8, sens_pools = 4;
  bool mask_center = true;
  nlohmann::json training = nlohmann::json::object();  // provenance (command, data, SSIM)

  // fastMRI's defaults for each kind (U-Net chans 32; VarNet chans 18).
  static ModelSpec defaults(ModelKind kind);
};

nlohmann::json to_json(const ModelSpec& s);
// UserError naming `what` on a missing/invalid field.
ModelSpec spec_from_json(const nlohmann::json& j, const std::string& what);

// "models/varnet_small.pt" -> "models/varnet_small.json"
std::filesystem::path spec_path_for(const std::filesystem::path& weights);
ModelSpec read_spec(const std::filesystem::path& weights);  // reads spec_path_for(weights)

}  // namespace rb::ml
