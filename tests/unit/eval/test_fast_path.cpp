// The fast evaluation path (fused SSIM kernel on strided crops, SIMD variants, memory-mapped
// reads, shared bootstrap draws) against straightforward reference implementations, and its
// determinism: every ISA path and 1 vs 2 threads give the same bits.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "reconbench/eval/evaluate.hpp"
#include "reconbench/eval/metrics.hpp"
#include "reconbench/eval/stats.hpp"
#include "reconbench/io/fastmri.hpp"
#include "reconbench/io/hdf5.hpp"

namespace {

using rb::Array;
using rb::ArrayView;
namespace ev = rb::eval;
namespace fs = std::filesystem;

// Reference: crop by copying, then every 7x7 window with explicit two-pass means and
// (co)variances in double (skimage structural_similarity defaults), mean per slice, mean
// over slices; MSE/NMSE over the whole cropped volume; data range = max of the cropped GT.
struct Ref {
  double ssim = 0, mse = 0, nmse = 0, psnr = 0, range = 0;
  std::vector<double> per_slice;
};

Ref reference(ArrayView<const float> gt, ArrayView<const float> pred) {
  const int64_t S = gt.dim(0), c = std::min(gt.dim(1), gt.dim(2));
  auto at = [c](ArrayView<const float> v, int64_t s, int64_t i, int64_t j) {
    return static_cast<double>(v.at(s, (v.dim(1) - c) / 2 + i, (v.dim(2) - c) / 2 + j));
  };
  Ref r;
  r.range = -std::numeric_limits<double>::infinity();
  double se = 0, sg = 0;
  for (int64_t s = 0; s < S; ++s)
    for (int64_t i = 0; i < c; ++i)
      for (int64_t j = 0; j < c; ++j) {
        const double a = at(gt, s, i, j), b = at(pred, s, i, j);
        r.range = std::max(r.range, a);
        se += (a - b) * (a - b);
        sg += a * a;
      }
  const double L = r.range, n = 49, c1 = (0.01 * L) * (0.01 * L), c2 = (0.03 * L) * (0.03 * L);
  for (int64_t s = 0; s < S; ++s) {
    double total = 0;
    for (int64_t i = 0; i + 7 <= c; ++i)
      for (int64_t j = 0; j + 7 <= c; ++j) {
        double mx = 0, my = 0;
        for (int a = 0; a < 7; ++a)
          for (int b = 0; b < 7; ++b) {
            mx += at(gt, s, i + a, j + b);
            my += at(pred, s, i + a, j + b);
          }
        mx /= n;
        my /= n;
        double vx = 0, vy = 0, vxy = 0;
        for (int a = 0; a < 7; ++a)
          for (int b = 0; b < 7; ++b) {
            const double dx = at(gt, s, i + a, j + b) - mx, dy = at(pred, s, i + a, j + b) - my;
            vx += dx * dx;
            vy += dy * dy;
            vxy += dx * dy;
          }
        vx /= n - 1;
        vy /= n - 1;
        vxy /= n - 1;
        total += (2 * mx * my + c1) * (2 * vxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2));
      }
    r.per_slice.push_back(total / static_cast<double>((c - 6) * (c - 6)));
    r.ssim += r.per_slice.back() / static_cast<double>(S);
  }
  const double nvox = static_cast<double>(S * c * c);
  r.mse = se / nvox;
  r.nmse = se / sg;
  r.psnr = 10 * std::log10(L * L / r.mse);
  return r;
}

// Structured test volumes: smooth ramps, a checkerboard, step edges, flat bright patches on a
// large offset (variance = small difference of large sums), zero regions, noise.
Array<float> structured(int64_t S, int64_t h, int64_t w, uint64_t seed, int kind) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0.0, 1.0);
  Array<float> a({S, h, w});
  for (int64_t s = 0; s < S; ++s)
    for (int64_t i = 0; i < h; ++i)
      for (int64_t j = 0; j < w; ++j) {
        double v = 0;
        switch (kind) {
          case 0: v = 0.1 + 0.8 * double(i + 2 * j + s) / double(h + 2 * w + S); break;
          case 1: v = ((i / 3 + j / 2 + s) % 2) ? 1.0 : 0.05; break;
          case 2: v = (j > w / 2 ? 2.0 : 0.0) + (i > h / 3 ? 1.0 : 0.0); break;
          case 3: v = 1000.0 + 1e-3 * g(rng); break;
          case 4: v = (i < h / 4 || j < w / 4) ? 0.0 : 1e-4 * (0.6 + 0.3 * std::sin(0.2 * i) * std::cos(0.17 * j)); break;
          default: v = std::fabs(g(rng)); break;
        }
        a.at(s, i, j) = static_cast<float>(v);
      }
  return a;
}

