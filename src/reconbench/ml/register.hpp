// Registers the learned reconstruction methods (unet, varnet) with the recon-method
// registry of recon/method.hpp. Called explicitly by the CLI.
#pragma once

namespace rb {
void register_ml_methods();
}
