// Dot-product adjoint tests for every operator in recon/ (BART lintest), wavelet
// orthogonality, and the solvers on small problems with known solutions.
#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include "phantom.hpp"
#include "reconbench/recon/linop.hpp"
#include "reconbench/recon/ops.hpp"
#include "reconbench/recon/pics.hpp"
#include "reconbench/recon/solvers.hpp"
#include "reconbench/recon/threads.hpp"

namespace rb::recon {
namespace {

constexpr double kAdjTol = 1e-5;

Array<cfloat> random_maps(int64_t nm, int64_t nc, int64_t h, int64_t w, uint32_t seed) {
  auto v = random_cvec(nm * nc * h * w, seed);
  return Array<cfloat>({nm, nc, h, w}, v);
}

TEST(LinOpAdjoint, Fft2c) { EXPECT_LT(adjoint_test(fft2c_op(3, 12, 10)), kAdjTol); }
TEST(LinOpAdjoint, FftOddSizes) { EXPECT_LT(adjoint_test(fft2c_op(2, 9, 7)), kAdjTol); }

TEST(LinOpAdjoint, Sampling) {
  std::vector<float> m = {1, 0, 0, 1, 1, 0, 1, 0};
  EXPECT_LT(adjoint_test(sampling_op(m, 3, 5)), kAdjTol);
}

TEST(LinOpAdjoint, Coils) {
  auto maps = random_maps(2, 4, 6, 5, 3);
  EXPECT_LT(adjoint_test(coil_op(maps.view())), kAdjTol);
}

TEST(LinOpAdjoint, WaveletIsOrthogonal) {
  for (auto [h, w] : {std::pair<int64_t, int64_t>{64, 48}, {128, 96}, {40, 34}}) {
    auto op = wavelet_op(h, w, 5, 11);
    EXPECT_LT(adjoint_test(op), kAdjTol) << h << "x" << w;
    // W^H W = I (perfect reconstruction) and ||W x|| = ||x||.
    auto x = random_cvec(h * w, 9);
    auto c = op.forward(x);
    auto back = op.adjoint(c);
    double err = 0;
    for (size_t i = 0; i < x.size(); ++i) err += std::norm(cdouble(back[i] - x[i]));
    EXPECT_LT(std::sqrt(err / norm2(x)), 1e-5);
    EXPECT_NEAR(norm2(c) / norm2(x), 1.0, 1e-5);
  }
}

TEST(Wavelet, PlanLevelsStopAtMinSize) {
  auto p = make_wavelet_plan(640, 320, 16);
  EXPECT_EQ(p.coarse_h, 20);
  EXPECT_EQ(p.coarse_w, 20);
  auto q = make_wavelet_plan(128, 96, 16);
  EXPECT_EQ(q.coarse_h, 16);
  EXPECT_EQ(q.coarse_w, 24);
}

TEST(Wavelet, SparsifiesSmoothImages) {
  // A linear ramp has (periodic boundary aside) vanishing D4 detail coefficients.
  const int64_t h = 64, w = 64;
  CVec x(h * w);
  for (int64_t i = 0; i < h; ++i)
    for (int64_t j = 0; j < w; ++j) x[i * w + j] = cfloat(std::sin(2 * M_PI * i / h), 0);
  auto p = make_wavelet_plan(h, w, 16);
  dwt2(p, x.data());
  double detail = 0, coarse = 0;
  for (int64_t i = 0; i < h; ++i)
    for (int64_t j = 0; j < w; ++j)
      (i < p.coarse_h && j < p.coarse_w ? coarse : detail) += std::norm(x[i * w + j]);
  EXPECT_LT(detail, 1e-2 * coarse);
}

TEST(BartWavelet, PlanMatchesBartLevels) {
  // BART: bandsize (n + 3) / 2; 128 -> 65 -> 34 -> 18 -> 10 and 96 -> 49 -> 26 -> 14 (< 16,
  // so x stops after 3 splits, y splits once more alone).
  auto p = make_bart_wavelet_plan(128, 96, 16);
  ASSERT_EQ(p.levels.size(), 4u);
  EXPECT_EQ(p.levels[2].b0, 18);
  EXPECT_EQ(p.levels[2].b1, 14);
  EXPECT_TRUE(p.levels[3].s0);
  EXPECT_FALSE(p.levels[3].s1);
  EXPECT_EQ(p.levels[3].b0, 10);
  // wavelet_num_levels per axis (random-shift range 2^levels)
  EXPECT_EQ(p.shift_levels_y, 5);
  EXPECT_EQ(p.shift_levels_x, 4);
}

TEST(BartWavelet, InverseReconstructsAndZeroThresholdIsIdentity) {
  for (auto [h, w] : {std::pair<int64_t, int64_t>{128, 96}, {37, 20}, {64, 17}}) {
    auto p = make_bart_wavelet_plan(h, w, 16);
    auto x = random_cvec(h * w, 11);
    auto c = bart_fwt(p, x.data());
    CVec back(x.size());
    bart_iwt(p, c, back.data());
    double err = 0;
    for (size_t i = 0; i < x.size(); ++i) err += std::norm(cdouble(back[i] - x[i]));
    EXPECT_LT(std::sqrt(err / norm2(x)), 1e-5) << h << "x" << w;
    CVec y = x;
    bart_wavelet_thresh(p, y.data(), 0.f, 7, 3);
    err = 0;
    for (size_t i = 0; i < x.size(); ++i) err += std::norm(cdouble(y[i] - x[i]));
    EXPECT_LT(std::sqrt(err / norm2(x)), 1e-5) << h << "x" << w;
    // a large threshold removes everything
    bart_wavelet_thresh(p, y.data(), 1e3f, 1, 2);
    EXPECT_LT(norm2(y), 1e-12);
  }
}

TEST(BartWavelet, RandLimStaysInRangeAndIsDeterministic) {
  unsigned int a = 1, b = 1;
  for (int i = 0; i < 200; ++i) {
    const int r = bart_rand_lim(&a, 32);
    EXPECT_GE(r, 0);
    EXPECT_LE(r, 32);
    EXPECT_EQ(r, bart_rand_lim(&b, 32));
  }
}

TEST(LinOpAdjoint, BartGradient) {
  EXPECT_LT(adjoint_test(bart_grad_op(13, 10)), kAdjTol);
  // (G x)_0 = x[y] - x[y-1] (periodic)
  CVec x(12);
  for (int i = 0; i < 12; ++i) x[i] = cfloat(float(i * i), 0);
  auto d = bart_grad_op(4, 3).forward(x);
  EXPECT_EQ(d[1 * 3 + 2], x[1 * 3 + 2] - x[0 * 3 + 2]);
  EXPECT_EQ(d[0 * 3 + 0], x[0] - x[3 * 3 + 0]);
  EXPECT_EQ(d[12 + 2 * 3 + 0], x[2 * 3 + 0] - x[2 * 3 + 2]);
}

TEST(Solvers, JointSoftThresholdShrinksTheGroupNorm) {
  // two groups components (3,4) and (0,0) per block, stride 2
  CVec v = {cfloat(3, 0), cfloat(0, 0), cfloat(4, 0), cfloat(0, 0)};
  joint_soft_threshold(v, 2, 2, 2.5f);  // |(3,4)| = 5 -> 2.5
  EXPECT_NEAR(v[0].real(), 1.5f, 1e-6);
  EXPECT_NEAR(v[2].real(), 2.0f, 1e-6);
  EXPECT_EQ(v[1], cfloat(0));
}

TEST(LinOpAdjoint, FiniteDifferences) {
  EXPECT_LT(adjoint_test(fdiff_op(13, 10)), kAdjTol);
}

TEST(LinOpAdjoint, SenseOperatorAndFusedNormal) {
  auto maps = random_maps(2, 5, 16, 12, 4);
  std::vector<float> m(12, 0);
  for (int j = 0; j < 12; j += 3) m[j] = 1;
  m[6] = m[5] = 1;
  SenseOperator op(maps.view(), m);
  auto l = op.linop();
  EXPECT_LT(adjoint_test(l), kAdjTol);
  EXPECT_LT(normal_test(l), 1e-5);
  // Same as the chain P F S of the building blocks.
  auto chained = chain(chain(coil_op(maps.view()), fft2c_op(5, 16, 12)), sampling_op(m, 5, 16));
  auto x = random_cvec(l.in_size(), 5);
  auto a = l.forward(x), b = chained.forward(x);
  double err = 0;
  for (size_t i = 0; i < a.size(); ++i) err += std::norm(cdouble(a[i] - b[i]));
  EXPECT_LT(std::sqrt(err / norm2(b)), 1e-5);
}

TEST(SenseOperator, ConcurrentPlanningGivesCorrectResults) {
  // Threads that plan new FFT sizes at the same time (fft_rows of the fused normal operator
  // and fft2c share fft/'s plan cache and its mutex): every result must equal the chained
  // reference computed afterwards.
  const int64_t sizes[][2] = {{11, 22}, {13, 26}, {15, 30}, {17, 34}, {19, 38}, {21, 42}};
  std::vector<CVec> got(6), input(6);
  std::vector<Array<cfloat>> maps;
  std::vector<std::vector<float>> masks;
  for (int i = 0; i < 6; ++i) {
    const int64_t h = sizes[i][0], w = sizes[i][1];
    maps.push_back(random_maps(1, 3, h, w, 20 + i));
    std::vector<float> m(static_cast<size_t>(w), 0.f);
    for (int64_t j = 0; j < w; j += 2) m[j] = 1;
    masks.push_back(m);
    input[i] = random_cvec(h * w, 30 + i);
    got[i].resize(static_cast<size_t>(h * w));
  }
  std::vector<std::thread> pool;
  for (int i = 0; i < 6; ++i)
    pool.emplace_back([&, i] {
      ScopedReconThreads one(1);
      SenseOperator op(maps[i].view(), masks[i]);
      op.normal(input[i].data(), got[i].data());
    });
  for (auto& t : pool) t.join();
  for (int i = 0; i < 6; ++i) {
    const int64_t h = sizes[i][0], w = sizes[i][1];
    auto a = chain(chain(coil_op(maps[i].view()), fft2c_op(3, h, w)), sampling_op(masks[i], 3, h));
    auto ref = a.adjoint(a.forward(input[i]));
    double err = 0;
    for (size_t q = 0; q < ref.size(); ++q) err += std::norm(cdouble(ref[q] - got[i][q]));
    EXPECT_LT(std::sqrt(err / norm2(ref)), 1e-5) << h << "x" << w;
  }
}

TEST(Pics, ResultsDoNotDependOnTheThreadCount) {
  // Large enough (256 x 192) that the blocked vector kernels, the wavelet passes and the
  // reductions actually split across threads.
  auto p = test::make_phantom(4, 256, 192, 0.003f);
  auto mask = test::equispaced_mask(192, 4, 24);
  auto k = test::apply_mask(p.kspace, mask);
  Array<cfloat> maps({1, 4, 256, 192}, p.maps.vec());
  auto run = [&](int threads) {
    ScopedReconThreads t(threads);
    CsOptions w;
    w.max_iter = 4;
    CsOptions tv = w;
    tv.reg = CsOptions::Reg::TV;
    tv.max_iter = 8;
    SenseOptions s;
    s.max_iter = 4;
    return std::vector<Array<cfloat>>{cs_recon(k.view(), maps.view(), mask, w),
                                      cs_recon(k.view(), maps.view(), mask, tv),
                                      sense_recon(k.view(), maps.view(), mask, s)};
  };
  auto a = run(1), b = run(3);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].vec(), b[i].vec()) << i;
}

