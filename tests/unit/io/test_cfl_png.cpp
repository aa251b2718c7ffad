// BART .cfl/.hdr interop and PNG export.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <cmath>
#include <cstring>
#include <fstream>

#include "reconbench/core/fs.hpp"
#include "reconbench/io/cfl.hpp"
#include "reconbench/io/png.hpp"

namespace fs = std::filesystem;
using namespace rb;

namespace {

fs::path temp_dir() {
  static fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("rb_test_cfl_" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

template <class F>
void expect_user_error(F&& f, const std::string& needle) {
  try {
    f();
    FAIL() << "no UserError (expected '" << needle << "')";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

Array<cfloat> ramp(Shape s) {
  Array<cfloat> a(std::move(s));
  for (int64_t i = 0; i < a.size(); ++i)
    a[i] = cfloat(static_cast<float>(i), -0.5f * static_cast<float>(i));
  return a;
}

TEST(Cfl, WritesBartHeaderAndColumnMajorData) {
  fs::path base = temp_dir() / "hdr";
  CflArray a{{2, 3}, {}};
  for (int i = 0; i < 6; ++i) a.data.push_back(cfloat(float(i), float(10 + i)));
  write_cfl(base, a);
  EXPECT_EQ(read_file(temp_dir() / "hdr.hdr"), "# Dimensions\n2 3 \n");
  std::string raw = read_file(temp_dir() / "hdr.cfl");
  ASSERT_EQ(raw.size(), 48u);
  float f[12];
  std::memcpy(f, raw.data(), 48);
  EXPECT_EQ(f[2], 1.f);   // element 1 real
  EXPECT_EQ(f[3], 11.f);  // element 1 imag
  CflArray b = read_cfl(base.string() + ".cfl");  // extension tolerated
  EXPECT_EQ(b.dims, a.dims);
  EXPECT_EQ(b.data, a.data);
}

TEST(Cfl, SliceMappingMatchesBartLayout) {
  Array<cfloat> k = ramp({2, 4, 3});  // [coil read phase]
  CflArray c = kspace_slice_to_cfl(k.view());
  ASSERT_EQ(c.dims.size(), 16u);
  EXPECT_EQ(c.dims[0], 4);
  EXPECT_EQ(c.dims[1], 3);
  EXPECT_EQ(c.dims[2], 1);
  EXPECT_EQ(c.dims[3], 2);
  // column-major [read phase 1 coil]: (r=1, p=2, c=1) at 1 + 4*(2 + 3*1)
  EXPECT_EQ(c.data[1 + 4 * (2 + 3 * 1)], k.at(1, 1, 2));
  Array<cfloat> back = cfl_to_kspace_slice(c);
  EXPECT_EQ(back.shape(), k.shape());
  EXPECT_EQ(back.vec(), k.vec());
}

TEST(Cfl, VolumeRoundTripThroughFiles) {
  Array<cfloat> v = ramp({3, 2, 5, 4});
  CflArray c = kspace_volume_to_cfl(v.view());
  EXPECT_EQ(c.dims[kBartSliceDim], 3);
  fs::path base = temp_dir() / "vol";
  write_cfl(base, c);
  CflArray r = read_cfl(base);
  EXPECT_EQ(r.dims, c.dims);
  Array<cfloat> back = cfl_to_kspace_volume(r, base.string());
  EXPECT_EQ(back.shape(), v.shape());
  EXPECT_EQ(back.vec(), v.vec());
  // Slice s of the volume equals the single-slice mapping.
  CflArray one = kspace_slice_to_cfl(v(1));
  for (size_t i = 0; i < one.data.size(); ++i) ASSERT_EQ(one.data[i], c.data[one.data.size() + i]);
  // A slice-only array is a one-slice volume.
  EXPECT_EQ(cfl_to_kspace_volume(one).shape(), (Shape{1, 2, 5, 4}));
}

TEST(Cfl, TolerantHeaderParsing) {
  fs::path base = temp_dir() / "tolerant";
  write_file_atomic(temp_dir() / "tolerant.hdr",
                    "# Command\nbart ones 2 2 2\n# Dimensions\n\n2 2 1 1 1 \n# Files\n>x\n");
  write_file_atomic(temp_dir() / "tolerant.cfl", std::string(32, '\0'));
  CflArray a = read_cfl(base);
  EXPECT_EQ(a.dims, (std::vector<int64_t>{2, 2, 1, 1, 1}));
  EXPECT_EQ(a.data.size(), 4u);
}

TEST(Cfl, MalformedInputs) {
  fs::path base = temp_dir() / "bad";
  write_file_atomic(temp_dir() / "bad.hdr", "# Dimensions\n2 3\n");
  write_file_atomic(temp_dir() / "bad.cfl", std::string(40, '\0'));
  expect_user_error([&] { read_cfl(base); }, "bad.cfl: has 40 bytes");
  write_file_atomic(temp_dir() / "bad.hdr", "hello\n");
  expect_user_error([&] { read_cfl(base); }, "bad.hdr: no '# Dimensions'");
  write_file_atomic(temp_dir() / "bad.hdr", "# Dimensions\n2 x 3\n");
  expect_user_error([&] { read_cfl(base); }, "bad dimension 'x'");
  write_file_atomic(temp_dir() / "bad.hdr", "# Dimensions\n2 0 3\n");
  expect_user_error([&] { read_cfl(base); }, "bad dimension '0'");
  expect_user_error([&] { read_cfl(temp_dir() / "missing"); }, "missing.hdr: no such file");
  CflArray maps{{4, 4, 1, 2, 2}, std::vector<cfloat>(64)};
  expect_user_error([&] { cfl_to_kspace_slice(maps, "maps.cfl"); }, "maps.cfl");
  expect_user_error([&] { cfl_to_kspace_volume(maps, "maps.cfl"); }, "dim 4");
}

TEST(Png, GreyAndRgbRoundTrip) {
  Image8 g{3, 5, 1, {}};
  for (int i = 0; i < 15; ++i) g.pixels.push_back(static_cast<uint8_t>(i * 17));
  fs::path p = temp_dir() / "g.png";
  write_png(p, g);
  std::string bytes = read_file(p);
  EXPECT_EQ(bytes.substr(1, 3), "PNG");
  Image8 r = read_png(p);
  EXPECT_EQ(r.height, 3);
  EXPECT_EQ(r.width, 5);
  EXPECT_EQ(r.channels, 1);
  EXPECT_EQ(r.pixels, g.pixels);

  Image8 c{2, 2, 3, {255, 0, 0, 0, 255, 0, 0, 0, 255, 1, 2, 3}};
  write_png(temp_dir() / "c.png", c);
  Image8 rc = read_png(temp_dir() / "c.png");
  EXPECT_EQ(rc.channels, 3);
  EXPECT_EQ(rc.pixels, c.pixels);
}

TEST(Png, Errors) {
  fs::path p = temp_dir() / "notpng.png";
  write_file_atomic(p, "plain text");
  expect_user_error([&] { read_png(p); }, "notpng.png: not a PNG file");
  Image8 g{2, 2, 1, {1, 2, 3, 4}};
  write_png(p, g);
  std::string bytes = read_file(p);
  write_file_atomic(p, bytes.substr(0, bytes.size() / 2));
  expect_user_error([&] { read_png(p); }, "notpng.png: cannot decode PNG");
  Image8 wrong{2, 2, 1, {1, 2, 3}};
  expect_user_error([&] { write_png(temp_dir() / "w.png", wrong); }, "w.png");
}

TEST(Png, GreyWindowAndMontage) {
  Array<float> img({1, 5}, 0.f);
  float v[5] = {-1.f, 0.f, 0.5f, 1.f, 2.f};
  std::copy(v, v + 5, img.data());
  img[0] = std::nanf("");
  Image8 g = to_grey(img.view(), 0.f, 1.f);
  EXPECT_EQ(g.pixels, (std::vector<uint8_t>{0, 0, 128, 255, 255}));

  Image8 a{2, 1, 1, {10, 20}}, b{2, 2, 3, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}};
  Image8 h = hconcat({a, b}, 1);
  EXPECT_EQ(h.height, 2);
  EXPECT_EQ(h.width, 4);
  EXPECT_EQ(h.channels, 3);
  // row 0: a (grey 10 as RGB), gap (black), b row 0
  EXPECT_EQ(std::vector<uint8_t>(h.pixels.begin(), h.pixels.begin() + 12),
            (std::vector<uint8_t>{10, 10, 10, 0, 0, 0, 1, 2, 3, 4, 5, 6}));
  Image8 vv = vconcat({a, a}, 2);
  EXPECT_EQ(vv.height, 6);
  EXPECT_EQ(vv.pixels, (std::vector<uint8_t>{10, 20, 0, 0, 10, 20}));
  expect_user_error([&] { hconcat({a, Image8{3, 1, 1, {0, 0, 0}}}); }, "heights");
}

}  // namespace
