// Leading eigenvectors of a Hermitian matrix, with the expensive part on recon_threads().
//
// ESPIRiT needs the signal subspace of its calibration matrix: typically 30-40 eigenvectors
// of a 361x361 Gram matrix. Eigen's SelfAdjointEigenSolver computes all of them serially
// and spends about two thirds of its time applying the QR iteration's Givens rotations to
// a complex eigenvector matrix. Here the same algorithm is split so that only cheap parts
// are serial:
//
//   1. Householder tridiagonalisation  G = Q T Q^H  (Eigen::Tridiagonalization; T real).
//   2. Implicit symmetric QR with Wilkinson shifts on (diag, subdiag) alone, recording the
//      rotations (Golub & Van Loan, Algorithm 8.3.2/8.3.3): O(n^2) scalar work.
//   3. Z = G_1 G_2 ... G_m applied to the identity, by fixed blocks of rows of Z in
//      parallel: each row of Z evolves independently (Z <- Z G only mixes columns), so the
//      result is bit-identical whatever the thread count. Z is real, which halves the work
//      of rotating complex vectors.
//   4. Only the wanted columns are brought back:  U = Q Z(:, wanted), by fixed column blocks.
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <vector>

namespace rb::recon {

class HermitianEig {
 public:
  // Steps 1-3. Throws rb::UserError on NaN/Inf entries or if the QR iteration does not
  // converge (30 n sweeps).
  explicit HermitianEig(const Eigen::MatrixXcf& g);

  // All eigenvalues, descending.
  const std::vector<double>& values() const { return values_; }

  // Unit eigenvectors (columns) of values()[0 .. count).
  Eigen::MatrixXcf vectors(int64_t count) const;

 private:
  Eigen::Tridiagonalization<Eigen::MatrixXcf> tri_;
  Eigen::MatrixXf z_;          // eigenvectors of T, columns in QR order
  std::vector<int64_t> order_;  // column of z_ for each entry of values_
  std::vector<double> values_;
};

}  // namespace rb::recon
