// Realism statistics (sim/realism.hpp, realism_report.hpp) on inputs with known answers:
// a power law, phases above and below the cutoff, polynomial and structured coil maps, a
// two-tone spectrum, noise with a known covariance; and the report's medians and flags.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <numbers>

#include <Eigen/Dense>

#include "reconbench/fft/fft.hpp"
#include "reconbench/sim/anatomy.hpp"
#include "reconbench/sim/realism.hpp"
#include "reconbench/sim/realism_report.hpp"
#include "reconbench/sim/rng.hpp"
#include "reconbench/sim/volume.hpp"

using namespace rb::sim;
using rb::Array;
using rb::cfloat;

namespace {

constexpr double kPi = std::numbers::pi;

Array<uint8_t> full_mask(int64_t h, int64_t w) { return Array<uint8_t>({h, w}, uint8_t{1}); }

// Coil images [C h w] = s_c(x, y) * m * e^{i phi(x, y)}, x, y in [-1, 1).
template <class S, class P>
Array<cfloat> coil_images(int C, int64_t h, int64_t w, S sens, P phase) {
  Array<cfloat> x({C, h, w});
  for (int c = 0; c < C; ++c)
    for (int64_t a = 0; a < h; ++a)
      for (int64_t b = 0; b < w; ++b) {
        const double yy = (a - h / 2) / (0.5 * h), xx = (b - w / 2) / (0.5 * w);
        x[(c * h + a) * w + b] = cfloat(sens(c, xx, yy) * std::polar(1.0, phase(b, a)));
      }
  return x;
}

}  // namespace

TEST(SimRealism, PowerLawSlopeIsRecoveredAndPaddingIgnored) {
  for (double alpha : {-2.0, -2.6, -3.2}) {
    const int64_t C = 2, H = 256, W = 128, pl = 10, pr = 118;
    Array<cfloat> k({C, H, W});
    Rng rng(5);
    for (int64_t c = 0; c < C; ++c)
      for (int64_t a = 0; a < H; ++a)
        for (int64_t b = 0; b < W; ++b) {
          const double dy = (a - H / 2) / (0.5 * H), dx = (b - W / 2) / (0.5 * W);
          const double u = std::max(std::sqrt(dy * dy + dx * dx), 1e-3);
          // |k|^2 summed over two coils = u^alpha, random phases.
          const double amp = std::sqrt(0.5 * std::pow(u, alpha));
          k[(c * H + a) * W + b] = (b < pl || b >= pr) ? cfloat(1e6f, 0) : cfloat(std::polar(amp, rng.uniform(0, 2 * kPi)));
        }
    EXPECT_NEAR(kspace_power_slope(k.view(), pl, pr), alpha, 0.03) << alpha;
  }
}

TEST(SimRealism, LowpassPassesLowAndStopsHighFrequencies) {
  const int64_t h = 64, w = 64;
  for (int cyc : {4, 7, 12}) {
    Array<cfloat> x({h, w});
    for (int64_t a = 0; a < h; ++a)
      for (int64_t b = 0; b < w; ++b) x[a * w + b] = std::polar(1.0f, static_cast<float>(2 * kPi * cyc * b / w));
    hann_lowpass(x.view(), kFinePhaseCycles);
    // 1 up to 6 cycles, cos^2(pi (c - 6) / 8) up to 10, then 0.
    const double expect = cyc <= 6 ? 1.0 : cyc < 10 ? std::pow(std::cos(kPi * (cyc - 6) / 8), 2) : 0.0;
    EXPECT_NEAR(std::abs(x[5 * w + 7]), expect, 1e-4) << cyc;
  }
}

TEST(SimRealism, FinePhaseMeasuresOnlyPhaseAboveTheCutoff) {
  const int64_t h = 96, w = 96;
  // Periodic coil maps (no wrap-around jump at the image border).
  auto sens = [](int c, double x, double y) {
    return std::complex<double>(1 + 0.3 * c * std::cos(kPi * x), 0.2 * std::sin(kPi * y));
  };
  // 20 cycles/FOV of amplitude 0.2 rad: RMS 0.2/sqrt(2); a smooth 2-cycle phase: ~0.
  const Array<cfloat> fine = coil_images(3, h, w, sens, [&](int64_t b, int64_t) {
    return 0.2 * std::cos(2 * kPi * 20 * b / w);
  });
  EXPECT_NEAR(fine_phase_rms(fine.view(), full_mask(h, w).view()), 0.2 / std::sqrt(2.0), 0.01);
  const Array<cfloat> smooth = coil_images(3, h, w, sens, [&](int64_t b, int64_t a) {
    return 1.5 * std::cos(2 * kPi * 1 * b / w) + 0.8 * std::sin(2 * kPi * 3 * a / h);
  });
  EXPECT_LT(fine_phase_rms(smooth.view(), full_mask(h, w).view()), 0.02);
}

