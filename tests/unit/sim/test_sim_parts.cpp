// Unit tests of the simulator's parts: NIfTI I/O, distance transform, anatomy, signal
// equations, Biot-Savart coils, noise covariance, GE decimation, dataset plan.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <regex>
#include <set>
#include <unistd.h>

#include "reconbench/core/error.hpp"
#include "reconbench/core/fs.hpp"
#include "reconbench/fft/fft.hpp"
#include "reconbench/sim/anatomy.hpp"
#include "reconbench/sim/coils.hpp"
#include "reconbench/sim/contrast.hpp"
#include "reconbench/sim/dataset.hpp"
#include "reconbench/sim/nifti.hpp"
#include "reconbench/sim/rng.hpp"
#include "reconbench/sim/volume.hpp"

namespace fs = std::filesystem;
using namespace rb::sim;

namespace {
fs::path tmpdir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("rb_test_sim_" + name + "_" + std::to_string(::getpid()));
  fs::create_directories(p);
  return p;
}
}  // namespace

TEST(SimNifti, RoundTripAndAffine) {
  const fs::path dir = tmpdir("nifti");
  NiftiVolume v;
  v.nx = 5;
  v.ny = 4;
  v.nz = 3;
  v.dx = v.dy = v.dz = 2;
  v.affine = {2, 0, 0, -4, 0, 2, 0, -3, 0, 0, 2, -2};
  for (int i = 0; i < 60; ++i) v.data.push_back(static_cast<float>(i) * 0.5f);
  for (const char* name : {"a.nii", "a.nii.gz"}) {
    write_nifti(dir / name, v);
    const NiftiVolume r = read_nifti(dir / name);
    EXPECT_EQ(r.nx, 5);
    EXPECT_EQ(r.ny, 4);
    EXPECT_EQ(r.nz, 3);
    EXPECT_EQ(r.data, v.data);
    EXPECT_FLOAT_EQ(r.at(4, 3, 2), 59 * 0.5f);
    const auto w = r.world(1, 1, 1);
    EXPECT_DOUBLE_EQ(w[0], -2);
    EXPECT_DOUBLE_EQ(w[1], -1);
    EXPECT_DOUBLE_EQ(w[2], 0);
  }
  fs::remove_all(dir);
}

TEST(SimNifti, BadFilesNameTheFile) {
  const fs::path dir = tmpdir("niftibad");
  auto expect_error = [](const fs::path& p, const std::string& what) {
    try {
      read_nifti(p);
      FAIL() << "no error for " << p;
    } catch (const rb::UserError& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find(p.string()), std::string::npos) << m;
      EXPECT_NE(m.find(what), std::string::npos) << m;
    }
  };
  expect_error(dir / "missing.nii.gz", "does not exist");
  {
    std::ofstream(dir / "short.nii") << "tiny";
    expect_error(dir / "short.nii", "348");
  }
  NiftiVolume v;
  v.nx = v.ny = v.nz = 4;
  v.data.assign(64, 1.0f);
  write_nifti(dir / "ok.nii", v);
  {  // truncate the data
    const std::string bytes = rb::read_file(dir / "ok.nii");
    std::ofstream(dir / "trunc.nii", std::ios::binary) << bytes.substr(0, 352 + 100);
    expect_error(dir / "trunc.nii", "truncated");
  }
  {  // break the magic
    std::string bytes = rb::read_file(dir / "ok.nii");
    bytes[344] = 'x';
    std::ofstream(dir / "magic.nii", std::ios::binary) << bytes;
    expect_error(dir / "magic.nii", "magic");
  }
  fs::remove_all(dir);
}

TEST(SimAnatomy, DistanceTransformMatchesBruteForce) {
  const int64_t nx = 9, ny = 7, nz = 5;
  std::vector<uint8_t> m(nx * ny * nz, 0);
  m[(2 * ny + 3) * nx + 4] = 1;
  m[(0 * ny + 0) * nx + 0] = 1;
  const auto d = distance_transform(m, nx, ny, nz);
  for (int64_t k = 0; k < nz; ++k)
    for (int64_t j = 0; j < ny; ++j)
      for (int64_t i = 0; i < nx; ++i) {
        const double d1 = std::sqrt(double((i - 4) * (i - 4) + (j - 3) * (j - 3) + (k - 2) * (k - 2)));
        const double d2 = std::sqrt(double(i * i + j * j + k * k));
        EXPECT_NEAR(d[(k * ny + j) * nx + i], std::min(d1, d2), 1e-4) << i << " " << j << " " << k;
      }
}