Array<float> perturb(const Array<float>& x, uint64_t seed, double sigma, int64_t h, int64_t w) {
  // A prediction of shape [S h w] (>= x's crop) whose centre (c, c) is x's centre plus noise.
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0.0, sigma);
  const int64_t S = x.dim(0), c = std::min(x.dim(1), x.dim(2));
  Array<float> y({S, h, w});
  for (auto& v : y.flat()) v = static_cast<float>(g(rng));
  for (int64_t s = 0; s < S; ++s)
    for (int64_t i = 0; i < c; ++i)
      for (int64_t j = 0; j < c; ++j)
        y.at(s, (h - c) / 2 + i, (w - c) / 2 + j) =
            static_cast<float>(x.at(s, (x.dim(1) - c) / 2 + i, (x.dim(2) - c) / 2 + j) + g(rng));
  return y;
}

void expect_same_bits(const ev::VolumeMetrics& a, const ev::VolumeMetrics& b) {
  auto same = [](double x, double y) { return (std::isnan(x) && std::isnan(y)) || x == y; };
  EXPECT_EQ(a.ssim, b.ssim);
  EXPECT_EQ(a.mse, b.mse);
  EXPECT_EQ(a.nmse, b.nmse);
  EXPECT_TRUE(same(a.psnr, b.psnr));
  EXPECT_EQ(a.ssim_per_slice, b.ssim_per_slice);
  EXPECT_TRUE(same(a.ssim_masked, b.ssim_masked));
  EXPECT_TRUE(same(a.mse_masked, b.mse_masked));
  EXPECT_TRUE(same(a.nmse_masked, b.nmse_masked));
  EXPECT_TRUE(same(a.mask_fraction, b.mask_fraction));
  ASSERT_EQ(a.ssim_masked_per_slice.size(), b.ssim_masked_per_slice.size());
  for (size_t s = 0; s < a.ssim_masked_per_slice.size(); ++s)
    EXPECT_TRUE(same(a.ssim_masked_per_slice[s], b.ssim_masked_per_slice[s])) << s;
  ASSERT_EQ(a.ssim_maps.size(), b.ssim_maps.size());
  for (size_t s = 0; s < a.ssim_maps.size(); ++s) EXPECT_EQ(a.ssim_maps[s].vec(), b.ssim_maps[s].vec());
}

struct Case {
  int64_t S, h, w, ph, pw;
  int kind;
  double sigma;
};

const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      {2, 7, 7, 7, 7, 5, 0.2},        // exactly one window
      {3, 8, 13, 8, 13, 0, 0.01},     // crop 8 (narrower in height): FLAIR-203 rule
      {2, 31, 17, 35, 20, 1, 0.05},   // odd, crop 17, larger prediction
      {2, 45, 45, 50, 61, 2, 0.1},    // odd, prediction larger in both axes
      {2, 40, 33, 40, 33, 3, 1e-3},   // bright flat on a large offset
      {3, 64, 64, 64, 64, 4, 2e-6},   // brain-like scale with air
      {1, 23, 23, 23, 23, 5, 0.3},    // noise
  };
  return c;
}