TEST(SimRealism, CoilResidualSeparatesSmoothFromStructuredMaps) {
  const int64_t h = 96, w = 96;
  auto none = [](int64_t, int64_t) { return 0.0; };
  // One coil: the normalised map is a constant after the body-coil phase reference.
  const Array<cfloat> one = coil_images(1, h, w, [](int, double x, double y) {
    return std::complex<double>(1 + x * x, y);
  }, none);
  EXPECT_LT(coil_map_residual(one.view(), full_mask(h, w).view()), 1e-4);
  // Smooth two-coil maps vs maps with 4-cycle/FOV structure (beyond degree 3, inside the
  // 12-cycle map bandwidth).
  const Array<cfloat> smooth = coil_images(2, h, w, [](int c, double x, double) {
    return std::complex<double>(c == 0 ? 1.5 + 0.5 * x : 1.5 - 0.5 * x, 0);
  }, none);
  const Array<cfloat> rough = coil_images(2, h, w, [](int c, double x, double y) {
    return std::complex<double>(1.5 + (c == 0 ? 1 : -1) * std::cos(4 * kPi * x) * std::cos(4 * kPi * y), 0);
  }, none);
  const double rs = coil_map_residual(smooth.view(), full_mask(h, w).view());
  const double rr = coil_map_residual(rough.view(), full_mask(h, w).view());
  EXPECT_LT(rs, 0.05);
  EXPECT_GT(rr, 0.15);
  EXPECT_GT(rr, 4 * rs);
}

TEST(SimRealism, HighKFractionOfATwoToneImage) {
  const int64_t h = 64, w = 64;
  // Tones at 4 cycles (u = 0.125) and 24 cycles (u = 0.75) with amplitudes 1 and 0.5.
  Array<cfloat> x({1, h, w});
  for (int64_t a = 0; a < h; ++a)
    for (int64_t b = 0; b < w; ++b)
      x[a * w + b] = std::polar(1.0f, static_cast<float>(2 * kPi * 4 * b / w)) +
                     0.5f * std::polar(1.0f, static_cast<float>(2 * kPi * 24 * a / h));
  EXPECT_NEAR(highk_energy_fraction(x.view()), 0.25 / 1.25, 1e-6);
}

TEST(SimRealism, BackgroundNoiseRecoversAKnownCovariance) {
  const int C = 3;
  const int64_t h = 256, w = 256;
  // Psi = G R G with sigma (1, 1.5, 2), rho_01 = 0.3, rho_12 = -0.2i, rho_02 = 0.
  const double sig[3] = {1, 1.5, 2};
  Eigen::Matrix3cd R;
  R << 1, 0.3, 0, 0.3, 1, std::complex<double>(0, -0.2), 0, std::complex<double>(0, 0.2), 1;
  Eigen::Matrix3cd psi;
  for (int i = 0; i < C; ++i)
    for (int j = 0; j < C; ++j) psi(i, j) = sig[i] * R(i, j) * sig[j];
  const Eigen::Matrix3cd L = psi.llt().matrixL();
  Array<cfloat> x({C, h, w});
  Rng rng(11);
  for (int64_t q = 0; q < h * w; ++q) {
    Eigen::Vector3cd z;
    for (int c = 0; c < C; ++c) z(c) = std::complex<double>(rng.normal(), rng.normal()) / std::sqrt(2.0);
    const Eigen::Vector3cd n = L * z;
    for (int c = 0; c < C; ++c) x[c * h * w + q] = cfloat(n(c));
  }
  // Background: everything but a central square (which holds huge "signal").
  Array<uint8_t> bg({h, w}, uint8_t{1});
  for (int64_t a = 100; a < 156; ++a)
    for (int64_t b = 100; b < 156; ++b) {
      bg[a * w + b] = 0;
      for (int c = 0; c < C; ++c) x[(c * h + a) * w + b] = 1e3f;
    }
  const NoiseEstimate ne = background_noise(x.view(), bg.view());
  EXPECT_EQ(ne.pixels, h * w - 56 * 56);
  EXPECT_NEAR(ne.spread, 2.0, 0.03);
  EXPECT_NEAR(ne.max_rho, 0.3, 0.01);
  EXPECT_NEAR(ne.mean_rho, (0.3 + 0.2) / 3, 0.01);
  EXPECT_NEAR(ne.sigma_rms, std::sqrt((1 + 2.25 + 4) / 3.0), 0.01);
  // Too few background pixels: undefined.
  Array<uint8_t> few({h, w}, uint8_t{0});
  few[0] = 1;
  EXPECT_TRUE(std::isnan(background_noise(x.view(), few.view()).spread));
}

