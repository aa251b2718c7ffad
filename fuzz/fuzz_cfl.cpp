// BART .cfl/.hdr (io/cfl.cpp). Input: a little-endian uint16 header length L, then L bytes
// of the .hdr text, then the .cfl bytes. Both files are written and read with read_cfl, then
// converted to fastMRI k-space (cfl_to_kspace_volume / cfl_to_kspace_slice) as `reconbench
// convert` does. Seeds: write_cfl of k-space slices and volumes.
#include <string>

#include "common.hpp"
#include "reconbench/io/cfl.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t hlen = std::min<size_t>(data[0] | (size_t{data[1]} << 8), size - 2);
  rb::fuzz::write_bytes("input.hdr", data + 2, hlen);
  rb::fuzz::write_bytes("input.cfl", data + 2 + hlen, size - 2 - hlen);
  rb::fuzz::expected([&] {
    rb::CflArray a = rb::read_cfl(rb::fuzz::scratch() / "input");
    rb::fuzz::expected([&] { (void)rb::cfl_to_kspace_volume(a, "fuzz"); });
    rb::fuzz::expected([&] { (void)rb::cfl_to_kspace_slice(a, "fuzz"); });
  });
  return 0;
}