TEST(LinOpAdjoint, Compositions) {
  auto maps = random_maps(1, 3, 8, 6, 6);
  auto s = coil_op(maps.view());
  auto f = fft2c_op(3, 8, 6);
  EXPECT_LT(adjoint_test(chain(s, f)), kAdjTol);
  EXPECT_LT(adjoint_test(stack(fdiff_op(8, 6), wavelet_op(8, 6, 0, 0, 2))), kAdjTol);
  EXPECT_LT(adjoint_test(sum(identity_op(20), scale_op(identity_op(20), 2.5f))), kAdjTol);
  EXPECT_LT(normal_test(stack(fdiff_op(8, 6), identity_op(48))), 1e-5);
}

TEST(LinOpAdjoint, DetectsAWrongAdjoint) {
  // The test must be able to fail: an operator whose "adjoint" is the forward.
  auto maps = random_maps(1, 2, 6, 6, 8);
  auto s = coil_op(maps.view());
  LinOp bad("bad", 36, 36, [](CCSpan x, CSpan y) { for (size_t i = 0; i < x.size(); ++i) y[i] = x[(i + 1) % x.size()]; },
            [](CCSpan y, CSpan x) { for (size_t i = 0; i < y.size(); ++i) x[i] = y[(i + 1) % y.size()]; });
  EXPECT_GT(adjoint_test(bad), 1e-2);
}