TEST(SimRealism, FarFromErodesAndDilates) {
  Array<uint8_t> m({21, 21}, uint8_t{0});
  for (int a = 5; a <= 15; ++a)
    for (int b = 5; b <= 15; ++b) m[a * 21 + b] = 1;
  const Array<uint8_t> outside = far_from(m.view(), 1, 2.0);  // > 2 px from the square
  const Array<uint8_t> core = far_from(m.view(), 0, 2.0);     // > 2 px from the background
  EXPECT_EQ(outside[10 * 21 + 2], 1);   // 3 px left of the square
  EXPECT_EQ(outside[10 * 21 + 3], 0);   // 2 px
  EXPECT_EQ(core[10 * 21 + 7], 1);      // 3 px from the background (column 4)
  EXPECT_EQ(core[10 * 21 + 6], 0);      // 2 px
}

TEST(SimRealism, VolumeStatisticsAreFiniteAndOrdered) {
  const TissueAtlas& atlas = cached_procedural_atlas();
  VolumeSpec s;
  s.name = "file_brain_AXT2_201_0000001";
  s.seed = 3;
  s.index = 1;
  s.subject = 1;
  s.coils = 8;
  s.slices = 2;
  s.recon = 96;
  s.profile_samples = 3;
  const SimulatedVolume v = simulate_volume(s, atlas);
  const auto st = volume_realism(v.kspace.view(), v.header, v.rss, s.name + ".h5");
  ASSERT_EQ(st.size(), 2u);
  for (const auto& r : st) {
    for (int k = 0; k < kNumStats; ++k) EXPECT_TRUE(std::isfinite(r.v[k])) << stat_name(k);
    EXPECT_LT(r.v[kStatSlope], -1.0);
    EXPECT_GT(r.v[kStatZf4], r.v[kStatZf8]);
    EXPECT_GT(r.v[kStatBackground], 0.1);
    EXPECT_LT(r.v[kStatBackground], 0.9);
  }
  // The same statistics with the target computed from k-space (no reconstruction_rss).
  const auto st2 = volume_realism(v.kspace.view(), v.header, Array<float>{}, s.name + ".h5");
  EXPECT_NEAR(st2[0].v[kStatZf4], st[0].v[kStatZf4], 1e-6);
}

TEST(SimRealismReport, GroupMediansAndFlags) {
  auto file = [](const char* c, const char* v, std::vector<double> slopes) {
    FileRealism f;
    f.file = std::string(c) + ".h5";
    f.contrast = c;
    f.vendor = v;
    for (double x : slopes) {
      SliceRealism r;
      r.v[kStatSlope] = x;
      r.v[kStatSnr] = 30;
      f.slices.push_back(r);
    }
    return f;
  };
  RealismScan scan;
  scan.files = {file("AXT2", "siemens", {-2.5, -2.7, -2.6}), file("AXT2", "siemens", {-2.4}),
                file("AXFLAIR", "ge", {-4.0, -3.9})};
  // Sorted by (contrast, vendor), with a contrast/all row as there are two vendors:
  // AXFLAIR/all, AXFLAIR/ge, AXT2/all, AXT2/siemens.
  const auto groups = group_realism(scan.files);
  ASSERT_EQ(groups.size(), 4u);
  EXPECT_EQ(groups[0].contrast, "AXFLAIR");
  EXPECT_EQ(groups[0].vendor, "all");
  EXPECT_EQ(groups[1].vendor, "ge");
  EXPECT_NEAR(groups[1].median.v[kStatSlope], -3.95, 1e-12);
  EXPECT_TRUE(groups[1].outside[kStatSlope]);
  EXPECT_EQ(groups[3].slices, 4);
  EXPECT_NEAR(groups[3].median.v[kStatSlope], -2.55, 1e-12);
  EXPECT_FALSE(groups[3].outside[kStatSlope]);
  EXPECT_TRUE(std::isnan(groups[3].median.v[kStatFinePhase]));
  EXPECT_FALSE(groups[3].outside[kStatFinePhase]);
  const std::string t = realism_table(scan);
  EXPECT_NE(t.find("AXFLAIR/ge"), std::string::npos);
  EXPECT_NE(t.find("-3.95!"), std::string::npos);
  EXPECT_NE(t.find("2 of 8 group medians outside"), std::string::npos);
  const auto j = realism_json(scan);
  EXPECT_EQ(j["groups"][1]["outside"][0], "kspace_slope");
  EXPECT_EQ(vendor_of("GE MEDICAL SYSTEMS"), "ge");
  EXPECT_EQ(vendor_of("Philips Medical Systems"), "philips");
  EXPECT_EQ(vendor_of("SIEMENS"), "siemens");
  EXPECT_EQ(vendor_of(""), "unknown");
}
