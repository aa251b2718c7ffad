// HermitianEig (the eigensolver behind ESPIRiT's calibration step) against Eigen's
// SelfAdjointEigenSolver in double precision: eigenvalues, residuals, orthonormality, hard
// spectra (repeated, clustered, zero, negative), and bit-identical results on 1 and 3 threads.
#include <gtest/gtest.h>

#include <random>

#include "reconbench/core/error.hpp"
#include "reconbench/recon/eig.hpp"
#include "reconbench/recon/threads.hpp"

namespace rb::recon {
namespace {

using Eigen::MatrixXcd;
using Eigen::MatrixXcf;

// Q diag(lambda) Q^H with a random unitary Q.
MatrixXcf with_spectrum(const std::vector<double>& lambda, unsigned seed) {
  const int64_t n = static_cast<int64_t>(lambda.size());
  std::mt19937 gen(seed);
  std::normal_distribution<double> nd;
  MatrixXcd x(n, n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) x(i, j) = {nd(gen), nd(gen)};
  const MatrixXcd q = Eigen::HouseholderQR<MatrixXcd>(x).householderQ();
  Eigen::VectorXd l(n);
  for (int64_t i = 0; i < n; ++i) l(i) = lambda[i];
  const MatrixXcd g = q * l.asDiagonal() * q.adjoint();
  return ((g + g.adjoint()) / 2).cast<std::complex<float>>();
}

// Checks values against Eigen (double) and the first `count` vectors by residual and
// orthonormality, all relative to the spectral norm.
void check(const MatrixXcf& g, int64_t count, const char* what) {
  SCOPED_TRACE(what);
  const int64_t n = g.rows();
  const HermitianEig es(g);
  const MatrixXcd gd = g.cast<std::complex<double>>();
  Eigen::SelfAdjointEigenSolver<MatrixXcd> ref(gd, Eigen::EigenvaluesOnly);
  const double norm = std::max(ref.eigenvalues().cwiseAbs().maxCoeff(), 1e-30);
  ASSERT_EQ(static_cast<int64_t>(es.values().size()), n);
  for (int64_t t = 0; t < n; ++t) {
    EXPECT_NEAR(es.values()[t], ref.eigenvalues()(n - 1 - t), 2e-5 * norm) << "value " << t;
    if (t > 0) {
      EXPECT_GE(es.values()[t - 1], es.values()[t]) << "descending at " << t;
    }
  }
  const MatrixXcd u = es.vectors(count).cast<std::complex<double>>();
  ASSERT_EQ(u.cols(), count);
  for (int64_t t = 0; t < count; ++t) {
    const double res = (gd * u.col(t) - es.values()[t] * u.col(t)).norm();
    EXPECT_LT(res, 1e-4 * norm) << "residual of vector " << t;
  }
  const double orth = (u.adjoint() * u - MatrixXcd::Identity(count, count)).cwiseAbs().maxCoeff();
  EXPECT_LT(orth, 1e-4);
}

TEST(HermitianEig, MatchesEigenOnHardSpectra) {
  // A calibration-like spectrum: geometric decay over 7 decades.
  std::vector<double> decay(120);
  for (size_t i = 0; i < decay.size(); ++i) decay[i] = std::pow(10.0, -7.0 * i / 119);
  check(with_spectrum(decay, 1), 40, "geometric decay");
  // Repeated and clustered eigenvalues, zeros, negatives.
  std::vector<double> hard;
  for (int i = 0; i < 30; ++i) hard.push_back(5.0);                // 30-fold eigenvalue
  for (int i = 0; i < 20; ++i) hard.push_back(2.0 + 1e-6 * i);     // tight cluster
  for (int i = 0; i < 20; ++i) hard.push_back(0.0);                // null space
  for (int i = 0; i < 10; ++i) hard.push_back(-1.0 - 0.1 * i);     // indefinite
  check(with_spectrum(hard, 2), 60, "repeated, clustered, zero, negative");
  // Already diagonal (the QR iteration deflates at once) and the scalar case.
  MatrixXcf diag = MatrixXcf::Zero(50, 50);
  for (int i = 0; i < 50; ++i) diag(i, i) = float((i * 37) % 50);
  check(diag, 50, "diagonal");
  check(MatrixXcf::Identity(30, 30) * 3.f, 30, "identity");
  check(MatrixXcf::Constant(1, 1, 2.f), 1, "1x1");
  // Rank one: one nonzero eigenvalue, its vector the generating one up to phase.
  Eigen::VectorXcf v = Eigen::VectorXcf::LinSpaced(64, 1.f, 2.f);
  v(3) = {0.f, 1.5f};
  check(v * v.adjoint(), 1, "rank one");
}

TEST(HermitianEig, BitIdenticalOnAnyThreadCount) {
  std::vector<double> decay(361);
  for (size_t i = 0; i < decay.size(); ++i) decay[i] = std::exp(-0.05 * double(i));
  const MatrixXcf g = with_spectrum(decay, 3);
  MatrixXcf a, b;
  std::vector<double> va, vb;
  {
    ScopedReconThreads t(1);
    HermitianEig es(g);
    a = es.vectors(40);
    va = es.values();
  }
  {
    ScopedReconThreads t(3);
    HermitianEig es(g);
    b = es.vectors(40);
    vb = es.values();
  }
  EXPECT_EQ(va, vb);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_TRUE(std::equal(a.data(), a.data() + a.size(), b.data()));
}

TEST(HermitianEig, RejectsNonFiniteInput) {
  MatrixXcf g = MatrixXcf::Identity(8, 8);
  g(2, 5) = {std::numeric_limits<float>::quiet_NaN(), 0.f};
  EXPECT_THROW(HermitianEig{g}, UserError);
}

}  // namespace
}  // namespace rb::recon
