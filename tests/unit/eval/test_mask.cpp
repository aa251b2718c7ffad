// Foreground mask recipe on a synthetic head in RSS-like noise, and the paper's HungryGrads
// observation: zeroing the background costs unmasked SSIM and is recovered by masking.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "reconbench/eval/mask.hpp"
#include "reconbench/eval/metrics.hpp"

namespace {

using rb::Array;
namespace ev = rb::eval;

constexpr int64_t kS = 5, kN = 128;

// Ellipse radii per slice (the last one is a small end slice).
double radius_y(int64_t s) { return s == kS - 1 ? 14.0 : 46.0 - 3.0 * s; }
double radius_x(int64_t s) { return s == kS - 1 ? 11.0 : 38.0 - 2.0 * s; }

double ellipse(int64_t s, double i, double j, double grow = 0) {
  const double dy = (i - 63.5) / (radius_y(s) + grow), dx = (j - 60.0) / (radius_x(s) + grow);
  return dy * dy + dx * dx;
}

// Noiseless head: scalp ring, grey/white matter texture, dark ventricles (holes for the
// threshold, which hole filling must close).
double head(int64_t s, int64_t i, int64_t j) {
  const double e = ellipse(s, i, j);
  if (e > 1) return 0;
  if (e > 0.8) return 0.9;                                   // scalp
  const double v = (i - 63.5) * (i - 63.5) / 64.0 + (j - 60) * (j - 60) / 25.0;
  if (s < kS - 1 && v < 1) return 0.05;                      // ventricle: darker than the noise
  return 0.5 + 0.25 * std::sin(i * 0.3) * std::cos(j * 0.23);
}

// Magnitude of 4 coils' complex Gaussian noise on the signal (8 real channels): chi
// background with mean ~2.7 sigma, as in an RSS image.
Array<float> noisy_head(uint64_t seed, double sigma) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0.0, sigma);
  Array<float> x({kS, kN, kN});
  for (int64_t s = 0; s < kS; ++s)
    for (int64_t i = 0; i < kN; ++i)
      for (int64_t j = 0; j < kN; ++j) {
        double a = head(s, i, j) + g(rng), sum = a * a;
        for (int k = 0; k < 7; ++k) {
          const double n = g(rng);
          sum += n * n;
        }
        x.at(s, i, j) = static_cast<float>(std::sqrt(sum));
      }
  return x;
}

TEST(EvalMask, CoversTheHeadAndExcludesTheAir) {
  Array<float> x = noisy_head(1, 0.03);
  ev::MaskThreshold t = ev::mask_threshold(x.view());
  // Background level of the chi(8) noise: median ~ 2.7 sigma.
  EXPECT_NEAR(t.noise_floor, 2.7 * 0.03, 0.01);
  Array<uint8_t> m = ev::foreground_mask(x.view());
  for (int64_t s = 0; s < kS; ++s) {
    int64_t head_px = 0, head_in = 0, air_px = 0, air_in = 0;
    for (int64_t i = 0; i < kN; ++i)
      for (int64_t j = 0; j < kN; ++j) {
        if (ellipse(s, i, j) <= 1) {
          ++head_px;
          head_in += m.at(s, i, j);
        } else if (ellipse(s, i, j, 3.0) > 1) {
          ++air_px;
          air_in += m.at(s, i, j);
        }
      }
    EXPECT_GT(double(head_in) / head_px, 0.99) << "slice " << s;
    EXPECT_LT(double(air_in) / air_px, 0.005) << "slice " << s;
  }
}

TEST(EvalMask, NoiseOnlySliceGetsAnEmptyMaskAndPureNoiseVolumeToo) {
  Array<float> x = noisy_head(2, 0.03);
  for (int64_t i = 0; i < kN * kN; ++i) x(0)[i] = x(1)[(i * 7919) % (kN * kN)] * 0.0f + 0.08f;
  // Slice 0 now constant at the noise level: below the volume threshold -> empty.
  Array<uint8_t> m = ev::foreground_mask(x.view());
  int64_t in0 = 0;
  for (int64_t i = 0; i < kN * kN; ++i) in0 += m(0)[i];
  EXPECT_EQ(in0, 0);

  std::mt19937_64 rng(3);
  std::normal_distribution<double> g(0.0, 1.0);
  Array<float> noise({2, 64, 64});
  for (auto& v : noise.flat()) v = static_cast<float>(std::hypot(g(rng), g(rng)));
  Array<uint8_t> mn = ev::foreground_mask(noise.view());
  int64_t in = 0;
  for (auto v : mn.flat()) in += v;
  EXPECT_LT(in, 64 * 64 * 2 / 100);  // at most specks survive, never a "head"
}

TEST(EvalMask, ThresholdHasASignalFloorForNoiselessData) {
  Array<float> x({1, 40, 40}, 0.0f);
  for (int64_t i = 10; i < 30; ++i)
    for (int64_t j = 10; j < 30; ++j) x.at(0, i, j) = (i == 20 && j == 20) ? 0.0f : 1.0f;
  x.at(0, 2, 2) = 1e-6f;  // tiny nonzero air must not count
  Array<uint8_t> m = ev::foreground_mask(x.view());
  EXPECT_EQ(m.at(0, 2, 2), 0);
  EXPECT_EQ(m.at(0, 20, 20), 1);  // hole filled
  EXPECT_EQ(m.at(0, 10, 10), 1);
  EXPECT_EQ(m.at(0, 9, 9), 0);
  EXPECT_NE(ev::mask_recipe().find("rb-fg-1"), std::string::npos);
}

TEST(EvalMask, ZeroedBackgroundLosesUnmaskedSsimAndRecoversWithMasking) {
  const Array<float> gt = noisy_head(4, 0.03);
  // A faithful reconstruction keeps the (measured) background noise, slightly perturbed.
  Array<float> recon = gt;
  std::mt19937_64 rng(5);
  std::normal_distribution<float> g(0.0f, 0.01f);
  for (auto& v : recon.flat()) v = std::fabs(v + g(rng));
  // HungryGrads-style: the same reconstruction with the air set to zero.
  Array<float> zeroed = recon;
  for (int64_t s = 0; s < kS; ++s)
    for (int64_t i = 0; i < kN; ++i)
      for (int64_t j = 0; j < kN; ++j)
        if (ellipse(s, i, j, 2.0) > 1) zeroed.at(s, i, j) = 0.0f;
  ev::VolumeMetrics a = ev::evaluate_volume(gt.view(), recon.view());
  ev::VolumeMetrics b = ev::evaluate_volume(gt.view(), zeroed.view());
  EXPECT_LT(b.ssim, a.ssim - 0.2) << "unmasked: recon " << a.ssim << " zeroed " << b.ssim;
  EXPECT_GT(b.ssim_masked, b.ssim + 0.2);
  EXPECT_NEAR(b.ssim_masked, a.ssim_masked, 0.03)
      << "masked: recon " << a.ssim_masked << " zeroed " << b.ssim_masked;
  EXPECT_GT(a.mask_fraction, 0.2);
  EXPECT_LT(a.mask_fraction, 0.6);
}

}  // namespace

namespace {
TEST(EvalMask, SignalLevelIsTheNumpy99thPercentile) {
  // numpy.percentile(arange(100), 99) = 98.01; corner medians of a ramp for the noise floor.
  Array<float> x({1, 10, 10});
  for (int64_t i = 0; i < 100; ++i) x[(i * 37) % 100] = static_cast<float>(i);
  ev::MaskThreshold t = ev::mask_threshold(x.view());
  EXPECT_NEAR(t.signal_level, 98.01, 1e-9);
}
}  // namespace
