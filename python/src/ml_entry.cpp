// Entry point of libreconbench_ml.so (python/src/ml_plugin.hpp): registers the learned
// methods with the registry of the extension that loaded the plugin.
#include "reconbench/ml/register.hpp"

extern "C" __attribute__((visibility("default"))) void reconbench_register_ml_methods() {
  rb::register_ml_methods();
}
