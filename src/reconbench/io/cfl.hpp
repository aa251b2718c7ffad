// BART .cfl/.hdr interop (BART src/misc/mmio.c): the header is "# Dimensions\n" followed by
// 16 (or fewer) space-separated sizes; the .cfl is complex64 in column-major (Fortran) order
// with BART's dims [READ PHS1 PHS2 COIL MAPS ...]. A fastMRI slice [coil read phase]
// maps to BART [read phase 1 coil].
#pragma once

#include <filesystem>
#include <vector>

#include "reconbench/core/array.hpp"

namespace rb {

struct CflArray {
  std::vector<int64_t> dims;  // BART dims (first is fastest varying)
  std::vector<cfloat> data;   // column-major
};

// `base` is the path without extension (BART convention); reads base.hdr + base.cfl.
CflArray read_cfl(const std::filesystem::path& base);
void write_cfl(const std::filesystem::path& base, const CflArray& a);

// [coil read phase] (row-major) <-> BART [read phase 1 coil] (column-major).
CflArray kspace_slice_to_cfl(ArrayView<const cfloat> slice);
Array<cfloat> cfl_to_kspace_slice(const CflArray& a);

}  // namespace rb
