// Registers the learned methods with the recon-method registry (recon/method.hpp).
#include "reconbench/ml/register.hpp"

#include "reconbench/ml/infer.hpp"
#include "reconbench/recon/method.hpp"

namespace rb {

void register_ml_methods() {
  struct Learned {
    const char* kind;
    const char* help;
  };
  static const Learned kLearned[] = {
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
  };
  for (const Learned& m : kLearned) {
    const std::string kind = m.kind;
    register_recon_method<ml::LearnedParams>(
        kind, m.help, ml::learned_param_table(),
        [kind](const ml::LearnedParams& p, const ReconMethodConfig& cfg) {
          return ml::make_learned_method(kind, p, cfg.weights);
        });
  }
}

}  // namespace rb
