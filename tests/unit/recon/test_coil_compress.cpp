// SVD coil compression (recon/coil_compress.hpp) against numpy's SVD (Debian's
// /usr/bin/python3): singular values, the subspace U_K U_K^H, the virtual-coil magnitudes
// |U_K^H D| (unique up to a unit phase per virtual coil), and the properties the learned
// methods rely on (unsampled columns stay exactly zero; deterministic phase convention).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "phantom.hpp"
#include "reconbench/recon/coil_compress.hpp"

namespace rb {
namespace {

namespace fs = std::filesystem;

template <class T>
std::vector<T> read_raw(const fs::path& p, size_t n) {
  std::vector<T> v(n);
  std::ifstream f(p, std::ios::binary);
  f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(n * sizeof(T)));
  EXPECT_TRUE(f.good()) << p;
  return v;
}

TEST(CoilCompress, MatchesNumpySvd) {
  const int64_t nc = 8, H = 48, W = 40, K = 3;
  auto p = test::make_phantom(nc, H, W, 0.01f, 11);
  // 1-D undersampling along the phase axis (every 3rd column + a centre block)
  for (int64_t c = 0; c < nc; ++c)
    for (int64_t x = 0; x < H; ++x)
      for (int64_t y = 0; y < W; ++y)
        if (y % 3 != 0 && std::abs(y - W / 2) > 4) p.kspace.at(c, x, y) = 0;
  const auto dir = fs::temp_directory_path() / ("rb_cc_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "k.bin", std::ios::binary)
      .write(reinterpret_cast<const char*>(p.kspace.data()),
             static_cast<std::streamsize>(p.kspace.size() * sizeof(cfloat)));
  const std::string py = R"PY(
import numpy as np, sys
d = sys.argv[1]; nc, H, W, K = map(int, sys.argv[2:6])
D = np.fromfile(d + '/k.bin', dtype=np.complex64).astype(np.complex128).reshape(nc, H * W)
U, s, Vh = np.linalg.svd(D, full_matrices=False)
Uk = U[:, :K]
s.astype(np.float64).tofile(d + '/s.bin')
(Uk @ Uk.conj().T).astype(np.complex128).tofile(d + '/proj.bin')
np.abs(Uk.conj().T @ D).astype(np.float64).tofile(d + '/absv.bin')
)PY";
  std::ofstream(dir / "svd.py") << py;
  const std::string cmd = "/usr/bin/python3 " + (dir / "svd.py").string() + " " + dir.string() +
                          " " + std::to_string(nc) + " " + std::to_string(H) + " " +
                          std::to_string(W) + " " + std::to_string(K);
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "python3-numpy is required (scripts/install-deps)";

  const auto cc = recon::coil_compression(p.kspace.view(), K);
  ASSERT_EQ(cc.matrix.shape(), (Shape{K, nc}));
  const auto s = read_raw<double>(dir / "s.bin", nc);
  ASSERT_EQ(cc.singular_values.size(), static_cast<size_t>(nc));
  for (int64_t i = 0; i < nc; ++i) EXPECT_NEAR(cc.singular_values[i], s[i], 1e-4 * s[0]) << i;
  // A^H A = U_K U_K^H (the subspace), and A A^H = I
  const auto proj = read_raw<cdouble>(dir / "proj.bin", nc * nc);
  for (int64_t a = 0; a < nc; ++a)
    for (int64_t b = 0; b < nc; ++b) {
      cdouble ours = 0, eye = 0;
      for (int64_t r = 0; r < K; ++r) ours += std::conj(cdouble(cc.matrix[r * nc + a])) * cdouble(cc.matrix[r * nc + b]);
      EXPECT_LT(std::abs(ours - proj[a * nc + b]), 1e-5) << a << "," << b;
      if (a < K && b < K) {
        for (int64_t c = 0; c < nc; ++c) eye += cdouble(cc.matrix[a * nc + c]) * std::conj(cdouble(cc.matrix[b * nc + c]));
        EXPECT_LT(std::abs(eye - (a == b ? 1.0 : 0.0)), 1e-5);
      }
    }
  // virtual coils: |A D| = |U_K^H D| element-wise; unsampled columns exactly zero
  const auto v = recon::compress_coils(p.kspace.view(), K);
  ASSERT_EQ(v.shape(), (Shape{K, H, W}));
  const auto absv = read_raw<double>(dir / "absv.bin", K * H * W);
  double peak = 0;
  for (double x : absv) peak = std::max(peak, x);
  for (int64_t i = 0; i < v.size(); ++i) {
    EXPECT_NEAR(std::abs(v[i]), absv[i], 1e-4 * peak) << i;
    const int64_t y = i % W;
    if (y % 3 != 0 && std::abs(y - W / 2) > 4) {
      EXPECT_EQ(v[i], cfloat(0)) << i;
    }
  }
  // phase convention: the largest weight of each row is real and positive
  for (int64_t r = 0; r < K; ++r) {
    int64_t big = 0;
    for (int64_t c = 1; c < nc; ++c)
      if (std::abs(cc.matrix[r * nc + c]) > std::abs(cc.matrix[r * nc + big])) big = c;
    EXPECT_GT(cc.matrix[r * nc + big].real(), 0.f);
    EXPECT_NEAR(cc.matrix[r * nc + big].imag(), 0.f, 1e-6f);
  }
  fs::remove_all(dir);
}

TEST(CoilCompress, AsManyOrMoreVirtualCoilsKeepsTheDataAndZeroIsAnError) {
  auto p = test::make_phantom(4, 16, 12);
  EXPECT_EQ(recon::compress_coils(p.kspace.view(), 4).vec(), p.kspace.vec());
  EXPECT_EQ(recon::compress_coils(p.kspace.view(), 9).vec(), p.kspace.vec());
  EXPECT_THROW(recon::compress_coils(p.kspace.view(), 0), UserError);
}

}  // namespace
}  // namespace rb
