// Unit tests of whole simulated volumes (procedural phantom, small matrices): shapes and
// vendor encodings, PE padding, determinism across thread counts, noise statistics measured
// from the k-space, contrast, lesion pairs, T1POST enhancement.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <numeric>

#include "reconbench/core/parallel.hpp"
#include "reconbench/fft/fft.hpp"
#include "reconbench/sim/anatomy.hpp"
#include "reconbench/sim/coils.hpp"
#include "reconbench/sim/realism.hpp"
#include "reconbench/sim/volume.hpp"

using namespace rb::sim;

namespace {

VolumeSpec small_spec(const std::string& acq, Vendor v = Vendor::Siemens) {
  VolumeSpec s;
  s.name = "file_brain_" + acq + "_201_0000001";
  s.seed = 42;
  s.index = 7;
  s.subject = 3;
  s.acquisition = acq;
  s.vendor = v;
  s.field_t = 3.0;
  s.coils = 6;
  s.slices = 2;
  s.recon = 64;
  s.profile_samples = 3;
  return s;
}

// Mean of the RSS over pixels whose label is `t` (interior only: all 4-neighbours too).
double mean_over_label(const SimulatedVolume& v, int t) {
  const int64_t S = v.rss.dim(0), n = v.rss.dim(1);
  double sum = 0;
  int64_t cnt = 0;
  for (int64_t s = 0; s < S; ++s)
    for (int64_t y = 1; y + 1 < n; ++y)
      for (int64_t x = 1; x + 1 < n; ++x) {
        auto lab = [&](int64_t a, int64_t b) { return v.labels[(s * n + a) * n + b]; };
        if (lab(y, x) != t || lab(y - 1, x) != t || lab(y + 1, x) != t || lab(y, x - 1) != t ||
            lab(y, x + 1) != t)
          continue;
        sum += v.rss[(s * n + y) * n + x];
        ++cnt;
      }
  return cnt ? sum / cnt : std::nan("");
}

}  // namespace

TEST(SimVolume, SiemensAndGeShapesHeaderAndPadding) {
  const TissueAtlas& atlas = cached_procedural_atlas();
  VolumeSpec s = small_spec("AXT2");
  s.phase_resolution = 0.8;
  const SimulatedVolume v = simulate_volume(s, atlas);
  ASSERT_EQ(v.kspace.shape(), (rb::Shape{2, 6, 128, 64}));
  EXPECT_EQ(v.rss.shape(), (rb::Shape{2, 64, 64}));
  EXPECT_EQ(v.sens.shape(), v.kspace.shape());
  EXPECT_EQ(v.header.enc_x, 128);
  EXPECT_EQ(v.header.enc_y, 64);
  EXPECT_EQ(v.header.recon_x, 64);
  EXPECT_EQ(v.header.vendor, "SIEMENS");
  EXPECT_NEAR(v.header.enc_fov_x, 2 * v.header.recon_fov_x, 1e-9);
  const int64_t pl = v.header.padding_left(), pr = v.header.padding_right();
  EXPECT_EQ(pl, 6);        // round(64 * 0.2 / 2)
  EXPECT_EQ(pr, 64 - 6);
  for (int64_t s2 = 0; s2 < 2; ++s2)
    for (int64_t c = 0; c < 6; ++c)
      for (int64_t h = 0; h < 128; ++h)
        for (int64_t w = 0; w < 64; ++w) {
          const rb::cfloat k = v.kspace.at(s2, c, h, w);
          if (w < pl || w >= pr) {
            ASSERT_EQ(k.real(), 0.0f);
            ASSERT_EQ(k.imag(), 0.0f);
            ASSERT_FALSE(std::signbit(k.real()) || std::signbit(k.imag()));
          } else {
            ASSERT_NE(std::abs(k), 0.0f);
          }
        }
  // reconstruction_rss is the RSS of ifft2c(kspace) cropped to the recon size.
  const rb::Array<float> r = rss_crop(v.kspace(1), 64, 64);
  for (int64_t q = 0; q < 64 * 64; ++q) ASSERT_EQ(r[q], v.rss[64 * 64 + q]);

  VolumeSpec g = small_spec("AXFLAIR", Vendor::GE);
  const SimulatedVolume vg = simulate_volume(g, atlas);
  ASSERT_EQ(vg.kspace.shape(), (rb::Shape{2, 6, 64, 64}));  // no readout oversampling
  EXPECT_EQ(vg.header.enc_x, 64);
  EXPECT_EQ(vg.header.vendor, "GE MEDICAL SYSTEMS");
  EXPECT_EQ(vg.sequence.name, "T1-FLAIR");
  EXPECT_NEAR(vg.header.enc_fov_x, vg.header.recon_fov_x, 1e-9);
}

