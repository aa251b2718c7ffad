#include "ml_plugin.hpp"

#include <dlfcn.h>

#include <filesystem>
#include <mutex>

#include "reconbench/core/error.hpp"

namespace rbpy {

namespace {
std::mutex g_mutex;
bool g_loaded = false;
}  // namespace

void load_ml_plugin() {
  std::lock_guard lock(g_mutex);
  if (g_loaded) return;
  Dl_info self{};
  RB_ASSERT(dladdr(reinterpret_cast<void*>(&load_ml_plugin), &self) != 0 && self.dli_fname);
  const std::filesystem::path so =
      std::filesystem::path(self.dli_fname).parent_path() / RECONBENCH_ML_PLUGIN;
  RB_CHECK(std::filesystem::exists(so), "learned methods need the LibTorch plugin ", so.string(),
           ", which is missing (build it with `make python`)");
  // RTLD_LOCAL: the plugin resolves reconbench's symbols through its DT_NEEDED entry on this
  // extension (already loaded), LibTorch's through its own; nothing enters the global scope.
  void* h = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
  RB_CHECK(h, "cannot load the LibTorch plugin ", so.string(), ": ", dlerror());
  auto reg = reinterpret_cast<void (*)()>(dlsym(h, "reconbench_register_ml_methods"));
  RB_CHECK(reg, so.string(), ": no entry point reconbench_register_ml_methods (", dlerror(), ")");
  reg();
  g_loaded = true;
}

bool ml_plugin_loaded() {
  std::lock_guard lock(g_mutex);
  return g_loaded;
}

}  // namespace rbpy