TEST(SimAnatomy, ProceduralPhantomHasAllTissues) {
  const TissueAtlas& a = cached_procedural_atlas();
  EXPECT_TRUE(a.procedural);
  std::array<double, kNumTissues> vol{};
  for (int64_t k = 0; k < a.nz(); ++k)
    for (int64_t j = 0; j < a.ny(); ++j)
      for (int64_t i = 0; i < a.nx(); ++i) {
        double s = 0;
        for (int t = 1; t < kNumTissues; ++t) {
          const double f = a.get(i, j, k, t - 1);
          vol[t] += f;
          s += f;
        }
        ASSERT_LE(s, 1.0 + 3e-2);
      }
  for (int t : {kSkin, kFat, kBone, kCSF, kGM, kWM, kDeepGM})
    EXPECT_GT(vol[t], 1000) << tissue_name(t);
  const double ml = std::pow(a.spacing(), 3) / 1000;
  EXPECT_GT((vol[kGM] + vol[kWM] + vol[kDeepGM]) * ml, 700);
  EXPECT_LT((vol[kGM] + vol[kWM] + vol[kDeepGM]) * ml, 2000);
}

TEST(SimAnatomy, Colin27SegmentationIsPlausible) {
  // mricron-data is a declared dependency (scripts/install-deps); its absence is a failure.
  const fs::path dir = default_template_dir();
  ASSERT_TRUE(fs::exists(dir / "ch2.nii.gz")) << "install Debian's mricron-data";
  const TissueAtlas& a = cached_atlas(dir, false);
  EXPECT_FALSE(a.procedural);
  std::array<double, kNumTissues> vol{};
  for (int64_t k = 0; k < a.nz(); ++k)
    for (int64_t j = 0; j < a.ny(); ++j)
      for (int64_t i = 0; i < a.nx(); ++i)
        for (int t = 1; t < kNumTissues; ++t) vol[t] += a.get(i, j, k, t - 1);
  const double ml = std::pow(a.spacing(), 3) / 1000;
  const double gm = (vol[kGM] + vol[kDeepGM]) * ml, wm = vol[kWM] * ml, csf = vol[kCSF] * ml;
  EXPECT_GT(gm + wm, 1000);
  EXPECT_LT(gm + wm, 1700);
  EXPECT_GT(gm / wm, 0.7);
  EXPECT_LT(gm / wm, 1.8);
  EXPECT_GT(csf, 50);
  EXPECT_GT(vol[kFat] * ml, 50);
  EXPECT_GT(vol[kBone] * ml, 100);
  EXPECT_GT(vol[kDeepGM] * ml, 10);
  EXPECT_GT(vol[kVessel] * ml, 1);
  // Centrum semiovale is white matter; the lateral ventricle body is CSF.
  const Fractions f_wm = a.sample(-26, -10, 32);
  EXPECT_GT(f_wm.f[kWM], 0.6f);
  const Fractions f_v = a.sample(-16, -20, 22);
  EXPECT_GT(f_v.f[kCSF] + f_v.f[kWM], 0.5f);
  // Far outside the head: air.
  EXPECT_GT(a.sample(0, 0, 200).f[kAir], 0.99f);
}