TEST(EvalFastPath, MatchesStraightforwardReferenceOnOddAndStructuredVolumes) {
  for (const Case& k : cases()) {
    Array<float> x = structured(k.S, k.h, k.w, 100 + k.kind, k.kind);
    Array<float> y = perturb(x, 200 + k.kind, k.sigma, k.ph, k.pw);
    ev::MetricOptions o;
    o.masked = false;
    const ev::VolumeMetrics m = ev::evaluate_volume(x.view(), y.view(), o);
    const Ref r = reference(x.view(), y.view());
    SCOPED_TRACE(testing::Message() << k.S << "x" << k.h << "x" << k.w << " kind " << k.kind);
    EXPECT_EQ(m.crop, std::min(k.h, k.w));
    EXPECT_EQ(m.data_range, r.range);
    EXPECT_NEAR(m.ssim, r.ssim, 1e-9);
    ASSERT_EQ(m.ssim_per_slice.size(), r.per_slice.size());
    for (size_t s = 0; s < r.per_slice.size(); ++s) EXPECT_NEAR(m.ssim_per_slice[s], r.per_slice[s], 1e-9);
    EXPECT_NEAR(m.mse, r.mse, 1e-12 * r.mse);
    EXPECT_NEAR(m.nmse, r.nmse, 1e-12 * r.nmse);
    EXPECT_NEAR(m.psnr, r.psnr, 1e-9);
    // The strided crop equals evaluating explicit crop copies, bit for bit.
    const int64_t c = m.crop;
    Array<float> xc = ev::crop_volume(x.view(), c, "x"), yc = ev::crop_volume(y.view(), c, "y");
    expect_same_bits(m, ev::evaluate_volume(xc.view(), yc.view(), o));
  }
}

TEST(EvalFastPath, OneAndTwoThreadsAndEveryIsaGiveTheSameBits) {
  const std::vector<std::string> isas = ev::detail::ssim_kernel_isas();
  ASSERT_FALSE(isas.empty());
  EXPECT_EQ(isas[0], "default");
  for (const Case& k : cases()) {
    Array<float> x = structured(k.S + 2, k.h, k.w, 300 + k.kind, k.kind);
    Array<float> y = perturb(x, 400 + k.kind, k.sigma, k.ph, k.pw);
    ev::MetricOptions o;
    o.masked = true;
    o.keep_maps = true;
    o.threads = 1;
    ev::detail::force_ssim_kernel_isa("default");
    const ev::VolumeMetrics base = ev::evaluate_volume(x.view(), y.view(), o);
    for (const std::string& isa : isas)
      for (int threads : {1, 2}) {
        SCOPED_TRACE(testing::Message() << isa << ", " << threads << " threads, kind " << k.kind);
        ev::detail::force_ssim_kernel_isa(isa);
        o.threads = threads;
        expect_same_bits(base, ev::evaluate_volume(x.view(), y.view(), o));
      }
    ev::detail::force_ssim_kernel_isa("");
  }
  EXPECT_THROW(ev::detail::force_ssim_kernel_isa("sse9"), rb::UserError);
}

TEST(EvalFastPath, NonFiniteValuesInsideAndOutsideTheCropAreFound) {
  Array<float> x = structured(2, 20, 16, 1, 5);  // crop 16: rows 2..17
  Array<float> y = perturb(x, 2, 0.1, 22, 18);   // crop rows 3..18, columns 1..16
  struct Where {
    bool gt;
    int64_t s, i, j;
    float v;
  };
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  for (const Where& wh : std::vector<Where>{{false, 1, 5, 6, nan},   // inside the crop
                                            {false, 0, 0, 0, inf},   // above the crop
                                            {false, 1, 10, 17, nan}, // right of the crop
                                            {true, 1, 9, 9, -inf},   // GT inside
                                            {true, 0, 19, 3, nan}}) { // GT below the crop
    Array<float> xb = x, yb = y;
    (wh.gt ? xb : yb).at(wh.s, wh.i, wh.j) = wh.v;
    try {
      ev::evaluate_volume(xb.view(), yb.view(), {}, "gt.h5", "pred.h5");
      ADD_FAILURE() << "no error for " << wh.s << "," << wh.i << "," << wh.j;
    } catch (const ev::NonFiniteError& e) {
      const std::string w = e.what();
      EXPECT_EQ(e.in_target, wh.gt) << w;
      EXPECT_NE(w.find(wh.gt ? "gt.h5" : "pred.h5"), std::string::npos) << w;
      EXPECT_NE(w.find(rb::cat("slice ", wh.s, ", y ", wh.i, ", x ", wh.j)), std::string::npos) << w;
    }
  }
  // Both bad: the ground truth is reported.
  Array<float> xb = x, yb = y;
  xb.at(0, 3, 3) = nan;
  yb.at(0, 4, 4) = nan;
  try {
    ev::evaluate_volume(xb.view(), yb.view(), {}, "gt.h5", "pred.h5");
    ADD_FAILURE() << "no error";
  } catch (const ev::NonFiniteError& e) {
    EXPECT_TRUE(e.in_target);
  }
}

