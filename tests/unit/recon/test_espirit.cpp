// ESPIRiT against known coil sensitivities and the SENSE identity on fully sampled data.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "phantom.hpp"
#include "reconbench/recon/espirit.hpp"
#include "reconbench/recon/pics.hpp"
#include "reconbench/recon/threads.hpp"

namespace rb::recon {
namespace {

TEST(Espirit, CalibrationRegionGrowsLikeBart) {
  auto p = test::make_phantom(4, 64, 48);
  auto m = test::equispaced_mask(48, 4, 10);
  auto k = test::apply_mask(p.kspace, m);
  auto cr = find_calibration_region(k.view(), 24);
  EXPECT_EQ(cr.w, 10 + ((m[(48 - 10 + 1) / 2 - 1] != 0) || (m[(48 - 10 + 1) / 2 + 10] != 0) ? 1 : 0));
  EXPECT_EQ(cr.h, 24);
  EXPECT_EQ(cr.y0, (64 - 24) / 2);
  // Fully sampled: capped at 24 per axis.
  auto full = find_calibration_region(p.kspace.view(), 24);
  EXPECT_EQ(full.h, 24);
  EXPECT_EQ(full.w, 24);
}

// |<s_est, s_true>| / (|s_est| |s_true|) per pixel inside the object.
std::vector<double> map_agreement(const EspiritMaps& e, const test::Phantom& p, float obj_thresh) {
  const int64_t nc = p.maps.dim(0), np = p.maps.dim(1) * p.maps.dim(2);
  std::vector<double> out;
  for (int64_t q = 0; q < np; ++q) {
    if (std::abs(p.image[q]) < obj_thresh) continue;
    cdouble ip = 0;
    double a = 0, b = 0;
    for (int64_t c = 0; c < nc; ++c) {
      const cdouble s = e.maps[c * np + q], t = p.maps[c * np + q];
      ip += std::conj(s) * t;
      a += std::norm(s);
      b += std::norm(t);
    }
    if (a == 0) {
      out.push_back(0);
      continue;
    }
    out.push_back(std::abs(ip) / std::sqrt(a * b));
  }
  return out;
}

TEST(Espirit, RecoversTrueSensitivitiesAt4x) {
  auto p = test::make_phantom(8, 128, 96);
  auto k = test::apply_mask(p.kspace, test::equispaced_mask(96, 4, 16));
  EspiritOptions o;
  o.maps = 1;
  auto e = espirit(k.view(), o);
  EXPECT_GT(e.kernels_kept, 0);
  EXPECT_LT(e.kernels_kept, e.kernels_total);
  auto agree = map_agreement(e, p, 0.2f);
  std::sort(agree.begin(), agree.end());
  EXPECT_GT(agree[agree.size() / 2], 0.995);
  EXPECT_GT(agree[agree.size() / 20], 0.98);
  // Eigenvalue ~1 inside the object.
  double lam = 0;
  int64_t n = 0;
  for (int64_t q = 0; q < p.image.size(); ++q)
    if (std::abs(p.image[q]) > 0.2f) {
      lam += e.eigenvalues[q];
      ++n;
    }
  EXPECT_NEAR(lam / n, 1.0, 0.03);
}

TEST(Espirit, TwoMapsAndWarmStartAgreeWithColdStart) {
  auto p = test::make_phantom(6, 64, 48);
  auto k = test::apply_mask(p.kspace, test::equispaced_mask(48, 3, 14));
  EspiritOptions warm;
  warm.maps = 2;
  warm.crop = 0;  // every pixel iterates fully
  EspiritOptions cold = warm;
  cold.warm_start = false;
  cold.max_iter = 200;
  cold.tol = 1e-10f;
  auto a = espirit(k.view(), warm), b = espirit(k.view(), cold);
  ASSERT_EQ(a.maps.shape(), (Shape{2, 6, 64, 48}));
  // First map: same up to phase where lambda_1 is well separated.
  const int64_t np = 64 * 48;
  int64_t good = 0, total = 0;
  for (int64_t q = 0; q < np; ++q) {
    if (std::abs(p.image[q]) < 0.2f) continue;
    cdouble ip = 0;
    for (int64_t c = 0; c < 6; ++c) ip += std::conj(cdouble(a.maps[c * np + q])) * cdouble(b.maps[c * np + q]);
    ++total;
    if (std::abs(ip) > 0.999) ++good;
    EXPECT_GE(a.eigenvalues[q], a.eigenvalues[np + q] - 1e-4f);
  }
  EXPECT_GT(double(good) / total, 0.98);
}

TEST(Espirit, CropZeroesBackground) {
  auto p = test::make_phantom(8, 128, 96);
  EspiritOptions o;
  o.maps = 1;
  auto e = espirit(p.kspace.view(), o);
  int64_t zero = 0;
  for (int64_t q = 0; q < 128 * 96; ++q)
    if (e.eigenvalues[q] <= 0.8f) {
      ++zero;
      for (int64_t c = 0; c < 8; ++c) EXPECT_EQ(e.maps[c * 128 * 96 + q], cfloat(0));
    }
  EXPECT_GT(zero, 0);
}

TEST(Espirit, RejectsTooSmallCalibration) {
  auto p = test::make_phantom(4, 64, 48);
  auto k = test::apply_mask(p.kspace, test::equispaced_mask(48, 8, 2));
  EXPECT_THROW(espirit(k.view()), UserError);
  // 4 centre lines: the phase kernel shrinks to 3 (or fails with BART's fixed kernel).
  auto k4 = test::apply_mask(p.kspace, test::equispaced_mask(48, 8, 4));
  EspiritOptions o;
  o.maps = 1;
  auto e = espirit(k4.view(), o);
  ASSERT_GE(e.calib.w, 4);
  EXPECT_EQ(e.kernel_phase, std::max<int64_t>(3, e.calib.w - 3));
  EXPECT_EQ(e.kernel, 6);  // 24 readout rows hold 19 positions of 6
  o.min_windows = 0;
  EXPECT_THROW(espirit(k4.view(), o), UserError);
}

// min_windows: an axis of n box samples gets a kernel of min(k, max(3, n - min_windows + 1)),
// so 8 centre lines (8X at 192 phase encodes) give 6 x 5 and 16 lines BART's 6 x 6.
TEST(Espirit, KernelFitsTheCalibrationBox) {
  auto p = test::make_phantom(6, 64, 96, 0.002f);
  for (auto [centre, kp] : std::vector<std::pair<int64_t, int64_t>>{{8, 5}, {16, 6}}) {
    std::vector<float> m(96, 0.f);  // centre lines only: the box is exactly `centre` wide
    for (int64_t j = (96 - centre + 1) / 2; j < (96 - centre + 1) / 2 + centre; ++j) m[j] = 1;
    auto k = test::apply_mask(p.kspace, m);
    EspiritOptions o;
    o.maps = 1;
    auto e = espirit(k.view(), o);
    EXPECT_EQ(e.calib.w, centre);
    EXPECT_EQ(e.kernel, 6);
    EXPECT_EQ(e.kernel_phase, kp) << centre << " lines";
    EXPECT_EQ(e.kernels_total, 6 * 6 * kp);
  }
}

// With 8 centre lines (8X) BART's 6 x 6 kernel sees 3 phase positions; its eigenvalue maps
// fall below the 0.8 crop inside the object (holes in a SENSE image). The fitted kernel
// keeps the object: this fails with min_windows = 0.
TEST(Espirit, FittedKernelKeepsTheObjectAt8x) {
  auto p = test::make_phantom(8, 128, 192, 0.003f);
  auto k = test::apply_mask(p.kspace, test::equispaced_mask(192, 12, 8));
  auto holes = [&](int64_t min_windows) {
    EspiritOptions o;
    o.maps = 1;
    o.min_windows = min_windows;
    auto e = espirit(k.view(), o);
    int64_t in = 0, cropped = 0;
    for (int64_t q = 0; q < p.image.size(); ++q)
      if (std::abs(p.image[q]) > 0.2f) {
        ++in;
        if (e.eigenvalues[q] <= 0.8f) ++cropped;
      }
    return double(cropped) / double(in);
  };
  const double fitted = holes(4), bart = holes(0);
  std::printf("object pixels cropped: fitted kernel %.4f, BART's 6x6 %.4f\n", fitted, bart);
  EXPECT_LT(fitted, 0.01);
  EXPECT_LT(fitted, bart);
}

// crop_first = 0: the first map is kept everywhere (unit norm), later maps keep the crop;
// a map the crop zeroes everywhere is dropped without changing SENSE.
TEST(Espirit, FirstMapUncroppedAndEmptyMapsDropped) {
  auto p = test::make_phantom(8, 128, 96);
  auto k = test::apply_mask(p.kspace, test::equispaced_mask(96, 4, 16));
  EspiritOptions o;  // 2 maps, crop 0.8
  o.crop_first = 0;
  auto e = espirit(k.view(), o);
  const int64_t np = 128 * 96;
  int64_t second = 0;
  for (int64_t q = 0; q < np; ++q) {
    double n0 = 0, n1 = 0;
    for (int64_t c = 0; c < 8; ++c) {
      n0 += std::norm(e.maps[c * np + q]);
      n1 += std::norm(e.maps[(8 + c) * np + q]);
    }
    ASSERT_NEAR(n0, 1.0, 1e-3) << q;
    if (e.eigenvalues[np + q] <= 0.8f) ASSERT_EQ(n1, 0.0) << q;
    else ++second;
  }
  // No aliasing in the phantom: the second eigenvalue never reaches the crop.
  EXPECT_EQ(second, 0);
  EspiritMaps d = e;
  drop_empty_maps(d);
  ASSERT_EQ(d.maps.dim(0), 1);
  const auto mask = test::equispaced_mask(96, 4, 16);
  auto a = combine_maps(sense_recon(k.view(), e.maps.view(), mask, {}).view());
  auto b = combine_maps(sense_recon(k.view(), d.maps.view(), mask, {}).view());
  EXPECT_LT(test::nmse(a, b), 1e-10);
}

// ESPIRiT with 12 coils and a 24x24 calibration region takes the Gram-matrix path through
// HermitianEig (361 windows < 432 kernel entries); its maps must not depend on threads.
TEST(Espirit, BitIdenticalOnAnyThreadCount) {
  auto p = test::make_phantom(12, 64, 48, 0.001f);
  EspiritOptions o;
  o.maps = 2;
  EspiritMaps a, b;
  {
    ScopedReconThreads t(1);
    a = espirit(p.kspace.view(), o);
  }
  {
    ScopedReconThreads t(2);
    b = espirit(p.kspace.view(), o);
  }
  ASSERT_EQ(a.calib.h, 24);
  ASSERT_EQ(a.calib.w, 24);
  ASSERT_LT(int64_t(361), 12 * a.kernel * a.kernel);
  EXPECT_EQ(a.kernels_kept, b.kernels_kept);
  EXPECT_EQ(a.maps.vec(), b.maps.vec());
  EXPECT_EQ(a.eigenvalues.vec(), b.eigenvalues.vec());
}

TEST(Sense, FullySampledReproducesRss) {
  // With ESPIRiT maps (unit norm over coils where not cropped), SENSE of fully sampled data
  // is the ESPIRiT coil combination, which equals the RSS image up to noise weighting:
  // |sum_c conj(s_c) x_c| <= RSS(x) with equality when x_c = s_c m. Inside the object the
  // relative difference is < 2 %; outside, the crop zeroes the image.
  auto p = test::make_phantom(8, 128, 96, 0.001f);
  EspiritOptions eo;
  eo.maps = 1;
  auto e = espirit(p.kspace.view(), eo);
  std::vector<float> full(96, 1.f);
  SenseOptions so;
  so.lambda = 0;
  auto img = combine_maps(sense_recon(p.kspace.view(), e.maps.view(), full, so).view());
  double num = 0, den = 0;
  for (int64_t q = 0; q < img.size(); ++q)
    if (std::abs(p.image[q]) > 0.2f && e.eigenvalues[q] > 0.8f) {
      num += std::pow(img[q] - p.rss[q], 2);
      den += std::pow(p.rss[q], 2);
    }
  EXPECT_LT(std::sqrt(num / den), 0.02);
}

}  // namespace
}  // namespace rb::recon