TEST(SimAnatomy, SubjectWarpsDifferAndAreDeterministic) {
  const TissueAtlas& a = cached_procedural_atlas();
  const SubjectWarp w1 = make_subject(5, 1, a), w1b = make_subject(5, 1, a), w2 = make_subject(5, 2, a);
  const auto q1 = w1.to_atlas(10, 20, 30), q1b = w1b.to_atlas(10, 20, 30), q2 = w2.to_atlas(10, 20, 30);
  for (int d = 0; d < 3; ++d) EXPECT_EQ(q1[d], q1b[d]);
  EXPECT_GT(std::abs(q1[0] - q2[0]) + std::abs(q1[1] - q2[1]) + std::abs(q1[2] - q2[2]), 0.5);
  // Without deformation, to_atlas inverts from_atlas_affine.
  const SubjectWarp w = make_subject(5, 3, a, false);
  const auto p = w.from_atlas_affine(a.brain_center[0] + 12, a.brain_center[1] - 7, a.brain_center[2] + 3);
  const auto q = w.to_atlas(p[0], p[1], p[2]);
  EXPECT_NEAR(q[0], a.brain_center[0] + 12, 1e-9);
  EXPECT_NEAR(q[1], a.brain_center[1] - 7, 1e-9);
  EXPECT_NEAR(q[2], a.brain_center[2] + 3, 1e-9);
}

TEST(SimContrast, SignalEquationsGiveClinicalContrast) {
  for (double field : {1.5, 3.0}) {
    const auto p = base_tissue_params(field);
    Rng rng{1, 2, 3};
    const Sequence t2 = make_sequence("AXT2", Vendor::Siemens, field, rng);
    EXPECT_GT(tissue_signal(p[kCSF], t2, field), 1.5 * tissue_signal(p[kWM], t2, field));
    EXPECT_GT(tissue_signal(p[kGM], t2, field), tissue_signal(p[kWM], t2, field));
    const Sequence fl = make_sequence("AXFLAIR", Vendor::Siemens, field, rng);
    EXPECT_EQ(fl.kind, SeqKind::InversionRecovery);
    EXPECT_GT(fl.ti, 2000);
    EXPECT_LT(fl.ti, 2700);
    EXPECT_LT(std::abs(tissue_signal(p[kCSF], fl, field)), 0.25 * tissue_signal(p[kWM], fl, field));
    EXPECT_GT(tissue_signal(p[kGM], fl, field), tissue_signal(p[kWM], fl, field));
    const Sequence t1 = make_sequence("AXT1", Vendor::Siemens, field, rng);
    EXPECT_GT(tissue_signal(p[kWM], t1, field), tissue_signal(p[kGM], t1, field));
    EXPECT_GT(tissue_signal(p[kGM], t1, field), std::abs(tissue_signal(p[kCSF], t1, field)));
    EXPECT_GT(tissue_signal(p[kFat], t1, field), tissue_signal(p[kWM], t1, field));
    // Gadolinium brightens the enhancing tissues on T1POST only.
    const Sequence post = make_sequence("AXT1POST", Vendor::Siemens, field, rng);
    EXPECT_TRUE(post.gadolinium);
    Sequence pre = post;
    pre.gadolinium = false;
    EXPECT_GT(tissue_signal(p[kDura], post, field), 1.1 * tissue_signal(p[kDura], pre, field));
    EXPECT_EQ(tissue_signal(p[kWM], post, field), tissue_signal(p[kWM], pre, field));
  }
  // GE "FLAIR" is T1-weighted (T1-FLAIR): WM brighter than GM, CSF's sign negative (kept).
  Rng rng{4, 5, 6};
  const auto p = base_tissue_params(3.0);
  const Sequence ge = make_sequence("AXFLAIR", Vendor::GE, 3.0, rng);
  EXPECT_EQ(ge.name, "T1-FLAIR");
  EXPECT_GT(tissue_signal(p[kWM], ge, 3.0), tissue_signal(p[kGM], ge, 3.0));
  EXPECT_LT(tissue_signal(p[kCSF], ge, 3.0), 0);
  // Null point formula: S(CSF) = 0 at TI = null_ti.
  Sequence ir = ge;
  ir.ti = null_ti(p[kCSF].t1, ir.tr);
  EXPECT_NEAR(tissue_signal(p[kCSF], ir, 3.0), 0, 1e-12);
}

