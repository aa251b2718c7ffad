// The binding's one dependence on ml/: the learned methods live in libreconbench_ml.so (ml/
// + LibTorch) beside the extension, loaded with dlopen the first time a method the registry
// does not know is asked for; its entry point registers the learned methods (unet, varnet,
// unet-grappa, varnet-grappa) with the recon-method registry (recon/method.hpp), through
// which they are then reached like any other method.
// Importing reconbench or running classical methods never maps LibTorch.
#pragma once

namespace rbpy {

// Loads the plugin once and registers its methods. UserError naming the plugin's path if it
// is missing or cannot be loaded (dlerror's reason).
void load_ml_plugin();
// True once load_ml_plugin() succeeded.
bool ml_plugin_loaded();

}  // namespace rbpy