TEST(EvalFastPath, SummarizeColumnsEqualsSummarizePerColumn) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<std::vector<double>> cols = {
      {0.9, 0.8, 0.85, 0.7, 0.95}, {31, 29, 33, 30.5, 28}, {0.1, nan, 0.2, 0.3, 0.25},
      {nan, nan, nan, nan, nan},   {1, 2, 3, 4, 5},        {nan, 0.5, nan, nan, nan}};
  ev::BootstrapOptions b;
  b.resamples = 3001;
  b.seed = 11;
  const std::vector<ev::Summary> all = ev::summarize_columns(cols, b);
  ASSERT_EQ(all.size(), cols.size());
  for (size_t c = 0; c < cols.size(); ++c) {
    const ev::Summary one = ev::summarize(cols[c], b);
    auto same = [](double x, double y) { return (std::isnan(x) && std::isnan(y)) || x == y; };
    EXPECT_EQ(all[c].n, one.n) << c;
    EXPECT_TRUE(same(all[c].mean, one.mean)) << c;
    EXPECT_TRUE(same(all[c].sd, one.sd)) << c;
    EXPECT_TRUE(same(all[c].quantile_interval.lo, one.quantile_interval.lo)) << c;
    EXPECT_TRUE(same(all[c].quantile_interval.hi, one.quantile_interval.hi)) << c;
    EXPECT_TRUE(same(all[c].bootstrap_ci.lo, one.bootstrap_ci.lo)) << c;
    EXPECT_TRUE(same(all[c].bootstrap_ci.hi, one.bootstrap_ci.hi)) << c;
  }
  // The CI itself against sorting the bootstrap means.
  std::vector<double> means = ev::bootstrap_means(cols[1], b);
  std::sort(means.begin(), means.end());
  const double h = 0.025 * double(means.size() - 1);
  const double lo = means[size_t(h)] + (means[size_t(h) + 1] - means[size_t(h)]) * (h - std::floor(h));
  EXPECT_NEAR(all[1].bootstrap_ci.lo, lo, 1e-12);
}

class EvalFiles : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("rb_eval_fast_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
            std::to_string(reinterpret_cast<uintptr_t>(this)));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "gt");
    fs::create_directories(dir_ / "pred");
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

// A float64 or chunked float32 dataset `reconstruction` (not memory-mappable as float32).
void write_unmappable(const fs::path& path, const Array<float>& v, bool chunked) {
  auto guard = rb::h5::lock();
  rb::h5::Id f(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  ASSERT_TRUE(f.valid());
  const hsize_t dims[3] = {hsize_t(v.dim(0)), hsize_t(v.dim(1)), hsize_t(v.dim(2))};
  rb::h5::Id space(H5Screate_simple(3, dims, nullptr));
  rb::h5::Id dcpl(H5Pcreate(H5P_DATASET_CREATE));
  if (chunked) {
    const hsize_t chunk[3] = {1, hsize_t(v.dim(1)), hsize_t(v.dim(2))};
    H5Pset_chunk(dcpl, 3, chunk);
  }
  rb::h5::Id d(H5Dcreate2(f, "reconstruction", chunked ? H5T_IEEE_F32LE : H5T_IEEE_F64LE, space,
                          H5P_DEFAULT, dcpl, H5P_DEFAULT));
  ASSERT_TRUE(d.valid());
  ASSERT_GE(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), 0);
}

