#include "reconbench/recon/coil_compress.hpp"

#include <Eigen/Dense>

#include "reconbench/core/error.hpp"

namespace rb::recon {

namespace {
using RowMajorCf = Eigen::Matrix<cfloat, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
}

CoilCompression coil_compression(ArrayView<const cfloat> kspace, int64_t k) {
  RB_ASSERT(kspace.ndim() == 3, "kspace [coil read phase]");
  RB_CHECK(k >= 1, "coil compression: virtual coils must be >= 1 (got ", k, ")");
  const int64_t nc = kspace.dim(0), np = kspace.dim(1) * kspace.dim(2);
  k = std::min(k, nc);
  // C = D D^H in double, accumulated in fixed blocks (same order for any thread count)
  Eigen::MatrixXcd cov = Eigen::MatrixXcd::Zero(nc, nc);
  Eigen::Map<const RowMajorCf> D(kspace.data(), nc, np);
  const int64_t block = 8192;
  for (int64_t p0 = 0; p0 < np; p0 += block) {
    const int64_t n = std::min(block, np - p0);
    Eigen::MatrixXcd b = D.middleCols(p0, n).cast<cdouble>();
    cov.noalias() += b * b.adjoint();
  }
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXcd> es(cov);  // ascending eigenvalues
  CoilCompression out;
  for (int64_t i = nc - 1; i >= 0; --i)
    if (nc - 1 - i < std::min(nc, np))
      out.singular_values.push_back(std::sqrt(std::max(0.0, es.eigenvalues()(i))));
  out.matrix = Array<cfloat>({k, nc});
  for (int64_t r = 0; r < k; ++r) {
    Eigen::VectorXcd u = es.eigenvectors().col(nc - 1 - r);
    Eigen::Index big = 0;
    u.cwiseAbs().maxCoeff(&big);
    u *= std::conj(u(big)) / std::abs(u(big));  // largest weight real positive
    for (int64_t c = 0; c < nc; ++c) out.matrix[r * nc + c] = cfloat(std::conj(u(c)));
  }
  return out;
}

Array<cfloat> apply_coil_compression(ArrayView<const cfloat> kspace,
                                     ArrayView<const cfloat> matrix) {
  RB_ASSERT(kspace.ndim() == 3 && matrix.ndim() == 2 && matrix.dim(1) == kspace.dim(0),
            "coil compression: matrix [K coil] and kspace [coil read phase]");
  const int64_t nc = kspace.dim(0), k = matrix.dim(0), np = kspace.dim(1) * kspace.dim(2);
  Array<cfloat> out({k, kspace.dim(1), kspace.dim(2)});
  Eigen::Map<const RowMajorCf> D(kspace.data(), nc, np), A(matrix.data(), k, nc);
  Eigen::Map<RowMajorCf> O(out.data(), k, np);
  O.noalias() = A * D;
  return out;
}

Array<cfloat> compress_coils(ArrayView<const cfloat> kspace, int64_t k) {
  RB_CHECK(k >= 1, "coil compression: virtual coils must be >= 1 (got ", k, ")");
  if (k >= kspace.dim(0)) return Array<cfloat>::from_view(kspace);
  const auto cc = coil_compression(kspace, k);
  return apply_coil_compression(kspace, cc.matrix.view());
}

}  // namespace rb::recon
