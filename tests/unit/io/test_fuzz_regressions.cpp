// Regressions found by fuzz/fuzz_hdf5_layout (README "Fuzzing"): tiny HDF5 files whose
// declared shapes made the fastMRI reader allocate terabytes or overflow an element count.
// HDF5 stores nothing for an unwritten chunked dataset, so a file of a few KB can declare
// 2^40 elements.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <filesystem>

#include "reconbench/core/fs.hpp"
#include "reconbench/io/fastmri.hpp"
#include "reconbench/io/hdf5.hpp"

namespace fs = std::filesystem;
using namespace rb;

namespace {

fs::path temp_path(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("rb_test_io_fuzzreg_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d / name;
}

// A valid 1x1x4x4 k-space file, then `extra(file)` adds the malformed part.
template <class F>
fs::path kspace_file_with(const std::string& name, F extra) {
  const fs::path p = temp_path(name);
  FastMriVolume v;
  v.kspace = Array<cfloat>({1, 1, 4, 4});
  write_fastmri(p, v);
  auto guard = h5::lock();
  h5::Id f(H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT));
  EXPECT_TRUE(f.valid());
  extra(f.get());
  return p;
}

// An unwritten chunked dataset of `dims` (nothing stored: the file stays small).
void declare(hid_t f, const char* name, hid_t type, std::vector<hsize_t> dims) {
  h5::Id space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  h5::Id dcpl(H5Pcreate(H5P_DATASET_CREATE));
  std::vector<hsize_t> chunk(dims.size(), 1);
  H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data());
  h5::Id ds(H5Dcreate2(f, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
  ASSERT_TRUE(ds.valid());
}

template <class F>
void expect_user_error(F fn, const fs::path& p, const std::string& what) {
  try {
    fn();
    ADD_FAILURE() << "no error for " << p;
  } catch (const UserError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(p.string()), std::string::npos) << m;
    EXPECT_NE(m.find(what), std::string::npos) << m;
  }
  // Anything else (std::bad_alloc, std::length_error) escapes and fails the test.
}

}  // namespace

// ismrmrd_header as a 1-D uint8 array of 2^40 bytes: read_string_value allocated
// npoints * size bytes up front (std::bad_alloc, or an ASan allocation-size-too-big abort).
TEST(FastMriFuzzRegression, HugeByteArrayHeaderIsRefused) {
  const fs::path p = kspace_file_with("hdr_bomb.h5", [](hid_t f) {
    declare(f, "ismrmrd_header", H5T_STD_U8LE, {hsize_t{1} << 40});
  });
  EXPECT_LT(fs::file_size(p), 64u << 10);
  expect_user_error([&] { FastMriFile file(p); }, p, "ismrmrd_header");
  // The shared reader (h5::read_string, also used by evaluation for the vendor label).
  expect_user_error(
      [&] {
        auto guard = h5::lock();
        h5::Id f = h5::open_readonly(p);
        h5::Id d(H5Dopen2(f, "ismrmrd_header", H5P_DEFAULT));
        h5::Id t(H5Dget_type(d)), s(H5Dget_space(d));
        h5::read_string(d, t, s, false, p, "ismrmrd_header");
      },
      p, "more than the 67108864 bytes");
}

// The same through a fixed-length string type of 2^31 bytes per element.
TEST(FastMriFuzzRegression, HugeFixedStringHeaderIsRefused) {
  const fs::path p = kspace_file_with("str_bomb.h5", [](hid_t f) {
    h5::Id t(H5Tcopy(H5T_C_S1));
    H5Tset_size(t, size_t{1} << 31);
    h5::Id space(H5Screate(H5S_SCALAR));
    h5::Id ds(H5Dcreate2(f, "ismrmrd_header", t, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    ASSERT_TRUE(ds.valid());
  });
  expect_user_error([&] { FastMriFile file(p); }, p, "ismrmrd_header");
}

// mask of shape (2^40, 2^40, 2^40): shape_numel overflowed int64 (undefined behaviour,
// reported by UBSan in fuzz and sanitizer builds) before the length check. Now the mask's
// dims are checked like every other dataset's first.
TEST(FastMriFuzzRegression, MaskWithOverflowingShapeIsRefused) {
  const fs::path p = kspace_file_with("mask_overflow.h5", [](hid_t f) {
    declare(f, "mask", H5T_IEEE_F32LE, {hsize_t{1} << 40, hsize_t{1} << 40, hsize_t{1} << 40});
  });
  expect_user_error([&] { FastMriFile file(p); }, p, "'mask' has shape");
}

// Found by fuzz/fuzz_ismrmrd_xml: a header libismrmrd rejects goes to the fallback reader,
// which cast std::stod's result to int64 -- undefined behaviour for "inf", "nan" or "1e300"
// (UBSan: "inf is outside the range of representable values of type 'long'"; on x86 the
// matrix size silently became INT64_MIN). Such sizes now make the header invalid.
TEST(IsmrmrdFuzzRegression, NonIntegerMatrixSizeInFallbackHeader) {
  for (const char* bad : {"inf", "nan", "1e300", "-1e19", "320.5"}) {
    // No experimentalConditions: libismrmrd refuses it, so the fallback reader parses it.
    const std::string xml = std::string(
        "<?xml version=\"1.0\"?><ismrmrdHeader xmlns=\"http://www.ismrm.org/ISMRMRD\"><encoding>"
        "<encodedSpace><matrixSize><x>") + bad + "</x><y>372</y><z>1</z></matrixSize></encodedSpace>"
        "<reconSpace><matrixSize><x>320</x><y>320</y><z>1</z></matrixSize></reconSpace>"
        "</encoding></ismrmrdHeader>";
    try {
      IsmrmrdInfo info = parse_ismrmrd_header(xml, "hdr.xml");
      ADD_FAILURE() << bad << ": parsed, enc_x = " << info.enc_x;
    } catch (const UserError& e) {
      EXPECT_NE(std::string(e.what()).find("hdr.xml: invalid ISMRMRD header"), std::string::npos) << e.what();
    }
  }
  // The same header with a proper size still parses through the fallback.
  const std::string good =
      "<?xml version=\"1.0\"?><ismrmrdHeader xmlns=\"http://www.ismrm.org/ISMRMRD\"><encoding>"
      "<encodedSpace><matrixSize><x>640</x><y>372</y><z>1</z></matrixSize></encodedSpace>"
      "<reconSpace><matrixSize><x>320</x><y>320</y><z>1</z></matrixSize></reconSpace>"
      "<encodingLimits><kspace_encoding_step_1><center>inf</center></kspace_encoding_step_1>"
      "</encodingLimits></encoding></ismrmrdHeader>";
  const IsmrmrdInfo info = parse_ismrmrd_header(good, "hdr.xml");
  EXPECT_EQ(info.enc_x, 640);
  EXPECT_EQ(info.pe_center, 186);  // an unusable center falls back to enc_y / 2
}
