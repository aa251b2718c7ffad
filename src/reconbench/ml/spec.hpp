// What a weights file is: the model kind and its options, stored as a small JSON beside the
// LibTorch archive (`model.pt` + `model.json`) so that `recon` can rebuild the network.
// Torch-free: included by the CLI.
//
//   {"format": "reconbench-weights-1", "model": "varnet", "num_cascades": 4, "chans": 8,
//    "pools": 4, "sens_chans": 4, "sens_pools": 4, "mask_center": true,
//    "readout_oversampling": 1, "virtual_coils": 8, "intensity_norm": true, "training": {...}}
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rb::ml {

// unet / varnet: fastMRI's U-Net baseline and E2E-VarNet. unet-grappa / varnet-grappa: the
// same networks started from the GRAPPA reconstruction (recon/grappa.hpp; the 2020
// winner's ingredient): the U-Net sees [GRAPPA RSS, zero-filled RSS] and adds a residual to
// the GRAPPA image; the VarNet's cascades start from the GRAPPA-filled k-space.
// The 2020 finalists' designs (ml/networks.hpp): dualnet / dualnet-grappa, the dual-domain
// cascades in the style of the winner (AIRS Medical; ml/dualnet.hpp); recurrentvarnet, the
// recurrent unrolling with a ConvGRU hidden state (ResoNNance's line; ml/rvarnet.hpp);
// jointicnet, joint sensitivity and image refinement (ATB; ml/jointicnet.hpp).
enum class ModelKind {
  Unet, VarNet, UnetGrappa, VarNetGrappa, DualNet, DualNetGrappa, RecurrentVarNet, JointICNet
};
// model_kind_names(), UserError else
ModelKind parse_model_kind(const std::string& name);
std::string model_kind_name(ModelKind k);
// Every kind's name, in the enum's order (CLI choices, error messages).
const std::vector<std::string>& model_kind_names();
bool is_varnet(ModelKind k);        // varnet, varnet-grappa
bool is_kspace_model(ModelKind k);  // networks on the k-space (all but the U-Net kinds)
bool uses_grappa(ModelKind k);

// What every slice is brought to before the network (ml/model_input.hpp), applied
// identically in training and reconstruction (recon/vendor.hpp normalize_slice):
// readout resampled to `readout_oversampling` x recon width (2: GE-like readouts
// zero-padded to the Siemens form, as the first shipped VarNet; 1: Siemens/Philips 2x
// oversampling removed by an image-domain crop, half the pixels), then SVD compression to
// `virtual_coils` (0 = keep all; sensitivities are estimated after it), then (intensity)
// scaled to BART's k-space scale with the output divided back. Descriptions written before
// these fields existed read as {2, 0, false}.
struct InputFormat {
  int64_t readout_oversampling = 2;
  int64_t virtual_coils = 0;
  bool intensity = false;
};

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
  InputFormat input;
  nlohmann::json training = nlohmann::json::object();  // provenance (command, data, SSIM)

  // fastMRI's defaults for each kind (U-Net chans 32; VarNet chans 18; unet-grappa takes 2
  // input channels); the finalist kinds' CPU-sized defaults (ml/networks.hpp).
  static ModelSpec defaults(ModelKind kind);
};

nlohmann::json to_json(const ModelSpec& s);
// UserError naming `what` on a missing/invalid field.
ModelSpec spec_from_json(const nlohmann::json& j, const std::string& what);

// "models/varnet_small.pt" -> "models/varnet_small.json"
std::filesystem::path spec_path_for(const std::filesystem::path& weights);
ModelSpec read_spec(const std::filesystem::path& weights);  // reads spec_path_for(weights)

}  // namespace rb::ml
