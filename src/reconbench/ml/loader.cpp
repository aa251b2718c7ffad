// dlopen of the LibTorch module (loader.hpp).
#include "reconbench/ml/loader.hpp"

#include <dlfcn.h>
#include <link.h>

#include <mutex>

#include "reconbench/core/error.hpp"

namespace fs = std::filesystem;

namespace rb::ml {
namespace {

std::mutex g_mutex;
const ModuleApi* g_api = nullptr;

// An address in this file (internal linkage: never interposed).
void anchor() {}

// True if `addr` lies in a loaded segment of the main program (dl_iterate_phdr lists it
// first).
bool in_main_program(const void* addr) {
  struct Query {
    uintptr_t addr;
    bool found = false;
  } q{reinterpret_cast<uintptr_t>(addr)};
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) -> int {
        auto& q = *static_cast<Query*>(data);
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const auto& ph = info->dlpi_phdr[i];
          const uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
          if (ph.p_type == PT_LOAD && q.addr >= lo && q.addr < lo + ph.p_memsz) q.found = true;
        }
        return 1;  // the first object is the main program: stop after it
      },
      &q);
  return q.found;
}

// The file holding this loader: the executable, or the shared object (Python extension)
// it was linked into.
fs::path host_file() {
  const void* self = reinterpret_cast<const void*>(&anchor);
  if (in_main_program(self)) return fs::read_symlink("/proc/self/exe");
  Dl_info info{};
  RB_ASSERT(dladdr(self, &info) != 0 && info.dli_fname, "dladdr of the module loader");
  return fs::absolute(info.dli_fname);
}

// A shared-object host was loaded RTLD_LOCAL (Python imports so); the module resolves
// reconbench's symbols from it, so it joins the global scope first.
void promote_host(const fs::path& host) {
  if (in_main_program(reinterpret_cast<const void*>(&anchor))) return;
  void* h = dlopen(host.c_str(), RTLD_NOLOAD | RTLD_NOW | RTLD_GLOBAL);
  RB_ASSERT(h != nullptr, "cannot promote ", host.string(), " to the global scope: ", dlerror());
}

std::string listed(const std::vector<fs::path>& paths) {
  std::string s;
  for (const auto& p : paths) s += (s.empty() ? "" : ", ") + p.string();
  return s;
}

std::string learned_names() {
  std::string s;
  for (const auto& m : learned_methods()) s += (s.empty() ? "" : ", ") + std::string(m.name);
  return s;
}

const ModuleApi* open_module() {
  const auto candidates = module_candidates();
  fs::path path;
  for (const auto& c : candidates)
    if (fs::exists(c)) {
      path = c;
      break;
    }
  RB_CHECK(!path.empty(), "learned methods need the LibTorch plugin ", kModuleFile, " (",
           learned_names(), "; also train and convert-weights), which is missing: looked for ",
           listed(candidates), " (build it: `cmake --build BUILD --target reconbench_ml`, part "
           "of `make`, `make demo` and `make python`)");
  promote_host(host_file());
  void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  RB_CHECK(h != nullptr, "cannot load the LibTorch module ", path.string(), ": ", dlerror());
  auto entry = reinterpret_cast<const ModuleApi* (*)()>(dlsym(h, kModuleEntry));
  RB_CHECK(entry != nullptr, "the LibTorch module ", path.string(), " has no entry point ",
           kModuleEntry, " (not a reconbench module?)");
  const ModuleApi* api = entry();
  RB_CHECK(api && api->abi == kModuleAbi && api->layout == module_layout(), "the LibTorch module ",
           path.string(), " was built from other reconbench sources than ", host_file().string(),
           " (rebuild both: `cmake --build BUILD --target reconbench reconbench_ml`)");
  return api;
}

std::unique_ptr<ReconMethod> make_through_module(const std::string& kind, const LearnedParams& p,
                                                 const std::string& weights) {
  return module().make_method(kind, p, weights);
}

}  // namespace

std::vector<fs::path> module_candidates() {
  const fs::path dir = host_file().parent_path();
  return {dir / kModuleFile, (dir / ".." / "lib" / "reconbench" / kModuleFile).lexically_normal()};
}

const ModuleApi& module() {
  std::lock_guard lock(g_mutex);
  if (!g_api) g_api = open_module();
  return *g_api;
}

bool module_loaded() {
  std::lock_guard lock(g_mutex);
  return g_api != nullptr;
}

void register_learned_methods() { register_learned_methods(&make_through_module); }

}  // namespace rb::ml
