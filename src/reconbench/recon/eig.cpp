#include "reconbench/recon/eig.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>

#include "reconbench/core/error.hpp"
#include "reconbench/core/parallel.hpp"
#include "reconbench/recon/threads.hpp"

namespace rb::recon {

namespace {

struct Rotation {
  int32_t k;   // acts on columns k, k+1 of Z
  float c, s;  // Z(:, k) <- c Z(:, k) - s Z(:, k+1);  Z(:, k+1) <- s Z(:, k) + c Z(:, k+1)
};

// Givens rotation with  [c s; -s c]^T [a; b] = [r; 0]  (Golub & Van Loan, Algorithm 5.1.3).
void givens(double a, double b, double& c, double& s) {
  if (b == 0) {
    c = 1;
    s = 0;
  } else if (std::abs(b) > std::abs(a)) {
    const double t = -a / b;
    s = 1 / std::sqrt(1 + t * t);
    c = s * t;
  } else {
    const double t = -b / a;
    c = 1 / std::sqrt(1 + t * t);
    s = c * t;
  }
}

// One implicit QR step with Wilkinson shift on the unreduced block [lo, hi] of the symmetric
// tridiagonal (d, e), e[i] = T(i, i+1): T <- G^T T G with G = G_lo ... G_{hi-1}, chasing the
// bulge z down the band. Appends the rotations to `rot`.
void qr_step(std::vector<double>& d, std::vector<double>& e, int64_t lo, int64_t hi,
             std::vector<Rotation>& rot) {
  const double td = (d[hi - 1] - d[hi]) / 2, eh = e[hi - 1];
  double mu = d[hi];
  if (td == 0)
    mu -= std::abs(eh);
  else
    mu -= eh * (eh / (td + std::copysign(std::hypot(td, eh), td)));
  double x = d[lo] - mu, z = e[lo];
  for (int64_t k = lo; k < hi; ++k) {
    double c, s;
    givens(x, z, c, s);
    if (k > lo) e[k - 1] = c * x - s * z;  // the bulge at (k-1, k+1) becomes 0
    // 2x2 block (k, k+1):  [c -s; s c] [a b; b f] [c s; -s c]
    const double a = d[k], b = e[k], f = d[k + 1];
    d[k] = c * c * a - 2 * c * s * b + s * s * f;
    d[k + 1] = s * s * a + 2 * c * s * b + c * c * f;
    e[k] = c * s * (a - f) + (c * c - s * s) * b;
    x = e[k];
    if (k + 1 < hi) {  // new bulge at (k, k+2)
      z = -s * e[k + 1];
      e[k + 1] *= c;
    }
    rot.push_back({static_cast<int32_t>(k), static_cast<float>(c), static_cast<float>(s)});
  }
}

}  // namespace

HermitianEig::HermitianEig(const Eigen::MatrixXcf& g) {
  RB_ASSERT(g.rows() == g.cols(), "HermitianEig: square matrix expected");
  RB_CHECK(g.allFinite(), "eigendecomposition: matrix has NaN or infinite entries");
  const int64_t n = g.rows();
  tri_.compute(g);
  std::vector<double> d(static_cast<size_t>(n)), e(static_cast<size_t>(std::max<int64_t>(n - 1, 0)));
  for (int64_t i = 0; i < n; ++i) d[i] = tri_.diagonal()(i);
  for (int64_t i = 0; i + 1 < n; ++i) e[i] = tri_.subDiagonal()(i);

  // ---- 2. QR iteration on T, deflating from the bottom ------------------------------------
  // The input is single precision, so an off-diagonal below float epsilon relative to its
  // neighbours is zero (Eigen's criterion for float).
  const double eps = std::numeric_limits<float>::epsilon(), tiny = std::numeric_limits<double>::min();
  std::vector<Rotation> rot;
  int64_t hi = n - 1, sweeps = 0;
  while (hi > 0) {
    for (int64_t i = 0; i < hi; ++i)
      if (std::abs(e[i]) <= tiny || std::abs(e[i]) <= eps * (std::abs(d[i]) + std::abs(d[i + 1])))
        e[i] = 0;
    while (hi > 0 && e[hi - 1] == 0) --hi;
    if (hi == 0) break;
    RB_CHECK(++sweeps <= 30 * n, "eigendecomposition: QR iteration did not converge (", n, "x",
             n, " matrix)");
    int64_t lo = hi - 1;
    while (lo > 0 && e[lo - 1] != 0) --lo;
    qr_step(d, e, lo, hi, rot);
  }

  // ---- 3. Z = I G_1 ... G_m by fixed blocks of 64 rows (split independent of threads) -----
  // Z is column-major with a leading dimension padded to whole cache lines and a 64-byte
  // aligned start, so that two threads rotating the same column pair never share a line.
  const int64_t ld = (n + 15) / 16 * 16, bs = 64;
  std::vector<float> buf(static_cast<size_t>(ld * n + 16), 0.f);
  float* z = buf.data();
  while (reinterpret_cast<uintptr_t>(z) % 64 != 0) ++z;
  for (int64_t i = 0; i < n; ++i) z[i * ld + i] = 1;
  parallel_for(
      (n + bs - 1) / bs,
      [&](int64_t b) {
        const int64_t r0 = b * bs, len = std::min(bs, n - r0);
        for (const Rotation& r : rot) {
          float* p = z + r.k * ld + r0;
          float* q = p + ld;
          for (int64_t i = 0; i < len; ++i) {
            const float u = p[i], v = q[i];
            p[i] = r.c * u - r.s * v;
            q[i] = r.s * u + r.c * v;
          }
        }
      },
      recon_threads());
  z_ = Eigen::Map<const Eigen::MatrixXf, 0, Eigen::OuterStride<>>(z, n, n, Eigen::OuterStride<>(ld));

  order_.resize(static_cast<size_t>(n));
  std::iota(order_.begin(), order_.end(), int64_t(0));
  std::stable_sort(order_.begin(), order_.end(), [&](int64_t a, int64_t b) { return d[a] > d[b]; });
  values_.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) values_[i] = d[order_[i]];
}

Eigen::MatrixXcf HermitianEig::vectors(int64_t count) const {
  const int64_t n = z_.rows();
  RB_ASSERT(count >= 0 && count <= n, "HermitianEig::vectors: count out of range");
  Eigen::MatrixXcf u(n, count);
  using cfloat = std::complex<float>;
  for (int64_t t = 0; t < count; ++t) u.col(t) = z_.col(order_[t]).cast<cfloat>();
  // ---- 4. U = Q Z(:, wanted), by fixed blocks of 8 columns ---------------------------------
  const int64_t bs = 8;
  parallel_for(
      (count + bs - 1) / bs,
      [&](int64_t b) {
        const int64_t c0 = b * bs, len = std::min(bs, count - c0);
        Eigen::MatrixXcf blk = u.middleCols(c0, len);
        tri_.matrixQ().applyThisOnTheLeft(blk);
        u.middleCols(c0, len) = blk;
      },
      recon_threads());
  return u;
}

}  // namespace rb::recon