TEST(SimVolume, BitIdenticalAcrossThreadCounts) {
  const TissueAtlas& atlas = cached_procedural_atlas();
  VolumeSpec s = small_spec("AXT1POST");
  s.slices = 3;
  s.lesions = true;
  rb::set_num_threads(1);
  const SimulatedVolume a = simulate_volume(s, atlas);
  rb::set_num_threads(3);
  const SimulatedVolume b = simulate_volume(s, atlas);
  rb::set_num_threads(0);
  ASSERT_EQ(a.kspace.size(), b.kspace.size());
  EXPECT_EQ(0, std::memcmp(a.kspace.data(), b.kspace.data(), a.kspace.size() * sizeof(rb::cfloat)));
  EXPECT_EQ(0, std::memcmp(a.kspace_nolesion.data(), b.kspace_nolesion.data(),
                           a.kspace_nolesion.size() * sizeof(rb::cfloat)));
  EXPECT_EQ(0, std::memcmp(a.sens.data(), b.sens.data(), a.sens.size() * sizeof(rb::cfloat)));
  EXPECT_EQ(a.params.dump(), b.params.dump());
  // A different file index changes coils/noise.
  s.index = 8;
  const SimulatedVolume c = simulate_volume(s, atlas);
  EXPECT_NE(0, std::memcmp(a.kspace.data(), c.kspace.data(), a.kspace.size() * sizeof(rb::cfloat)));
}

TEST(SimVolume, NoiseMeasuredFromKspaceMatchesSpec) {
  const TissueAtlas& atlas = cached_procedural_atlas();
  VolumeSpec s = small_spec("AXT2");
  s.coils = 8;
  s.slices = 2;
  s.recon = 96;
  const SimulatedVolume v = simulate_volume(s, atlas);
  const int64_t S = 2, C = 8, H = 192, W = 96;
  // Background: the outer readout rows of the coil images (the head is in the central half);
  // the slices' coil images stacked along the rows, [coil slice*read phase].
  rb::Array<rb::cfloat> stack({C, S * H, W});
  rb::Array<uint8_t> bg({S * H, W});
  for (int64_t sl = 0; sl < S; ++sl) {
    rb::Array<rb::cfloat> img = rb::ifft2c_copy(v.kspace(sl));
    for (int64_t c = 0; c < C; ++c)
      std::copy_n(img.data() + c * H * W, H * W, stack.data() + (c * S + sl) * H * W);
    for (int64_t h = 0; h < H; ++h)
      if (h <= H / 10 || h >= H - H / 10) std::fill_n(bg.data() + (sl * H + h) * W, W, 1);
  }
  const NoiseEstimate ne = background_noise(stack.view(), bg.view());
  EXPECT_GE(ne.spread, 1.15);
  EXPECT_LE(ne.spread, 1.75);
  EXPECT_GE(ne.mean_rho, 0.08);
  EXPECT_LE(ne.mean_rho, 0.2);
  EXPECT_GE(ne.max_rho, 0.18);
  EXPECT_LE(ne.max_rho, 0.4);
  // Measured sigma agrees with the model, and RSS(brain)/sigma is in 20-60.
  EXPECT_NEAR(ne.sigma_rms, v.sigma_rms, 0.1 * v.sigma_rms);
  double bsum = 0;
  int64_t bn = 0;
  for (int64_t q = 0; q < v.rss.size(); ++q) {
    const int lab = v.labels[q];
    if (lab == kGM || lab == kWM || lab == kDeepGM) {
      bsum += v.rss[q];
      ++bn;
    }
  }
  const double snr = bsum / bn / ne.sigma_rms;
  EXPECT_GE(snr, 18);
  EXPECT_LE(snr, 65);
}

TEST(SimVolume, ContrastsLookRight) {
  const TissueAtlas& atlas = cached_procedural_atlas();
  VolumeSpec s = small_spec("AXT2");
  s.recon = 96;  // interior pixels of the thin grey-matter ribbon
  s.slices = 2;
  s.snr = 1000;  // contrast, not noise, is under test
  const SimulatedVolume t2 = simulate_volume(s, atlas);
  EXPECT_GT(mean_over_label(t2, kCSF), 1.5 * mean_over_label(t2, kWM));
  EXPECT_GT(mean_over_label(t2, kFat), mean_over_label(t2, kWM));
  s.acquisition = "AXFLAIR";
  const SimulatedVolume fl = simulate_volume(s, atlas);
  EXPECT_LT(mean_over_label(fl, kCSF), 0.5 * mean_over_label(fl, kWM));
  s.acquisition = "AXT1";
  const SimulatedVolume t1 = simulate_volume(s, atlas);
  // (SE, T1-FLAIR or a spoiled gradient echo, whose CSF/GM ratio is ~0.5-0.7.)
  EXPECT_GT(mean_over_label(t1, kWM), mean_over_label(t1, kGM));
  EXPECT_LT(mean_over_label(t1, kCSF), 0.75 * mean_over_label(t1, kGM));
  // The complex image carries phase: not real-valued, not Hermitian-symmetric k-space.
  double im = 0, re = 0;
  for (auto z : t2.image_complex.flat()) {
    im += std::abs(z.imag());
    re += std::abs(z.real());
  }
  EXPECT_GT(im, 0.2 * re);
}

