// Registers the learned reconstruction methods (learned.hpp) with the recon-method registry
// of recon/method.hpp, built directly by this library (LibTorch linked in: tests,
// benchmarks). Torch-free front ends call ml::register_learned_methods() (loader.hpp)
// instead, which builds them through the module.
#pragma once

namespace rb {
void register_ml_methods();
}
