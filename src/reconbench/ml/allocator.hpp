// Memory reuse for LibTorch on CPU. A VarNet step allocates and frees tensors of ~100 MB
// many times; glibc serves blocks above its mmap threshold (at most 32 MB) with fresh
// mmap()s, so every such tensor is page-faulted and zeroed by the kernel again (25-37 % of
// a training step went to system time; design note libtorch.md §5). With mmap off and the
// heap never trimmed, freed blocks are reused instead: the VarNet training step of
// bench_ml went from 15.9 to 10.5 s CPU (1 thread, 8 coils 320x320), peak RSS unchanged.
// Process-wide and idempotent; the memory is kept until the process ends. Torch-free.
#pragma once

namespace rb::ml {

void keep_freed_memory();

}  // namespace rb::ml
