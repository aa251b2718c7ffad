#include "reconbench/recon/vendor.hpp"

#include <Eigen/Dense>

#include "reconbench/fft/fft.hpp"
#include "reconbench/fft/transforms.hpp"
#include "reconbench/recon/pics.hpp"

namespace rb::recon {

int64_t normalized_readout(int64_t read, int64_t phase, const IsmrmrdInfo* header) {
  int64_t recon_w = phase;
  if (header && header->recon_x > 0) recon_w = header->recon_x;
  (void)read;
  return 2 * recon_w;
}

Array<cfloat> compress_coils(ArrayView<const cfloat> kspace, int64_t k) {
  RB_ASSERT(kspace.ndim() == 3);
  const int64_t nc = kspace.dim(0), np = kspace.dim(1) * kspace.dim(2);
  RB_CHECK(k >= 1, "coil compression: virtual coils must be >= 1 (got ", k, ")");
  if (k >= nc) return Array<cfloat>::from_view(kspace);
  // Coil covariance C = sum_p k_p k_p^H
  Eigen::MatrixXcd cov = Eigen::MatrixXcd::Zero(nc, nc);
  Eigen::Map<const Eigen::Matrix<cfloat, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> K(
      kspace.data(), nc, np);
  const int64_t block = 8192;
  for (int64_t p0 = 0; p0 < np; p0 += block) {
    const int64_t n = std::min(block, np - p0);
    Eigen::MatrixXcd b = K.middleCols(p0, n).cast<cdouble>();
    cov.noalias() += b * b.adjoint();
  }
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXcd> es(cov);
  // Top-k eigenvectors, descending.
  Eigen::MatrixXcf U = es.eigenvectors().rightCols(k).rowwise().reverse().cast<cfloat>();
  Array<cfloat> out({k, kspace.dim(1), kspace.dim(2)});
  Eigen::Map<Eigen::Matrix<cfloat, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> O(out.data(), k, np);
  O.noalias() = U.adjoint() * K;
  return out;
}

NormalizedSlice normalize_slice(ArrayView<const cfloat> kspace, const IsmrmrdInfo* header,
                                const VendorOptions& opt) {
  RB_ASSERT(kspace.ndim() == 3, "kspace [coil read phase]");
  NormalizedSlice ns;
  ns.input_read = kspace.dim(1);
  ns.input_coils = kspace.dim(0);
  Array<cfloat> k = Array<cfloat>::from_view(kspace);
  if (opt.readout) {
    const int64_t target = normalized_readout(kspace.dim(1), kspace.dim(2), header);
    if (target != k.dim(1)) {
      // image along the readout, centre pad/crop, back to k-space
      ifft1c(k.view(), 1);
      // move readout to the last axis for center_pad: [coil read phase] -> pad rows
      const int64_t nc = k.dim(0), H = k.dim(1), W = k.dim(2);
      Array<cfloat> r({nc, target, W});
      const int64_t off_in = std::max<int64_t>(0, (H - target) / 2);
      const int64_t off_out = std::max<int64_t>(0, (target - H) / 2);
      const int64_t n = std::min(H, target);
      for (int64_t c = 0; c < nc; ++c)
        for (int64_t i = 0; i < n; ++i)
          std::copy_n(k.data() + (c * H + off_in + i) * W, W, r.data() + (c * target + off_out + i) * W);
      fft1c(r.view(), 1);
      k = std::move(r);
    }
  }
  if (opt.virtual_coils > 0 && opt.virtual_coils < k.dim(0)) k = compress_coils(k.view(), opt.virtual_coils);
  if (opt.intensity) {
    const float s = estimate_scaling(k.view());
    ns.scale = opt.target_scale / s;
    for (auto& v : k.vec()) v *= ns.scale;
  }
  ns.output_read = k.dim(1);
  ns.output_coils = k.dim(0);
  ns.kspace = std::move(k);
  return ns;
}

}  // namespace rb::recon
