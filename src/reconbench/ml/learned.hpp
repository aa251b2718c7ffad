// The learned reconstruction methods as the registry and the docs see them, torch-free: each
// method's name and help, and the parameters they share (one ParamTable). The methods
// themselves live in the LibTorch module (ml/loader.hpp); this header lets every front end
// list and check them without loading LibTorch.
//
// To add a learned method: a row in learned_methods() (learned.cpp) and its model in
// make_learned_method (pipeline.cpp); both registrations below pick it up.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "reconbench/recon/method.hpp"
#include "reconbench/recon/params.hpp"

namespace rb::ml {

// The learned methods' parameters (--param), declared once: to add one, give it a member
// with its default here, a row in learned_param_table() (learned.cpp) and use it in
// make_learned_method (pipeline.cpp).
struct LearnedParams {
  std::string device = "cpu";  // cpu | cuda | cuda:N
  // Vendor normalisation of the input to the model's input format (spec.hpp InputFormat:
  // readout oversampling, intensity). On by default for the learned methods, which were
  // trained on that format only; the classical methods, which need none, default to off.
  bool normalize = true;
  // Virtual coils K (SVD coil compression, recon/coil_compress): -1 = the model's input
  // format (model.json), 0 = all coils.
  int64_t coils = -1;
};
recon::ParamTable<LearnedParams> learned_param_table();

struct LearnedMethodInfo {
  const char* name;  // also the model kind of its weights (model.json "model")
  const char* help;  // one paragraph for --list-methods and docs/commands.md
};
std::span<const LearnedMethodInfo> learned_methods();
bool is_learned_method(std::string_view name);

// Builds a learned method from its kind, parsed parameters and weights file ("" = the
// shipped models/<kind>_small.pt).
using LearnedFactory = std::unique_ptr<ReconMethod> (*)(const std::string& kind,
                                                        const LearnedParams& params,
                                                        const std::string& weights);
// Registers every learned_methods() row with the recon-method registry, built by `make`:
// ml::make_learned_method in code linked with LibTorch (register_ml_methods, ml/register.hpp),
// the module loader's factory elsewhere (register_learned_methods, ml/loader.hpp).
void register_learned_methods(LearnedFactory make);

}  // namespace rb::ml