TEST(SimCoils, BiotSavartMatchesOnAxisField) {
  CoilArray arr;
  Loop L;
  L.center = {100, 0, 0};
  L.normal = {1, 0, 0};
  L.radius = 40;
  arr.loops = {L};
  arr.segments = 128;
  arr.prepare();
  // On the axis B is along the normal: |B| = 2 pi a^2 / (a^2 + d^2)^{3/2} (mu0 I / 4 pi = 1),
  // and s = B_x - i B_y = B_x (real). s carries an extra factor radius / norm.
  for (double d : {10.0, 30.0, 60.0, 100.0}) {
    const auto s = arr.sensitivity(0, 100 - d, 0, 0);
    const double a = L.radius;
    const double ref = 2 * std::numbers::pi * a * a / std::pow(a * a + d * d, 1.5) * a;
    EXPECT_NEAR(std::abs(s), ref, 2e-3 * ref) << d;
    EXPECT_NEAR(std::abs(s.imag()), 0, 1e-6 * ref);
  }
  // Off-axis the transverse field gives a phase that changes sign across the axis, and the
  // magnitude falls off with distance from the coil.
  const auto sp = arr.sensitivity(0, 70, 30, 0), sm = arr.sensitivity(0, 70, -30, 0);
  EXPECT_GT(std::abs(std::arg(sp)), 0.05);
  EXPECT_NEAR(std::arg(sp), -std::arg(sm), 1e-9);
  EXPECT_GT(std::abs(arr.sensitivity(0, 60, 0, 0)), 2 * std::abs(arr.sensitivity(0, -20, 0, 0)));
}

TEST(SimCoils, ArraysCoverTheHeadAndAreNormalised) {
  for (int n : {2, 4, 8, 12, 16, 20, 32, 44}) {
    const CoilArray arr = make_coil_array(n, 3, 17, {80, 100, 90}, 3.0);
    ASSERT_EQ(arr.size(), n);
    double s2 = 0;
    std::vector<std::complex<float>> s(n);
    arr.sensitivities(0, 0, 10, s.data());
    for (auto v : s) s2 += std::norm(v);
    EXPECT_GT(std::sqrt(s2), 0.6) << n;
    EXPECT_LT(std::sqrt(s2), 1.6) << n;
    // Each coil is strongest near its own loop: peripheral points see different maxima.
    std::set<int> best;
    for (int a = 0; a < 16; ++a) {
      const double ang = 2 * std::numbers::pi * a / 16;
      arr.sensitivities(70 * std::cos(ang), 85 * std::sin(ang), 20, s.data());
      int b = 0;
      for (int c = 1; c < n; ++c)
        if (std::abs(s[c]) > std::abs(s[b])) b = c;
      best.insert(b);
    }
    EXPECT_GE(static_cast<int>(best.size()), std::min(n, 4)) << n;
  }
}

TEST(SimNoise, CovarianceHitsMeasuredRanges) {
  for (int n : {4, 8, 16, 32}) {
    const CoilArray arr = make_coil_array(n, 9, 1, {80, 100, 90}, 3.0);
    // Overlaps over a grid of head points.
    std::vector<std::complex<double>> o(n * n, 0.0);
    std::vector<std::complex<float>> s(n);
    for (double x = -60; x <= 60; x += 10)
      for (double y = -80; y <= 80; y += 10)
        for (double z = -20; z <= 60; z += 20) {
          arr.sensitivities(x, y, z, s.data());
          for (int a = 0; a < n; ++a)
            for (int b = 0; b < n; ++b) o[a * n + b] += std::complex<double>(s[a]) * std::conj(std::complex<double>(s[b]));
        }
    std::vector<std::complex<double>> R(n * n);
    for (int a = 0; a < n; ++a)
      for (int b = 0; b < n; ++b) R[a * n + b] = o[a * n + b] / std::sqrt(o[a * n + a].real() * o[b * n + b].real());
    const auto psi = make_noise_covariance(R, n, 2.0, 9, 1);
    const NoiseStats st = noise_stats(psi, n);
    // Targets: mean |rho| 0.11-0.17, max 0.22-0.33, spread 1.2-1.6 (coils.hpp), with slack
    // for the PD projection.
    EXPECT_GE(st.mean_abs_rho, 0.09) << n;
    EXPECT_LE(st.mean_abs_rho, 0.19) << n;
    EXPECT_GE(st.max_abs_rho, 0.20) << n;
    EXPECT_LE(st.max_abs_rho, 0.36) << n;
    EXPECT_GE(st.sigma_spread, 1.19) << n;
    EXPECT_LE(st.sigma_spread, 1.61) << n;
    double ms = 0;
    for (int a = 0; a < n; ++a) ms += psi[a * n + a].real();
    EXPECT_NEAR(std::sqrt(ms / n), 2.0, 1e-6);
    const auto L = cholesky_lower(psi, n);  // PD
    EXPECT_GT(L[0].real(), 0);
  }
}

