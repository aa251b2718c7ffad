// The entry point of libreconbench_ml.so (ml/loader.hpp): the module's functions for the
// torch-free host that loaded it.
#include "reconbench/ml/loader.hpp"

namespace {

std::unique_ptr<rb::ReconMethod> make_method(const std::string& kind,
                                             const rb::ml::LearnedParams& p,
                                             const std::string& weights) {
  return rb::ml::make_learned_method(kind, p, weights);
}

}  // namespace

extern "C" __attribute__((visibility("default"))) const rb::ml::ModuleApi* reconbench_ml_module() {
  static const rb::ml::ModuleApi api{rb::ml::kModuleAbi, rb::ml::module_layout(), &make_method,
                                     &rb::ml::train_model, &rb::ml::convert_state_dict};
  return &api;
}
