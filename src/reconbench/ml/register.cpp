// Registers the learned methods with the recon-method registry (recon/method.hpp).
#include "reconbench/ml/register.hpp"

#include "reconbench/ml/infer.hpp"
#include "reconbench/recon/method.hpp"

namespace rb {

void register_ml_methods() {
  register_recon_method(
      "unet",
      "fastMRI U-Net baseline on the zero-filled RSS image (--weights FILE, default "
      "models/unet_small.pt; --param device=cpu|cuda, normalize=1|0)",
      [](const ReconMethodConfig& cfg) { return ml::make_learned_method("unet", cfg); });
  register_recon_method(
      "varnet",
      "End-to-End VarNet (Sriram 2020) on the undersampled k-space (--weights FILE, default "
      "models/varnet_small.pt; --param device=cpu|cuda, normalize=1|0: pad GE-like "
      "readouts to 2x, default 1)",
      [](const ReconMethodConfig& cfg) { return ml::make_learned_method("varnet", cfg); });
}

}  // namespace rb
