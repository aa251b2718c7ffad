// HDF5 files that make a reader read *another* file (issue 15: a submission scored SSIM 1.0
// by pointing its `reconstruction` at the hidden ground truth), written with the HDF5 C API
// for the io/challenge/server tests and the fuzz seeds (fuzz/fuzz_seeds.cpp). Each file has
// a dataset `key` of float32 [slice y x] whose values, read without the object-graph check
// of io/hdf5.hpp, are those of `target_key` in `target` (an HDF5 file with a contiguous
// float32 dataset of the same shape), except for the soft links and the unexpected filter.
#pragma once

#include <hdf5.h>

#include <filesystem>
#include <string>
#include <vector>

#include "reconbench/core/error.hpp"
#include "reconbench/io/hdf5.hpp"

namespace rb::testing {

enum class H5Attack {
  external_link,      // h5py.ExternalLink(target, target_key)
  soft_link_missing,  // h5py.SoftLink("/no/such/object")
  soft_link_inside,   // a soft link to a dataset of the same file
  virtual_dataset,    // a VDS whose source is target:target_key
  external_storage,   // external=[(target, raw offset of target_key, nbytes)]
  user_defined_link,  // a link of a registered user-defined class (id 100)
  unexpected_filter,  // a chunked dataset through the scale-offset filter
};

inline const std::vector<H5Attack>& all_h5_attacks() {
  static const std::vector<H5Attack> v = {H5Attack::external_link,    H5Attack::soft_link_missing,
                                          H5Attack::soft_link_inside, H5Attack::virtual_dataset,
                                          H5Attack::external_storage, H5Attack::user_defined_link,
                                          H5Attack::unexpected_filter};
  return v;
}

inline std::string h5_attack_name(H5Attack a) {
  switch (a) {
    case H5Attack::external_link: return "external_link";
    case H5Attack::soft_link_missing: return "soft_link_missing";
    case H5Attack::soft_link_inside: return "soft_link_inside";
    case H5Attack::virtual_dataset: return "virtual_dataset";
    case H5Attack::external_storage: return "external_storage";
    case H5Attack::user_defined_link: return "user_defined_link";
    default: return "unexpected_filter";
  }
}

// The words the refusal names (io/hdf5.cpp), for assertions.
inline std::string h5_attack_reason(H5Attack a) {
  switch (a) {
    case H5Attack::external_link: return "external link";
    case H5Attack::soft_link_missing:
    case H5Attack::soft_link_inside: return "soft link";
    case H5Attack::virtual_dataset: return "virtual dataset";
    case H5Attack::external_storage: return "external files";
    case H5Attack::user_defined_link: return "user-defined link";
    default: return "filter";
  }
}

namespace detail {

// Raw byte offset and shape of a contiguous dataset.
inline haddr_t raw_offset(const std::filesystem::path& file, const std::string& key, std::vector<hsize_t>& dims) {
  h5::Id f(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  RB_ASSERT(f.valid(), "cannot open ", file.string());
  h5::Id d(H5Dopen2(f, key.c_str(), H5P_DEFAULT));
  h5::Id s(H5Dget_space(d));
  dims.assign(static_cast<size_t>(H5Sget_simple_extent_ndims(s)), 0);
  H5Sget_simple_extent_dims(s, dims.data(), nullptr);
  return H5Dget_offset(d);
}

inline hid_t ud_traverse_never(const char*, hid_t, const void*, size_t, hid_t, hid_t) { return -1; }

}  // namespace detail

// `target` may be relative (as the link stores it; HDF5 resolves a relative external link
// or VDS source against the attacking file's directory); `target_on_disk` is where the test
// finds it now (for the raw offset and shape).
inline void write_h5_attack(const std::filesystem::path& file, H5Attack attack, const std::string& key,
                            const std::filesystem::path& target, const std::string& target_key,
                            const std::filesystem::path& target_on_disk) {
  auto guard = h5::lock();
  std::vector<hsize_t> dims;
  const haddr_t offset = detail::raw_offset(target_on_disk, target_key, dims);
  h5::Id f(H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  RB_ASSERT(f.valid(), "cannot create ", file.string());
  h5::Id space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  h5::Id dcpl(H5Pcreate(H5P_DATASET_CREATE));
  hsize_t n = 1;
  for (hsize_t d : dims) n *= d;
  switch (attack) {
    case H5Attack::external_link:
      H5Lcreate_external(target.c_str(), target_key.c_str(), f, key.c_str(), H5P_DEFAULT, H5P_DEFAULT);
      return;
    case H5Attack::soft_link_missing:
      H5Lcreate_soft("/no/such/object", f, key.c_str(), H5P_DEFAULT, H5P_DEFAULT);
      return;
    case H5Attack::soft_link_inside: {
      h5::Id d(H5Dcreate2(f, "data", H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
      H5Lcreate_soft("/data", f, key.c_str(), H5P_DEFAULT, H5P_DEFAULT);
      return;
    }
    case H5Attack::virtual_dataset:
      H5Pset_virtual(dcpl, space, target.c_str(), target_key.c_str(), space);
      break;
    case H5Attack::external_storage:
      H5Pset_external(dcpl, target.c_str(), static_cast<off_t>(offset), n * sizeof(float));
      break;
    case H5Attack::user_defined_link: {
      static const H5L_class_t cls = {H5L_LINK_CLASS_T_VERS, static_cast<H5L_type_t>(100), "rb-test-ud",
                                      nullptr, nullptr, nullptr, detail::ud_traverse_never, nullptr, nullptr};
      H5Lregister(&cls);
      const std::string udata = target.string();
      H5Lcreate_ud(f, key.c_str(), static_cast<H5L_type_t>(100), udata.data(), udata.size(), H5P_DEFAULT,
                   H5P_DEFAULT);
      H5Lunregister(static_cast<H5L_type_t>(100));
      return;
    }
    case H5Attack::unexpected_filter: {
      std::vector<hsize_t> chunk(dims);
      chunk[0] = 1;
      H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data());
      H5Pset_scaleoffset(dcpl, H5Z_SO_FLOAT_DSCALE, 6);
      break;
    }
  }
  h5::Id d(H5Dcreate2(f, key.c_str(), H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
  RB_ASSERT(d.valid(), "cannot create the attack dataset in ", file.string());
}

}  // namespace rb::testing