TEST(SimVendor, GeDecimationPassesCentreAndSuppressesEdges) {
  // Object: two points along read, one inside the recon FOV and one in the outer band.
  const int64_t H = 128, W = 4;
  rb::Array<rb::cfloat> img({1, H, W});
  img.at(0, H / 2 + 10, 1) = 1.0f;   // inside the central half
  img.at(0, H / 2 + 50, 2) = 1.0f;   // outer quarter: removed by the low-pass
  rb::Array<rb::cfloat> k = rb::fft2c_copy(img.view());
  rb::Array<rb::cfloat> dec;
  const double gain = ge_decimate(k, dec);
  EXPECT_EQ(dec.dim(1), H / 2);
  EXPECT_NEAR(gain, 0.5, 0.05);
  rb::Array<rb::cfloat> out = rb::ifft2c_copy(dec.view());
  // Decimation by 2 of an ortho FFT scales the image by 1/sqrt(2); the point keeps its place.
  EXPECT_NEAR(std::abs(out.at(0, H / 4 + 10, 1)), 1 / std::sqrt(2.0), 0.02);
  double outer = 0;
  for (int64_t y = 0; y < H / 2; ++y) outer = std::max(outer, static_cast<double>(std::abs(out.at(0, y, 2))));
  EXPECT_LT(outer, 0.01);
}

TEST(SimDataset, CiPlanHasEverySplitTrackVendor) {
  const Profile p = make_profile("ci");
  const auto plan = plan_dataset(p, 11);
  const auto again = plan_dataset(p, 11);
  ASSERT_EQ(plan.size(), again.size());
  std::set<std::string> splits, tracks, vendors_transfer, contrasts, names;
  int lesions = 0, padded_masked = 0;
  const std::regex re("file_brain_(AXT1|AXT1PRE|AXT1POST|AXT2|AXFLAIR)_2[0-9][0-9]_[0-9]{7}");
  for (size_t i = 0; i < plan.size(); ++i) {
    const auto& f = plan[i];
    EXPECT_EQ(f.spec.name, again[i].spec.name);
    EXPECT_TRUE(std::regex_match(f.spec.name, re)) << f.spec.name;
    EXPECT_TRUE(names.insert(f.spec.name).second) << "duplicate " << f.spec.name;
    splits.insert(f.split);
    if (!f.track.empty()) tracks.insert(f.track);
    if (f.split == "transfer") vendors_transfer.insert(vendor_name(f.spec.vendor));
    else EXPECT_EQ(f.spec.vendor, Vendor::Siemens);
    contrasts.insert(f.spec.acquisition);
    lesions += f.spec.lesions;
    if (f.acceleration > 0 && f.spec.phase_resolution < 1) ++padded_masked;
    EXPECT_EQ(f.acceleration > 0, f.split == "test" || f.split == "challenge" || f.split == "transfer");
  }
  EXPECT_EQ(splits.size(), 5u);
  EXPECT_EQ(tracks, (std::set<std::string>{"multicoil_4x", "multicoil_8x", "transfer_4x"}));
  EXPECT_EQ(vendors_transfer, (std::set<std::string>{"ge", "philips"}));
  EXPECT_GE(contrasts.size(), 4u);
  EXPECT_GE(lesions, static_cast<int>(0.3 * plan.size()));
  EXPECT_LE(lesions, static_cast<int>(0.6 * plan.size()) + 1);
  EXPECT_GE(padded_masked, 1);
  EXPECT_THROW(make_profile("huge"), rb::UserError);
  EXPECT_THROW(plan_dataset(p, 1, {"training"}), rb::UserError);
}
