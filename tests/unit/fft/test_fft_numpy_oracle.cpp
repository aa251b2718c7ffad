// Oracle: reconbench's centred FFTs against numpy's
// fftshift(fftn(ifftshift(x, axes), axes, norm="ortho"), axes) (fastmri/fftc.py), run by
// Debian's /usr/bin/python3 on the same bytes. Even and odd shapes, batched.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <cstring>
#include <unistd.h>

#include "reconbench/fft/fft.hpp"
#include "reconbench/fft/transforms.hpp"

using namespace rb;
namespace fs = std::filesystem;

namespace {

void write_raw(const fs::path& p, const Array<cfloat>& a) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(a.data()), a.size() * sizeof(cfloat));
}

std::vector<float> read_floats(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<float> out(bytes.size() / sizeof(float));
  std::memcpy(out.data(), bytes.data(), out.size() * sizeof(float));
  return out;
}

}  // namespace

class NumpyFft : public ::testing::TestWithParam<Shape> {};

TEST_P(NumpyFft, Fft2cIfft2cAndRssMatchNumpy) {
  const Shape shape = GetParam();
  std::mt19937 g(shape_numel(shape));
  std::normal_distribution<float> n;
  Array<cfloat> x(shape);
  for (auto& v : x.flat()) v = {n(g), n(g)};

  auto dir = fs::temp_directory_path() / ("rb_fft_oracle_" + std::to_string(::getpid()) + "_" +
                                          std::to_string(shape_numel(shape)));
  fs::create_directories(dir);
  write_raw(dir / "x.bin", x);
  std::string dims;
  for (auto d : shape) dims += std::to_string(d) + ",";
  std::ofstream(dir / "ref.py") << R"PY(
import numpy as np, sys
d = sys.argv[1]
shape = tuple(int(s) for s in sys.argv[2].split(",") if s)
x = np.fromfile(d + "/x.bin", dtype=np.complex64).reshape(shape)
ax = (-2, -1)
f = np.fft.fftshift(np.fft.fftn(np.fft.ifftshift(x, axes=ax), axes=ax, norm="ortho"), axes=ax)
i = np.fft.fftshift(np.fft.ifftn(np.fft.ifftshift(x, axes=ax), axes=ax, norm="ortho"), axes=ax)
f.astype(np.complex64).tofile(d + "/f.bin")
i.astype(np.complex64).tofile(d + "/i.bin")
r = np.sqrt((np.abs(i) ** 2).sum(axis=0)).astype(np.float32)
r.tofile(d + "/rss.bin")
)PY";
  std::string cmd = "/usr/bin/python3 " + (dir / "ref.py").string() + " " + dir.string() + " " + dims;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "numpy oracle failed: " << cmd;

  auto f = fft2c_copy(x.view());
  auto i = ifft2c_copy(x.view());
  auto rf = read_floats(dir / "f.bin");
  auto ri = read_floats(dir / "i.bin");
  ASSERT_EQ(rf.size(), size_t(2 * x.size()));
  double maxerr = 0;
  for (int64_t k = 0; k < x.size(); ++k) {
    maxerr = std::max(maxerr, double(std::abs(f[k] - cfloat(rf[2 * k], rf[2 * k + 1]))));
    maxerr = std::max(maxerr, double(std::abs(i[k] - cfloat(ri[2 * k], ri[2 * k + 1]))));
  }
  EXPECT_LT(maxerr, 2e-5) << "shape " << shape_str(shape);

  auto r = rss(i.view());
  auto rr = read_floats(dir / "rss.bin");
  ASSERT_EQ(rr.size(), size_t(r.size()));
  for (int64_t k = 0; k < r.size(); ++k) EXPECT_NEAR(r[k], rr[k], 2e-5);
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Shapes, NumpyFft,
                         ::testing::Values(Shape{3, 3}, Shape{4, 6}, Shape{2, 10, 8},
                                           Shape{3, 7, 5}, Shape{2, 9, 12}, Shape{4, 64, 33},
                                           Shape{2, 1, 5}));
