// Every reconbench reader of fastMRI-style HDF5 files, run on one file: the k-space reader
// (io/fastmri.cpp: layout checks, slice and whole reads, mask, ISMRMRD header, attrs),
// reconstruction files (io), evaluation inputs (eval/input.cpp) and the validator's dataset
// inspection (challenge/h5.cpp). Shared by fuzz_hdf5_raw and fuzz_hdf5_layout.
//
// The readers deliberately accept large volumes (fastMRI k-space up to 2^31 complex values,
// 16 GiB). A 2 KB file can declare such a shape (chunked storage, fill value), so this
// harness reads bulk data only when the declared size is below kReadCap; shapes and all
// metadata are still parsed and checked for every input.
#pragma once

#include <filesystem>

#include "common.hpp"
#include "reconbench/challenge/h5.hpp"
#include "reconbench/core/array.hpp"
#include "reconbench/eval/evaluate.hpp"
#include "reconbench/io/fastmri.hpp"

namespace rb::fuzz {

inline constexpr int64_t kReadCap = int64_t{1} << 22;  // elements read per dataset

// Element count of a declared shape, saturating (dims straight from a file can overflow).
inline int64_t declared_numel(const Shape& dims) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0 || (d > 0 && n > INT64_MAX / d)) return INT64_MAX;
    n *= d;
  }
  return n;
}

inline void read_all_ways(const std::filesystem::path& p) {
  expected([&] { (void)rb::list_datasets(p); });
  expected([&] {
    rb::FastMriFile f(p);
    (void)f.kspace_shape();
    if (declared_numel(f.kspace_shape()) <= kReadCap) (void)f.read_kspace();
    if (declared_numel({f.num_coils(), f.readout(), f.phase()}) <= kReadCap) {
      expected([&] { (void)f.read_kspace_slice(0); });
      expected([&] { (void)f.read_kspace_slice(f.num_slices() - 1); });
    }
    if (f.has_target() && declared_numel(f.target_shape()) <= kReadCap) {
      expected([&] { (void)f.read_target(); });
      expected([&] { (void)f.read_target_slice(f.num_slices() / 2); });
    }
    if (f.has_mask()) expected([&] { (void)f.read_mask(); });
    if (f.has_header()) expected([&] {
        const auto& h = f.header();
        (void)h.padding_left();
        (void)h.padding_right();
      });
    (void)f.acquisition();
    (void)f.attr_max();
    (void)f.acceleration();
  });
  for (const char* key : {"reconstruction", "reconstruction_rss"}) {
    challenge::DatasetInfo info;
    if (!expected([&] { info = challenge::inspect_dataset(p, key); }) || !info.exists) continue;
    if (declared_numel(info.dims) > kReadCap) continue;
    expected([&] { (void)challenge::read_float32(p, key); });
    expected([&] { (void)rb::read_reconstruction(p, key); });
    expected([&] { (void)eval::read_eval_input(p, {key}); });
  }
  expected([&] { (void)eval::read_eval_attrs(p); });
}

}  // namespace rb::fuzz
