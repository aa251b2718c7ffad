// Regressions found by fuzz/fuzz_nifti (README "Fuzzing").
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "reconbench/core/error.hpp"
#include "reconbench/core/fs.hpp"
#include "reconbench/sim/nifti.hpp"

namespace fs = std::filesystem;
using namespace rb::sim;

namespace {

// A 2x2x2 float32 NIfTI file with the header's dims replaced and `data_bytes` of data.
fs::path nifti_claiming(const std::string& name, int16_t nx, int16_t ny, int16_t nz, int16_t datatype,
                        int16_t bitpix, size_t data_bytes) {
  const fs::path dir = fs::temp_directory_path() / ("rb_test_sim_fuzzreg_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  NiftiVolume v;
  v.nx = v.ny = v.nz = 2;
  v.data.assign(8, 1.0f);
  write_nifti(dir / "base.nii", v);
  std::string bytes = rb::read_file(dir / "base.nii").substr(0, 352);
  std::memcpy(&bytes[42], &nx, 2);
  std::memcpy(&bytes[44], &ny, 2);
  std::memcpy(&bytes[46], &nz, 2);
  std::memcpy(&bytes[70], &datatype, 2);
  std::memcpy(&bytes[72], &bitpix, 2);
  bytes += std::string(data_bytes, '\x01');
  std::ofstream(dir / name, std::ios::binary) << bytes;
  return dir / name;
}

template <class F>
std::string user_error(F fn) {
  try {
    fn();
  } catch (const rb::UserError& e) {
    return e.what();
  }
  return "";  // anything but a UserError escapes and fails the test
}

}  // namespace

// A 400-byte file claiming 32767^3 float64 voxels: the reader allocated dims * 8 bytes
// (2.8e14) before reading any data -- std::bad_alloc, or an ASan abort.
TEST(NiftiFuzzRegression, AbsurdDimensionsAreRefused) {
  const fs::path p = nifti_claiming("huge.nii", 32767, 32767, 32767, 64, 64, 40);
  const std::string m = user_error([&] { read_nifti(p); });
  EXPECT_NE(m.find(p.string()), std::string::npos) << m;
  EXPECT_NE(m.find("voxels"), std::string::npos) << m;
}

// Within the voxel limit (1000x1000x200 float64 = 1.6 GB) but only 100 data bytes: reported
// as truncated after reading at most one chunk, without allocating the whole volume.
TEST(NiftiFuzzRegression, LargeClaimWithShortDataIsTruncated) {
  const fs::path p = nifti_claiming("short.nii", 1000, 1000, 200, 64, 64, 100);
  const std::string m = user_error([&] { read_nifti(p); });
  EXPECT_NE(m.find(p.string()), std::string::npos) << m;
  EXPECT_NE(m.find("truncated: 100 of 1600000000 data bytes"), std::string::npos) << m;
}
