// The learned methods' declarations (learned.hpp), torch-free.
#include "reconbench/ml/learned.hpp"

namespace rb::ml {

recon::ParamTable<LearnedParams> learned_param_table() {
  using P = LearnedParams;
  return recon::ParamTable<P>(
      {RB_PARAM(P, "device", device, "torch device: cpu, cuda or cuda:N"),
       RB_PARAM(P, "normalize", normalize,
                "bring the input to the model's input format (model.json): readout to its "
                "oversampling x the recon width when the header shows another, intensity "
                "scale if the format has it"),
       RB_PARAM(P, "coils", coils,
                "virtual coils K of the input (SVD coil compression; 0 = all coils, -1 = the "
                "model's input format, model.json)")});
}

std::span<const LearnedMethodInfo> learned_methods() {
  static constexpr LearnedMethodInfo kMethods[] = {
      {"unet",
       "fastMRI U-Net baseline on the zero-filled RSS image (--weights FILE, default "
       "models/unet_small.pt)"},
      {"varnet",
       "End-to-End VarNet (Sriram 2020) on the undersampled k-space (--weights FILE, default "
       "models/varnet_small.pt)"},
      {"unet-grappa",
       "U-Net refining the GRAPPA image: input [GRAPPA RSS, zero-filled RSS], output GRAPPA + "
       "residual (--weights FILE, default models/unet-grappa_small.pt)"},
      {"varnet-grappa",
       "E2E-VarNet whose cascades start from the GRAPPA-filled k-space (the 2020 winner's "
       "initialisation; --weights FILE, default models/varnet-grappa_small.pt)"},
      {"dualnet",
       "dual-domain cascades in the style of the 2020 winner (AIRS Medical): k-space and image "
       "U-Nets per cascade with soft data consistency (--weights FILE from `train --model "
       "dualnet`)"},
      {"dualnet-grappa",
       "the dual-domain cascades started from the GRAPPA-filled k-space (--weights FILE from "
       "`train --model dualnet-grappa`)"},
      {"recurrentvarnet",
       "Recurrent VarNet (Yiasemis 2022, ResoNNance's line): k-space updates whose regulariser "
       "is a ConvGRU carrying a hidden state across steps (--weights FILE from `train --model "
       "recurrentvarnet`)"},
      {"jointicnet",
       "Joint-ICNet (Jun 2021, ATB): unrolled joint refinement of the coil sensitivities and "
       "the image with shared image- and k-space U-Nets (--weights FILE from `train --model "
       "jointicnet`)"},
  };
  return kMethods;
}

bool is_learned_method(std::string_view name) {
  for (const auto& m : learned_methods())
    if (name == m.name) return true;
  return false;
}

void register_learned_methods(LearnedFactory make) {
  for (const auto& m : learned_methods()) {
    const std::string kind = m.name;
    register_recon_method<LearnedParams>(
        kind, m.help, learned_param_table(),
        [kind, make](const LearnedParams& p, const ReconMethodConfig& cfg) {
          return make(kind, p, cfg.weights);
        });
  }
}

}  // namespace rb::ml
