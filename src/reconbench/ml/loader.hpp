// The LibTorch module: learned methods, training and the weights converter live in
// libreconbench_ml.so (ml/ + LibTorch), loaded with dlopen the first time one of them is
// needed, so that every other command starts without mapping LibTorch's ~290 libraries.
// Torch-free: the CLI and the Python binding call it.
//
// Where the module is looked for, in this order (module_candidates()):
//   1. the directory of the program or library holding this loader (the reconbench
//      executable: the build directory or <prefix>/bin; the Python extension's directory)
//   2. ../lib/reconbench/ relative to it (`cmake --install`: <prefix>/lib/reconbench/)
// The module resolves reconbench's own symbols from its host (one method registry, thread
// pool, interrupt flag and HDF5 lock per process): the executable exports them (-rdynamic);
// a host that is itself a shared object is promoted to the global scope before loading.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "reconbench/io/fastmri.hpp"
#include "reconbench/ml/infer.hpp"
#include "reconbench/ml/learned.hpp"
#include "reconbench/ml/train.hpp"
#include "reconbench/recon/method.hpp"

namespace rb::ml {

inline constexpr const char* kModuleFile = "libreconbench_ml.so";
inline constexpr const char* kModuleEntry = "reconbench_ml_module";  // extern "C", returns
                                                                     // const ModuleApi*
// Bumped when ModuleApi changes; module_layout() catches a module built against different
// declarations of the types that cross the boundary.
inline constexpr int kModuleAbi = 1;
constexpr std::size_t module_layout() {
  return sizeof(LearnedParams) + 3 * sizeof(TrainOptions) + 5 * sizeof(TrainResult) +
         7 * sizeof(ConvertReport) + 11 * sizeof(SliceInput) + 13 * sizeof(ReconMethodConfig) +
         17 * sizeof(IsmrmrdInfo) + 19 * sizeof(EpochRecord);
}

// What the module exports (ml/module_entry.cpp), all implemented with LibTorch.
struct ModuleApi {
  int abi = 0;
  std::size_t layout = 0;
  std::unique_ptr<ReconMethod> (*make_method)(const std::string& kind, const LearnedParams& p,
                                              const std::string& weights) = nullptr;
  TrainResult (*train)(const TrainOptions& opts) = nullptr;
  ConvertReport (*convert)(const std::filesystem::path& in,
                           const std::filesystem::path& out_weights,
                           const std::string& strip_prefix) = nullptr;
};

std::vector<std::filesystem::path> module_candidates();
// Loads the module once (thread-safe) and returns its entry points. UserError naming the
// file (and every place looked at) when it is missing, cannot be loaded (dlerror's reason)
// or was built from other sources.
const ModuleApi& module();
bool module_loaded();

// The learned methods registered with their names, help and parameter tables (learned.hpp),
// torch-free; building one loads the module.
void register_learned_methods();

}  // namespace rb::ml
