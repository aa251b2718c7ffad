// BART .cfl/.hdr interop (BART src/misc/mmio.c): the header is "# Dimensions\n" followed by
// 16 (or fewer) space-separated sizes; the .cfl is complex64 in column-major (Fortran) order
// with BART's dims [READ PHS1 PHS2 COIL MAPS ...]. A fastMRI slice [coil read phase]
// maps to BART [read phase 1 coil].
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "reconbench/core/array.hpp"

namespace rb {

// BART's dimension indices (misc/mri.h).
inline constexpr int kBartDims = 16;
inline constexpr int kBartReadDim = 0;
inline constexpr int kBartPhs1Dim = 1;
inline constexpr int kBartPhs2Dim = 2;
inline constexpr int kBartCoilDim = 3;
inline constexpr int kBartMapsDim = 4;
inline constexpr int kBartSliceDim = 13;

struct CflArray {
  std::vector<int64_t> dims;  // BART dims (first is fastest varying)
  std::vector<cfloat> data;   // column-major
};

// `base` is the path without extension (BART convention); reads base.hdr + base.cfl. A
// trailing ".cfl" or ".hdr" on `base` is removed. Unknown "# ..." header sections are
// skipped; missing dims are 1. UserError naming the file on a bad header or a .cfl whose
// size does not match the dims. Writes are atomic (.cfl first, then .hdr).
CflArray read_cfl(const std::filesystem::path& base);
void write_cfl(const std::filesystem::path& base, const CflArray& a);

// Path without .cfl/.hdr extension.
std::filesystem::path cfl_base(const std::filesystem::path& p);

// [coil read phase] (row-major) <-> BART [read phase 1 coil] (column-major), 16 dims.
CflArray kspace_slice_to_cfl(ArrayView<const cfloat> slice);
Array<cfloat> cfl_to_kspace_slice(const CflArray& a, const std::string& what = "cfl");
// [slice coil read phase] <-> BART [read phase 1 coil 1 ... slice (dim 13) ...].
// cfl_to_kspace_volume also accepts a slice array (no dim 13) as one slice. UserError if any
// other BART dim is not 1.
CflArray kspace_volume_to_cfl(ArrayView<const cfloat> volume);
Array<cfloat> cfl_to_kspace_volume(const CflArray& a, const std::string& what = "cfl");

}  // namespace rb