TEST(SimVolume, LesionPairDiffersOnlyInFootprintAndEnhancesOnT1Post) {
  const TissueAtlas& atlas = cached_procedural_atlas();
  VolumeSpec s = small_spec("AXT1POST");
  s.recon = 96;
  s.slices = 2;
  s.lesions = true;
  const SubjectWarp warp = make_subject(s.seed, s.subject, atlas);
  // A ring-enhancing metastasis in the right hemisphere at the level of slice 1.
  Lesion l;
  l.type = LesionType::Metastasis;
  l.axes = {9, 9, 9};
  l.has_rim = l.has_core = true;
  l.r_core = 0.6;
  l.core = {0.9, 2500, 400, 0, 0};
  l.rim = {0.8, 1500, 110, 0.4, 0};
  l.r_edema = 1.6;
  l.edema = {1.1, 1.3, 1.8, 0};
  l.edema_wm_only = true;
  l.mass_effect = 2;
  l.mass_decay = 6;
  // Slice z positions are computed inside; put the lesion at the upper slice's z.
  const SimulatedVolume probe = simulate_volume(small_spec("AXT2"), atlas);
  (void)probe;
  VolumeSpec s0 = s;
  s0.lesions = false;
  const SimulatedVolume ref = simulate_volume(s0, atlas);
  l.center = {-30, 5, ref.slice_z[1]};
  s.fixed_lesions = {l};
  const SimulatedVolume v = simulate_volume(s, atlas);
  ASSERT_FALSE(v.kspace_nolesion.empty());
  // The lesion-free variant is the same data as a plain simulation of the subject.
  EXPECT_EQ(0, std::memcmp(v.kspace_nolesion.data(), ref.kspace.data(), ref.kspace.size() * sizeof(rb::cfloat)));
  const int64_t n = 96;
  const double dx = v.spec.fov_mm / n;
  const double cy = n / 2.0 - l.center[1] / dx, cx = n / 2.0 - l.center[0] / dx;
  const double foot = (l.footprint_radius() + 2) / dx;
  double inside_max = 0, outside_max = 0, noise_ref = 0;
  for (int64_t y = 0; y < n; ++y)
    for (int64_t x = 0; x < n; ++x) {
      const double d = std::hypot(y - cy, x - cx);
      const double diff = std::abs(v.rss[(n + y) * n + x] - v.rss_nolesion[(n + y) * n + x]);
      if (d <= foot) inside_max = std::max(inside_max, diff);
      else outside_max = std::max(outside_max, diff);
      noise_ref = std::max(noise_ref, static_cast<double>(v.rss_nolesion[(n + y) * n + x]));
    }
  EXPECT_GT(inside_max, 0.1 * noise_ref);
  EXPECT_LT(outside_max, 0.03 * inside_max) << "inside " << inside_max;
  // Slice 0 is far below the lesion: identical.
  for (int64_t q = 0; q < n * n; ++q) ASSERT_EQ(v.rss[q], v.rss_nolesion[q]);
  // T1POST: the enhancing rim is brighter than the same pixels without the lesion.
  double with = 0, without = 0;
  int cnt = 0;
  for (int64_t q = 0; q < n * n; ++q)
    if (v.lesion_mask[n * n + q] == 1) {
      const int64_t y = q / n, x = q % n;
      const double r = std::hypot(y - cy, x - cx) * dx / 9;
      if (r < 0.7 || r > 1.0) continue;  // rim
      with += v.rss[n * n + q];
      without += v.rss_nolesion[n * n + q];
      ++cnt;
    }
  ASSERT_GT(cnt, 5);
  EXPECT_GT(with, 1.3 * without);
  ASSERT_FALSE(v.boxes.empty());
  EXPECT_EQ(v.boxes[0].slice, 1);
  EXPECT_NEAR(v.boxes[0].x + v.boxes[0].width / 2.0, cx, 3);
  EXPECT_NEAR(v.boxes[0].y + v.boxes[0].height / 2.0, cy, 3);
}
