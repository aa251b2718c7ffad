// Internal to io/: the HDF5 types of h5py's complex64, shared by the fastMRI reader
// (fastmri.cpp) and writer (fastmri_write.cpp). Call with h5::lock() held.
#pragma once

#include <string>

#include "reconbench/io/hdf5.hpp"

namespace rb::h5 {

// In memory: two native floats named rname, iname.
Id complex_mem_type(const std::string& rname = "r", const std::string& iname = "i");
// In the file: {r: <f4 @0, i: <f4 @4}, size 8 (h5py's numpy complex64).
Id complex_file_type();

}  // namespace rb::h5