TEST_F(EvalFiles, MappedAndCopiedReadsGiveTheInMemoryNumbers) {
  std::vector<Array<float>> gts, preds;
  for (int k = 0; k < 4; ++k) {
    gts.push_back(structured(3, 33, 29, 500 + k, k == 3 ? 4 : 5));
    preds.push_back(perturb(gts.back(), 600 + k, 0.05, 36, 31));
    const std::string name = "file_" + std::to_string(k) + ".h5";
    rb::write_reconstruction(dir_ / "gt" / name, gts.back());
    if (k == 1) write_unmappable(dir_ / "pred" / name, preds.back(), /*chunked=*/true);
    else if (k == 2) write_unmappable(dir_ / "pred" / name, preds.back(), /*chunked=*/false);
    else rb::write_reconstruction(dir_ / "pred" / name, preds.back());
  }
  // read_eval_volume: mapped where the layout allows, the same values either way.
  for (int k = 0; k < 4; ++k) {
    const std::string name = "file_" + std::to_string(k) + ".h5";
    ev::EvalVolume p = ev::read_eval_volume(dir_ / "pred" / name, {"reconstruction"});
    EXPECT_EQ(p.volume.mapped(), k != 1 && k != 2) << k;
    ASSERT_EQ(p.volume.view().shape(), preds[k].shape());
    for (int64_t i = 0; i < preds[k].size(); ++i) ASSERT_EQ(p.volume.view()[i], preds[k][i]) << k;
    ev::EvalInput copy = ev::read_eval_input(dir_ / "pred" / name, {"reconstruction"});
    EXPECT_EQ(copy.volume.vec(), preds[k].vec());
  }
  EXPECT_THROW(ev::read_eval_volume(dir_ / "pred" / "file_0.h5", {"reconstruction_rss"}), rb::UserError);

  ev::EvalOptions o;
  o.progress = false;
  o.bootstrap.resamples = 500;
  o.metrics.threads = 1;
  const ev::EvalRun one = ev::evaluate_directories(dir_ / "gt", dir_ / "pred", o);
  o.metrics.threads = 2;
  const ev::EvalRun two = ev::evaluate_directories(dir_ / "gt", dir_ / "pred", o);
  ASSERT_TRUE(one.errors.empty());
  ASSERT_EQ(one.volumes.size(), 4u);
  EXPECT_EQ(ev::to_json(one).dump(), ev::to_json(two).dump());
  for (int k = 0; k < 4; ++k) {
    ev::MetricOptions mo;
    mo.threads = 1;
    expect_same_bits(one.volumes[k].metrics, ev::evaluate_volume(gts[k].view(), preds[k].view(), mo));
  }
}

TEST_F(EvalFiles, NonFiniteFilesKeepTheirErrorKinds) {
  Array<float> gt = structured(2, 16, 16, 7, 5), pred = perturb(gt, 8, 0.1, 18, 16);
  Array<float> bad_pred = pred, bad_gt = gt;
  bad_pred.at(1, 0, 2) = std::numeric_limits<float>::quiet_NaN();  // outside the crop
  bad_gt.at(0, 5, 5) = std::numeric_limits<float>::infinity();
  rb::write_reconstruction(dir_ / "gt" / "a.h5", gt);
  rb::write_reconstruction(dir_ / "pred" / "a.h5", bad_pred);
  rb::write_reconstruction(dir_ / "gt" / "b.h5", bad_gt);
  rb::write_reconstruction(dir_ / "pred" / "b.h5", pred);
  ev::EvalOptions o;
  o.progress = false;
  o.bootstrap.resamples = 10;
  const ev::EvalRun run = ev::evaluate_directories(dir_ / "gt", dir_ / "pred", o);
  ASSERT_EQ(run.errors.size(), 2u);
  EXPECT_EQ(run.errors[0].file, "a.h5");
  EXPECT_EQ(run.errors[0].kind, "nonfinite");
  EXPECT_NE(run.errors[0].reason.find("slice 1, y 0, x 2"), std::string::npos) << run.errors[0].reason;
  EXPECT_EQ(run.errors[1].file, "b.h5");
  EXPECT_EQ(run.errors[1].kind, "invalid");
  EXPECT_NE(run.errors[1].reason.find("ground truth"), std::string::npos) << run.errors[1].reason;
  EXPECT_NE(run.errors[1].reason.find("infinite"), std::string::npos) << run.errors[1].reason;
}

}  // namespace
