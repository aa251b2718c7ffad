// SSIM/PSNR/NMSE against a direct, independent implementation of the definitions
// (explicit 7x7 loops in double, no running sums), plus the contract's error cases.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "reconbench/core/parallel.hpp"
#include "reconbench/eval/metrics.hpp"

namespace {

using rb::Array;
using rb::ArrayView;
namespace ev = rb::eval;

// skimage structural_similarity(x, y, data_range=L) defaults, written out window by window.
double naive_ssim(ArrayView<const float> x, ArrayView<const float> y, double L,
                  std::vector<double>* map = nullptr) {
  const int64_t h = x.dim(0), w = x.dim(1), r = 7;
  const double n = 49, cn = 49.0 / 48.0, c1 = (0.01 * L) * (0.01 * L), c2 = (0.03 * L) * (0.03 * L);
  double total = 0;
  for (int64_t i = 0; i + r <= h; ++i)
    for (int64_t j = 0; j + r <= w; ++j) {
      double sx = 0, sy = 0;
      for (int64_t a = 0; a < r; ++a)
        for (int64_t b = 0; b < r; ++b) {
          sx += x.at(i + a, j + b);
          sy += y.at(i + a, j + b);
        }
      const double mx = sx / n, my = sy / n;
      double vx = 0, vy = 0, vxy = 0;
      for (int64_t a = 0; a < r; ++a)
        for (int64_t b = 0; b < r; ++b) {
          const double dx = x.at(i + a, j + b) - mx, dy = y.at(i + a, j + b) - my;
          vx += dx * dx;
          vy += dy * dy;
          vxy += dx * dy;
        }
      vx *= cn / n;
      vy *= cn / n;
      vxy *= cn / n;
      const double s = (2 * mx * my + c1) * (2 * vxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2));
      if (map) map->push_back(s);
      total += s;
    }
  return total / static_cast<double>((h - r + 1) * (w - r + 1));
}

Array<float> random_volume(rb::Shape shape, uint64_t seed, float scale = 1.0f, float offset = 0) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  Array<float> a(std::move(shape));
  for (auto& v : a.flat()) v = offset + scale * u(rng);
  return a;
}

Array<float> noisy_copy(const Array<float>& x, uint64_t seed, float sigma) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.0f, sigma);
  Array<float> y = x;
  for (auto& v : y.flat()) v = std::fabs(v + g(rng));
  return y;
}

TEST(EvalSsim, MatchesDirectDefinitionOnOddShapes) {
  for (auto [h, w] : std::vector<std::pair<int64_t, int64_t>>{{7, 7}, {8, 13}, {31, 17}, {64, 65}}) {
    Array<float> x = random_volume({h, w}, 1 + h * w);
    Array<float> y = noisy_copy(x, 7 + h, 0.2f);
    const double L = 1.3;
    std::vector<double> ref_map;
    const double ref = naive_ssim(x.view(), y.view(), L, &ref_map);
    EXPECT_NEAR(ev::ssim_2d(x.view(), y.view(), L), ref, 1e-12) << h << "x" << w;
    Array<double> map = ev::ssim_map(x.view(), y.view(), L);
    ASSERT_EQ(map.shape(), (rb::Shape{h - 6, w - 6}));
    for (size_t k = 0; k < ref_map.size(); ++k) ASSERT_NEAR(map[k], ref_map[k], 1e-12);
  }
}

TEST(EvalSsim, LargeOffsetStaysAccurate) {
  // Bright, nearly flat data: the variance is a small difference of large sums.
  Array<float> x = random_volume({40, 50}, 3, 1e-3f, 100.0f);
  Array<float> y = random_volume({40, 50}, 4, 1e-3f, 100.0f);
  EXPECT_NEAR(ev::ssim_2d(x.view(), y.view(), 101.0), naive_ssim(x.view(), y.view(), 101.0), 1e-10);
}

TEST(EvalSsim, IdenticalImagesGiveOneAndConstantsBehave) {
  Array<float> x = random_volume({20, 20}, 5);
  EXPECT_DOUBLE_EQ(ev::ssim_2d(x.view(), x.view(), 1.0), 1.0);
  Array<float> c({10, 12}, 0.5f), d({10, 12}, 0.25f);
  EXPECT_DOUBLE_EQ(ev::ssim_2d(c.view(), c.view(), 0.5), 1.0);
  EXPECT_NEAR(ev::ssim_2d(c.view(), d.view(), 0.5), naive_ssim(c.view(), d.view(), 0.5), 1e-13);
}

