// Raw bytes as an HDF5 file, through every reconbench reader (hdf5_readers.hpp). Seeds are
// real-layout files written by reconbench's own writers (fuzz_seeds): fastMRI k-space files
// of the train/val and test/challenge layouts, ground truth and reconstruction files.
//
// libhdf5 itself is Debian's uninstrumented build: coverage feedback comes from reconbench's
// code only, and ASan sees HDF5's heap only through malloc/free. fuzz_hdf5_layout covers the
// layout checks structurally.
#include "hdf5_readers.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto p = rb::fuzz::write_bytes("input.h5", data, size);
  rb::fuzz::read_all_ways(p);
  return 0;
}
