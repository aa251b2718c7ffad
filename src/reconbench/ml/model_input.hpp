// One undersampled slice brought to a model's input format and run through its network,
// the same code for training (ml/train.cpp) and reconstruction (Model::reconstruct), so
// that the format (spec.hpp InputFormat) and the GRAPPA initialisation can never differ
// between the two.
//
//   slice [coil read phase] --normalize_slice (readout -> r x recon width when the header's
//   recon_x shows another oversampling, SVD coils -> K, intensity x scale)--> k [K H W]
//   --kind-->
//     unet:           zero-filled RSS crop (h, w), normalised: (x - mean) / std, clamp +-6
//     unet-grappa:    [GRAPPA RSS, zero-filled RSS] (h, w), normalised by the GRAPPA image's
//                     mean/std; output = GRAPPA + U-Net residual (zero at initialisation)
//     varnet, dualnet (every k-space kind): k, mask; output RSS crop (h, w)
//     varnet-grappa, dualnet-grappa: k, mask, cascades start from GRAPPA(k)
//
// Units: the network works in "network units"; data units = (y x std + mean) / scale.
// Includes torch: ml/ only.
#pragma once

#include "reconbench/ml/pipeline.hpp"

namespace rb::ml {

struct ModelInput {
  torch::Tensor kspace;  // [1 K H W 2] normalised masked k-space (k-space kinds)
  torch::Tensor mask;    // [1 1 1 W 1] bool (k-space kinds)
  torch::Tensor init;    // [1 K H W 2] GRAPPA-filled k-space (*-grappa k-space kinds)
  torch::Tensor image;   // [1 ch h w] normalised, clamped image channels (unet kinds)
  torch::Tensor base;    // [1 1 h w] normalised GRAPPA image, unclamped (unet-grappa)
  int64_t num_low_frequencies = 0;
  int64_t crop_h = 0, crop_w = 0;  // output size
  double mean = 0, std = 1;        // unet kinds: network image = (x - mean) / std
  double scale = 1;                // intensity normalisation: network k-space = data x scale
  int64_t coils = 0;               // coils the network sees

  ModelInput to(torch::Device d) const;
};

// normalize = false skips the readout and intensity steps (the Transfer track's "without
// normalisation" variant); virtual_coils < 0 takes the spec's. UserError (e.g. from GRAPPA
// without a fully sampled centre) names the problem.
ModelInput make_model_input(const ModelSpec& spec, const SliceInput& in, bool normalize = true,
                            int64_t virtual_coils = -1);

// The network on one slice: [crop_h crop_w] in network units, differentiable.
torch::Tensor model_forward(Model& model, const ModelInput& x);

// Network units -> data units, and a data-unit target -> network units (no clamp).
torch::Tensor to_data_units(const torch::Tensor& y, const ModelInput& x);
torch::Tensor to_network_units(const torch::Tensor& target, const ModelInput& x);

// Zero-initialise the last 1x1 convolution of a U-Net (unet-grappa starts as GRAPPA).
void zero_last_conv(Unet& unet);

}  // namespace rb::ml
