#include "reconbench/ml/allocator.hpp"

#include <malloc.h>

#include <mutex>

namespace rb::ml {

void keep_freed_memory() {
  static std::once_flag once;
  std::call_once(once, [] {
    mallopt(M_MMAP_MAX, 0);                   // large blocks from the heap, not mmap
    mallopt(M_TRIM_THRESHOLD, 1 << 30);        // release free heap top only above 1 GiB...
    mallopt(M_TOP_PAD, 64 << 20);              // ...and grow the heap in 64 MiB steps
  });
}

}  // namespace rb::ml