TEST(Solvers, ConjugateGradientSolvesSpdSystem) {
  // N = diag(d): solution b / (d + lambda)
  const int n = 50;
  std::vector<float> d(n);
  for (int i = 0; i < n; ++i) d[i] = 0.5f + i * 0.1f;
  NormalFn nrm = [&](CCSpan x, CSpan z) { for (int i = 0; i < n; ++i) z[i] = d[i] * x[i]; };
  auto b = random_cvec(n, 3);
  CVec x(n, 0);
  CgOptions o;
  o.max_iter = 100;
  o.lambda = 0.3f;
  o.tol = 1e-7f;
  conjugate_gradient(nrm, b, x, o);
  for (int i = 0; i < n; ++i) EXPECT_NEAR(std::abs(x[i] - b[i] / (d[i] + 0.3f)), 0, 1e-4);
}

TEST(Solvers, FistaAndAdmmSolveLasso) {
  // min 1/2||x - b||^2 + l ||x||_1 has the solution soft(b, l) (A = I).
  const int n = 40;
  auto b = random_cvec(n, 4);
  NormalFn nrm = [](CCSpan x, CSpan z) { std::copy(x.begin(), x.end(), z.begin()); };
  const float lam = 0.7f;
  CVec expect = b;
  soft_threshold(expect, lam);
  CVec x(n, 0);
  FistaOptions fo;
  fo.max_iter = 200;
  fo.step = 0.9f;
  fista(nrm, b, [&](CSpan v, float t, int) { soft_threshold(v, t * lam); }, x, fo);
  // BART's FISTA returns the last gradient-step point v; the minimiser is prox(v).
  soft_threshold(x, fo.step * lam);
  for (int i = 0; i < n; ++i) EXPECT_NEAR(std::abs(x[i] - expect[i]), 0, 1e-4);
  CVec y(n, 0);
  AdmmOptions ao;
  ao.max_iter = 300;
  ao.rho = 1.0f;
  ao.cg_tol = 1e-7f;
  admm_l1(nrm, b, identity_op(n), lam, y, ao);
  for (int i = 0; i < n; ++i) EXPECT_NEAR(std::abs(y[i] - expect[i]), 0, 1e-3);
}

}  // namespace
}  // namespace rb::recon
