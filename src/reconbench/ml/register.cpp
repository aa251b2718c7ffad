// Registers the learned methods with the recon-method registry (recon/method.hpp).
#include "reconbench/ml/register.hpp"

#include "reconbench/ml/infer.hpp"
#include "reconbench/ml/learned.hpp"

namespace rb {

void register_ml_methods() {
  ml::LearnedFactory make = &ml::make_learned_method;
  ml::register_learned_methods(make);
}

}  // namespace rb
