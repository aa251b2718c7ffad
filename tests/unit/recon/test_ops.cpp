// Dot-product adjoint tests for every operator in recon/ (BART lintest), wavelet
// orthogonality, and the solvers on small problems with known solutions.
#include <gtest/gtest.h>

#include <cmath>

#include "phantom.hpp"
#include "reconbench/recon/linop.hpp"
#include "reconbench/recon/ops.hpp"
#include "reconbench/recon/solvers.hpp"

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