TEST(EvalSsim, RejectsBadArguments) {
  Array<float> x({6, 10}, 1.0f), y({6, 10}, 1.0f), z({7, 10}, 1.0f);
  EXPECT_THROW(ev::ssim_2d(x.view(), y.view(), 1.0), rb::UserError);  // smaller than window
  EXPECT_THROW(ev::ssim_2d(z.view(), x.view(), 1.0), rb::UserError);  // shapes differ
  EXPECT_THROW(ev::ssim_2d(z.view(), z.view(), 0.0), rb::UserError);  // data range 0
  ev::SsimOptions even;
  even.win_size = 6;
  EXPECT_THROW(ev::ssim_2d(z.view(), z.view(), 1.0, even), rb::UserError);
}

TEST(EvalSsim, OtherWindowSizesUseTheGenericPath) {
  Array<float> x = random_volume({15, 16}, 9), y = noisy_copy(x, 10, 0.1f);
  ev::SsimOptions o;
  o.win_size = 3;
  // Direct definition with a 3x3 window.
  const double L = 1.0, n = 9, cn = 9.0 / 8.0, c1 = 1e-4, c2 = 9e-4;
  double total = 0;
  for (int64_t i = 0; i + 3 <= 15; ++i)
    for (int64_t j = 0; j + 3 <= 16; ++j) {
      double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) {
          double p = x.at(i + a, j + b), q = y.at(i + a, j + b);
          sx += p, sy += q, sxx += p * p, syy += q * q, sxy += p * q;
        }
      double mx = sx / n, my = sy / n;
      double vx = cn * (sxx / n - mx * mx), vy = cn * (syy / n - my * my), vxy = cn * (sxy / n - mx * my);
      total += (2 * mx * my + c1) * (2 * vxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2));
    }
  EXPECT_NEAR(ev::ssim_2d(x.view(), y.view(), L, o), total / (13.0 * 14.0), 1e-12);
}

TEST(EvalVolume, WholeVolumeMetricsAsEvaluatePy) {
  Array<float> x = random_volume({3, 24, 20}, 11), y = noisy_copy(x, 12, 0.05f);
  ev::MetricOptions o;
  o.masked = false;
  ev::VolumeMetrics m = ev::evaluate_volume(x.view(), y.view(), o);
  // Crop to (20, 20): rows 2..21.
  EXPECT_EQ(m.crop, 20);
  Array<float> xc = ev::crop_volume(x.view(), 20, "x"), yc = ev::crop_volume(y.view(), 20, "y");
  double L = 0, se = 0, sg = 0, ssim = 0;
  for (float v : xc.flat()) L = std::max(L, double(v));
  for (int64_t i = 0; i < xc.size(); ++i) {
    const double d = double(xc[i]) - yc[i];
    se += d * d;
    sg += double(xc[i]) * xc[i];
  }
  for (int64_t s = 0; s < 3; ++s) ssim += naive_ssim(xc(s), yc(s), L) / 3.0;
  EXPECT_DOUBLE_EQ(m.data_range, L);
  EXPECT_NEAR(m.mse, se / double(xc.size()), 1e-15);
  EXPECT_NEAR(m.nmse, se / sg, 1e-12);
  EXPECT_NEAR(m.psnr, 10 * std::log10(L * L / (se / double(xc.size()))), 1e-10);
  EXPECT_NEAR(m.ssim, ssim, 1e-12);
  ASSERT_EQ(m.ssim_per_slice.size(), 3u);
  EXPECT_NEAR(m.ssim_per_slice[1], naive_ssim(xc(1), yc(1), L), 1e-12);
  EXPECT_TRUE(std::isnan(m.ssim_masked));
}

TEST(EvalVolume, CropUsesTargetWidthAndCentre) {
  // Prediction larger than the target: cropped to the target's (W, W) centre.
  Array<float> x = random_volume({2, 16, 16}, 21);
  Array<float> y({2, 20, 18}, 0.0f);
  for (int64_t s = 0; s < 2; ++s)
    for (int64_t i = 0; i < 16; ++i)
      for (int64_t j = 0; j < 16; ++j) y.at(s, i + 2, j + 1) = x.at(s, i, j);
  ev::MetricOptions o;
  o.masked = false;
  ev::VolumeMetrics m = ev::evaluate_volume(x.view(), y.view(), o);
  EXPECT_DOUBLE_EQ(m.ssim, 1.0);
  EXPECT_DOUBLE_EQ(m.nmse, 0.0);
  EXPECT_TRUE(std::isinf(m.psnr));
  // FLAIR-203-like target narrower in height: crop side min(h, w).
  EXPECT_EQ(ev::crop_side({4, 256, 320}), 256);
  EXPECT_EQ(ev::crop_side({4, 384, 320}), 320);
}

