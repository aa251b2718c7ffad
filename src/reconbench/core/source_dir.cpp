// The source checkout this binary was built from (shipped models/, web/). The only
// translation unit compiled with RECONBENCH_SOURCE_DIR, so that every other object file is
// independent of where the checkout lives (a compiler cache shares them across worktrees).
#include "reconbench/core/fs.hpp"

namespace rb {

std::filesystem::path source_dir() { return std::filesystem::path(RECONBENCH_SOURCE_DIR); }

}  // namespace rb
