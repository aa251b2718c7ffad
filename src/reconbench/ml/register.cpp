// Registers the learned methods with the recon-method registry (recon/method.hpp).
#include "reconbench/ml/register.hpp"

#include "reconbench/ml/infer.hpp"
#include "reconbench/recon/method.hpp"

namespace rb {

void register_ml_methods() {
  auto make = [](const char* kind) {
    return [kind](const ml::LearnedParams& p, const ReconMethodConfig& cfg) {
      return ml::make_learned_method(kind, p, cfg.weights);
    };
  };
  register_recon_method<ml::LearnedParams>(
      "unet",
      "fastMRI U-Net baseline on the zero-filled RSS image (--weights FILE, default "
      "models/unet_small.pt; the instance normalisation makes normalize a no-op)",
      ml::learned_param_table(), make("unet"));
  register_recon_method<ml::LearnedParams>(
      "varnet",
      "End-to-End VarNet (Sriram 2020) on the undersampled k-space (--weights FILE, default "
      "models/varnet_small.pt)",
      ml::learned_param_table(), make("varnet"));
}

}  // namespace rb
