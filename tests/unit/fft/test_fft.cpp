#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "reconbench/fft/fft.hpp"
#include "reconbench/fft/transforms.hpp"

using namespace rb;

namespace {
Array<cfloat> random_array(Shape s, unsigned seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> n;
  Array<cfloat> a(std::move(s));
  for (auto& v : a.flat()) v = {n(g), n(g)};
  return a;
}

// Direct O(N^2) centred DFT for reference: shift, DFT with 1/sqrt(HW), shift.
Array<cfloat> slow_fft2c(const Array<cfloat>& x, int sign) {
  const int64_t h = x.dim(-2), w = x.dim(-1);
  Array<cfloat> y = x;
  ifftshift2(y.view());
  Array<cfloat> out(y.shape());
  for (int64_t k = 0; k < h; ++k)
    for (int64_t l = 0; l < w; ++l) {
      std::complex<double> acc = 0;
      for (int64_t i = 0; i < h; ++i)
        for (int64_t j = 0; j < w; ++j) {
          double ph = sign * 2 * M_PI * (double(k * i) / h + double(l * j) / w);
          acc += std::complex<double>(y.at(i, j)) * std::polar(1.0, ph);
        }
      out.at(k, l) = cfloat(acc / std::sqrt(double(h * w)));
    }
  fftshift2(out.view());
  return out;
}
}  // namespace

class FftShapes : public ::testing::TestWithParam<std::pair<int, int>> {};

TEST_P(FftShapes, MatchesDirectCentredDft) {
  auto [h, w] = GetParam();
  auto x = random_array({h, w}, 7 + h * 31 + w);
  auto f = fft2c_copy(x.view());
  auto ref = slow_fft2c(x, -1);
  for (int64_t i = 0; i < f.size(); ++i) EXPECT_NEAR(std::abs(f[i] - ref[i]), 0.0, 1e-4) << i;
  auto back = ifft2c_copy(f.view());
  for (int64_t i = 0; i < x.size(); ++i) EXPECT_NEAR(std::abs(back[i] - x[i]), 0.0, 1e-5);
  auto iref = slow_fft2c(x, +1);
  auto fi = ifft2c_copy(x.view());
  for (int64_t i = 0; i < fi.size(); ++i) EXPECT_NEAR(std::abs(fi[i] - iref[i]), 0.0, 1e-4);
}

INSTANTIATE_TEST_SUITE_P(EvenOdd, FftShapes,
                         ::testing::Values(std::pair{4, 6}, std::pair{3, 3}, std::pair{5, 8},
                                           std::pair{8, 7}, std::pair{1, 6}, std::pair{16, 10}));

TEST(Fft, BatchedEqualsPerImage) {
  auto x = random_array({3, 2, 6, 5}, 1);
  auto all = fft2c_copy(x.view());
  for (int64_t b = 0; b < 6; ++b) {
    Array<cfloat> one = Array<cfloat>::from_view(ArrayView<const cfloat>(x.data() + b * 30, {6, 5}));
    fft2c(one.view());
    for (int64_t i = 0; i < 30; ++i) EXPECT_EQ(all[b * 30 + i], one[i]);
  }
}

TEST(Fft, Orthonormal) {
  auto x = random_array({2, 12, 10}, 3);
  double e0 = 0, e1 = 0;
  for (auto v : x.flat()) e0 += std::norm(v);
  auto f = fft2c_copy(x.view());
  for (auto v : f.flat()) e1 += std::norm(v);
  EXPECT_NEAR(e0, e1, 1e-4 * e0);
}

TEST(Fft, OneDimAlongAxisMatches2DSeparable) {
  auto x = random_array({2, 6, 8}, 5);
  auto a = x;
  fft1c(a.view(), 1);
  fft1c(a.view(), 2);
  auto b = fft2c_copy(x.view());
  for (int64_t i = 0; i < a.size(); ++i) EXPECT_NEAR(std::abs(a[i] - b[i]), 0.0, 1e-5);
}

TEST(Transforms, RssAndCrop) {
  Array<cfloat> c({2, 4, 4});
  for (int64_t i = 0; i < 16; ++i) { c[i] = {3, 0}; c[16 + i] = {0, 4}; }
  auto r = rss(c.view());
  ASSERT_EQ(r.shape(), (Shape{4, 4}));
  for (auto v : r.flat()) EXPECT_FLOAT_EQ(v, 5.0f);
  Array<float> img({5, 7});
  for (int64_t i = 0; i < 35; ++i) img[i] = float(i);
  auto cc = center_crop<float>(img.view(), 3, 4);
  // start = (5-3)//2 = 1, (7-4)//2 = 1
  EXPECT_EQ(cc.at(0, 0), img.at(1, 1));
  EXPECT_EQ(cc.at(2, 3), img.at(3, 4));
  EXPECT_THROW(center_crop<float>(img.view(), 6, 4), UserError);
  auto back = center_pad<float>(cc.view(), 5, 7);
  EXPECT_EQ(back.at(1, 1), img.at(1, 1));
  EXPECT_EQ(back.at(0, 0), 0.0f);
}

TEST(Transforms, RemoveReadoutOversamplingKeepsCentralFov) {
  // An object confined to the central half of the readout FOV survives exactly.
  Array<cfloat> img({1, 16, 6});
  std::mt19937 g(2);
  std::normal_distribution<float> n;
  for (int64_t i = 4; i < 12; ++i)
    for (int64_t j = 0; j < 6; ++j) img.at(0, i, j) = {n(g), n(g)};
  auto k = fft2c_copy(img.view());
  auto k2 = remove_readout_oversampling(k.view());
  ASSERT_EQ(k2.shape(), (Shape{1, 8, 6}));
  auto img2 = ifft2c_copy(k2.view());
  // Unitary transforms and an image-domain crop: values are preserved exactly.
  for (int64_t i = 0; i < 8; ++i)
    for (int64_t j = 0; j < 6; ++j)
      EXPECT_NEAR(std::abs(img2.at(0, i, j) - img.at(0, i + 4, j)), 0, 1e-4);
}