TEST(EvalVolume, RejectsMisShapedAndNonFinite) {
  Array<float> x = random_volume({2, 16, 16}, 31);
  Array<float> fewer = random_volume({1, 16, 16}, 32);
  Array<float> small = random_volume({2, 15, 16}, 33);
  try {
    ev::evaluate_volume(x.view(), fewer.view(), {}, "gt.h5", "pred.h5");
    FAIL() << "no error";
  } catch (const rb::UserError& e) {
    EXPECT_NE(std::string(e.what()).find("pred.h5"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("slices"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ev::evaluate_volume(x.view(), small.view(), {}, "gt", "pred"), rb::UserError);
  Array<float> bad = x;
  bad.at(1, 3, 4) = std::numeric_limits<float>::quiet_NaN();
  try {
    ev::evaluate_volume(x.view(), bad.view(), {}, "gt.h5", "pred.h5");
    FAIL() << "no error";
  } catch (const rb::UserError& e) {
    const std::string w = e.what();
    EXPECT_NE(w.find("pred.h5"), std::string::npos) << w;
    EXPECT_NE(w.find("NaN"), std::string::npos) << w;
    EXPECT_NE(w.find("slice 1, y 3, x 4"), std::string::npos) << w;
  }
  bad.at(1, 3, 4) = std::numeric_limits<float>::infinity();
  EXPECT_THROW(ev::evaluate_volume(bad.view(), x.view(), {}, "gt", "pred"), rb::UserError);
  Array<float> zero({2, 16, 16}, 0.0f);
  EXPECT_THROW(ev::evaluate_volume(zero.view(), x.view(), {}, "gt", "pred"), rb::UserError);
}

TEST(EvalVolume, IndependentOfThreadCount) {
  Array<float> x = random_volume({9, 40, 40}, 41), y = noisy_copy(x, 42, 0.1f);
  ev::MetricOptions o1, o4;
  o1.threads = 1;
  o4.threads = 4;
  ev::VolumeMetrics a = ev::evaluate_volume(x.view(), y.view(), o1);
  ev::VolumeMetrics b = ev::evaluate_volume(x.view(), y.view(), o4);
  EXPECT_EQ(a.ssim, b.ssim);
  EXPECT_EQ(a.psnr, b.psnr);
  EXPECT_EQ(a.nmse, b.nmse);
  EXPECT_EQ(a.ssim_per_slice, b.ssim_per_slice);
  EXPECT_TRUE((std::isnan(a.ssim_masked) && std::isnan(b.ssim_masked)) || a.ssim_masked == b.ssim_masked);
}

TEST(EvalVolume, MaskedSsimIsTheMapMeanInsideTheMask) {
  Array<float> x = random_volume({2, 30, 30}, 51), y = noisy_copy(x, 52, 0.1f);
  // A bright square "head" on a dark background so that the mask is non-trivial.
  for (int64_t s = 0; s < 2; ++s)
    for (int64_t i = 0; i < 30; ++i)
      for (int64_t j = 0; j < 30; ++j)
        if (i < 8 || j < 8 || i >= 24 || j >= 24) {
          x.at(s, i, j) *= 0.01f;
          y.at(s, i, j) = 0.0f;
        }
  ev::MetricOptions o;
  o.keep_maps = true;
  ev::VolumeMetrics m = ev::evaluate_volume(x.view(), y.view(), o);
  ASSERT_TRUE(m.mask.has_value());
  ASSERT_EQ(m.ssim_maps.size(), 2u);
  double sum = 0;
  int64_t used = 0;
  for (int64_t s = 0; s < 2; ++s) {
    ev::MaskedMean mm = ev::masked_map_mean(m.ssim_maps[s].view(), (*m.mask)(s));
    ASSERT_GT(mm.count, 0);
    EXPECT_NEAR(m.ssim_masked_per_slice[s], mm.mean, 1e-12);
    sum += mm.mean;
    ++used;
  }
  EXPECT_NEAR(m.ssim_masked, sum / double(used), 1e-12);
  // Masked MSE over masked voxels only.
  double se = 0;
  int64_t nv = 0;
  for (int64_t i = 0; i < x.size(); ++i)
    if ((*m.mask)[i]) {
      const double d = double(x[i]) - y[i];
      se += d * d;
      ++nv;
    }
  EXPECT_NEAR(m.mse_masked, se / double(nv), 1e-15);
  EXPECT_NEAR(m.mask_fraction, double(nv) / double(x.size()), 1e-15);
  Array<float> padded = ev::pad_ssim_map(m.ssim_maps[0].view(), 30, 30, -1.0f);
  EXPECT_EQ(padded.at(0, 0), -1.0f);
  EXPECT_FLOAT_EQ(padded.at(3, 3), static_cast<float>(m.ssim_maps[0].at(0, 0)));
}

}  // namespace
