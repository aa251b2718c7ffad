// NIfTI-1 reading of the anatomy template (sim/nifti.cpp): header validation, datatypes,
// scaling, sform/qform, vox_offset, truncation, and gzip (.nii.gz) streams through zlib --
// zlib's gzread reads plain and gzip files alike, so inputs starting with the gzip magic
// exercise decompression. Seeds: write_nifti volumes (float32, plain and gzip) and variants
// with the integer datatypes the Colin27 templates use.
#include "common.hpp"
#include "reconbench/sim/nifti.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto p = rb::fuzz::write_bytes("input.nii", data, size);
  rb::fuzz::expected([&] {
    auto v = rb::sim::read_nifti(p);
    if (!v.data.empty()) {
      (void)v.at(v.nx - 1, v.ny - 1, v.nz - 1);
      (void)v.world(0.5, 0.5, 0.5);
    }
  });
  return 0;
}
