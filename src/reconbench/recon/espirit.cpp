#include "reconbench/recon/espirit.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <functional>
#include <future>
#include <numbers>
#include <system_error>

#include "reconbench/core/parallel.hpp"
#include "reconbench/recon/eig.hpp"
#include "reconbench/recon/threads.hpp"

namespace rb::recon {

CalibRegion find_calibration_region(ArrayView<const cfloat> kspace, int64_t max_size) {
  RB_ASSERT(kspace.ndim() == 3, "kspace [coil read phase]");
  const int64_t nc = kspace.dim(0), H = kspace.dim(1), W = kspace.dim(2), np = H * W;
  std::vector<uint8_t> pat(static_cast<size_t>(np), 0);
  for (int64_t c = 0; c < nc; ++c)
    for (int64_t p = 0; p < np; ++p)
      if (kspace[c * np + p] != cfloat(0)) pat[p] = 1;
  const int64_t n[2] = {H, W};
  int64_t size[2] = {1, 1}, pos[2] = {(H - 1) / 2, (W - 1) / 2};
  auto full = [&] {
    for (int64_t i = pos[0]; i < pos[0] + size[0]; ++i)
      for (int64_t j = pos[1]; j < pos[1] + size[1]; ++j)
        if (!pat[i * W + j]) return false;
    return true;
  };
  if (!full()) return {pos[0], 0, pos[1], 0};
  bool stop[2] = {false, false};
  int dim = 0;
  while (!(stop[0] && stop[1])) {
    if (!stop[dim]) {
      if (size[dim] >= n[dim] || size[dim] >= max_size) {
        stop[dim] = true;
      } else {
        ++size[dim];
        pos[dim] = (n[dim] - size[dim]) / 2;
        if (!full()) {
          --size[dim];
          pos[dim] = (n[dim] - size[dim]) / 2;
          stop[dim] = true;
        }
      }
    }
    dim = 1 - dim;
  }
  return {pos[0], size[0], pos[1], size[1]};
}

namespace {

// A A^H (adjoint_first = false) or A^H A, computed in fixed blocks of 32 output rows on
// recon_threads() (Eigen's product is single-threaded here; this was ~15 % of a 16-coil
// ESPIRiT run and serial). The block split does not depend on the thread count.
Eigen::MatrixXcd gram(const Eigen::MatrixXcd& A, bool adjoint_first) {
  const int64_t n = adjoint_first ? A.cols() : A.rows();
  Eigen::MatrixXcd g(n, n);
  const int64_t bs = 32, nb = (n + bs - 1) / bs;
  parallel_for(
      nb,
      [&](int64_t b) {
        const int64_t r0 = b * bs, len = std::min(bs, n - r0);
        if (adjoint_first)
          g.middleRows(r0, len).noalias() = A.middleCols(r0, len).adjoint() * A;
        else
          g.middleRows(r0, len).noalias() = A.middleRows(r0, len) * A.adjoint();
      },
      recon_threads());
  return g;
}

// Per-pixel state for the eigen iteration (structure of arrays, float).
struct PixelEig {
  int64_t nc;
  std::vector<float> gr, gi;  // full G, column-major: G(i, j) at [j * nc + i]
  std::vector<float> wr, wi;  // G v
  explicit PixelEig(int64_t n)
      : nc(n), gr(n * n), gi(n * n), wr(n), wi(n) {}

  // w = G v
  void matvec(const float* vr, const float* vi) {
    std::fill(wr.begin(), wr.end(), 0.f);
    std::fill(wi.begin(), wi.end(), 0.f);
    for (int64_t j = 0; j < nc; ++j) {
      const float xr = vr[j], xi = vi[j];
      const float* cr = gr.data() + j * nc;
      const float* ci = gi.data() + j * nc;
      for (int64_t i = 0; i < nc; ++i) {
        wr[i] += cr[i] * xr - ci[i] * xi;
        wi[i] += cr[i] * xi + ci[i] * xr;
      }
    }
  }
};

// Power iteration on G restricted to the complement of `defl` (previous eigenvectors).
// v (in/out) unit vector; returns the Rayleigh quotient estimate.
float power_iterate(PixelEig& pe, float* vr, float* vi, const std::vector<const float*>& dr,
                    const std::vector<const float*>& di, int max_iter, float tol) {
  const int64_t nc = pe.nc;
  float lambda = 0;
  for (int it = 0; it < max_iter; ++it) {
    pe.matvec(vr, vi);
    // lambda = v^H G v
    double rq = 0;
    for (int64_t i = 0; i < nc; ++i) rq += double(vr[i]) * pe.wr[i] + double(vi[i]) * pe.wi[i];
    lambda = static_cast<float>(rq);
    // w -= q (q^H w) for each deflation vector q
    for (size_t q = 0; q < dr.size(); ++q) {
      double pr = 0, pim = 0;
      for (int64_t i = 0; i < nc; ++i) {
        pr += double(dr[q][i]) * pe.wr[i] + double(di[q][i]) * pe.wi[i];
        pim += double(dr[q][i]) * pe.wi[i] - double(di[q][i]) * pe.wr[i];
      }
      for (int64_t i = 0; i < nc; ++i) {
        pe.wr[i] -= static_cast<float>(dr[q][i] * pr - di[q][i] * pim);
        pe.wi[i] -= static_cast<float>(dr[q][i] * pim + di[q][i] * pr);
      }
    }
    double nn = 0;
    for (int64_t i = 0; i < nc; ++i) nn += double(pe.wr[i]) * pe.wr[i] + double(pe.wi[i]) * pe.wi[i];
    if (!(nn > 0)) return lambda;
    const float inv = static_cast<float>(1 / std::sqrt(nn));
    double delta = 0;
    for (int64_t i = 0; i < nc; ++i) {
      const float nr = pe.wr[i] * inv, ni = pe.wi[i] * inv;
      delta += double(nr - vr[i]) * (nr - vr[i]) + double(ni - vi[i]) * (ni - vi[i]);
      vr[i] = nr;
      vi[i] = ni;
    }
    if (delta < tol) {
      // one more Rayleigh quotient with the converged vector
      pe.matvec(vr, vi);
      rq = 0;
      for (int64_t i = 0; i < nc; ++i) rq += double(vr[i]) * pe.wr[i] + double(vi[i]) * pe.wi[i];
      return static_cast<float>(rq);
    }
  }
  return lambda;
}

float crop_weight(float lambda, float crop, bool soft) {
  if (crop <= 0) return 1.f;
  if (!soft) return lambda <= crop ? 0.f : 1.f;
  // BART crop_weight_function: scurve((sqrt(val) - c) / (1 - c))
  const float x = (std::sqrt(std::max(lambda, 0.f)) - crop) / (1 - crop);
  if (x <= -1) return 0.f;
  if (x >= 1) return 1.f;
  return 0.5f * (1 + 2 * x / (1 + x * x));
}

// ---- 1b. kernel extents kr x kp [read phase] for the calibration box ------------------
// k x k, except that an axis of n box samples gets min(k, max(3, n - min_windows + 1)) so
// that the box holds >= min_windows kernel positions along it (min_windows = 0: BART).
std::pair<int64_t, int64_t> kernel_extents(const CalibRegion& cr, const EspiritOptions& opt) {
  int64_t kr = opt.kernel, kp = opt.kernel;
  if (opt.min_windows > 0) {
    kr = std::min(kr, std::max<int64_t>(3, cr.h - opt.min_windows + 1));
    kp = std::min(kp, std::max<int64_t>(3, cr.w - opt.min_windows + 1));
  }
  RB_CHECK(cr.h >= kr && cr.w >= kp, "espirit: fully sampled calibration region ", cr.h, "x",
           cr.w, " is smaller than the kernel ", kr, "x", kp,
           " (needs a fully sampled k-space centre of at least 3x3)");
  return {kr, kp};
}

// ---- 2. calibration matrix A [window, coil x kernel] and its signal subspace ----------
// Rows of A are the kr x kp windows of the calibration region (all coils); A = U Sigma V^H.
Eigen::MatrixXcd calibration_matrix(ArrayView<const cfloat> kspace, const CalibRegion& cr,
                                    int64_t kr, int64_t kp) {
  const int64_t nc = kspace.dim(0), W = kspace.dim(2), np = kspace.dim(1) * W;
  const int64_t ny = cr.h - kr + 1, nx = cr.w - kp + 1;
  Eigen::MatrixXcd A(ny * nx, nc * kr * kp);
  for (int64_t a = 0; a < ny; ++a)
    for (int64_t b = 0; b < nx; ++b)
      for (int64_t c = 0; c < nc; ++c)
        for (int64_t i = 0; i < kr; ++i)
          for (int64_t j = 0; j < kp; ++j)
            A(a * nx + b, (c * kr + i) * kp + j) =
                cdouble(kspace[c * np + (cr.y0 + a + i) * W + cr.x0 + b + j]);
  return A;
}

// The right singular vectors of A with sigma_t / sigma_0 > sqrt(threshold) (columns, in
// descending order); `during_eig` runs while the eigendecomposition is the only work.
Eigen::MatrixXcd signal_kernels(const Eigen::MatrixXcd& A, const EspiritOptions& opt,
                                const std::function<void()>& during_eig) {
  const int64_t rows = A.rows(), cols = A.cols();
  std::vector<double> sv;  // singular values, descending
  auto count_kept = [&] {
    RB_CHECK(sv[0] > 0, "espirit: no signal in the calibration region");
    int64_t kept = 0;
    for (double s : sv)
      if (s / sv[0] > std::sqrt(double(opt.threshold))) ++kept;
    return kept;
  };
  if (rows >= cols) {
    Eigen::MatrixXcd g = gram(A, true);
    during_eig();
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXcd> es(g);
    sv.resize(cols);
    for (int64_t t = 0; t < cols; ++t) {
      const double mu = es.eigenvalues()(cols - 1 - t);
      sv[t] = mu > 0 ? std::sqrt(mu) : 0.0;
    }
    return es.eigenvectors().rightCols(count_kept()).rowwise().reverse();
  }
  // Single precision for the eigendecomposition, as BART's cheev; the Gram matrix itself is
  // accumulated in double. Only the kept eigenvectors are formed (eig.hpp).
  const Eigen::MatrixXcf g = gram(A, false).cast<cfloat>();
  during_eig();
  const HermitianEig es(g);
  sv.resize(rows);
  for (int64_t t = 0; t < rows; ++t) {
    const double mu = es.values()[t];
    sv[t] = mu > 0 ? std::sqrt(mu) : 0.0;
  }
  const int64_t kept = count_kept();
  // v_t = A^H u_t / sigma_t, in fixed blocks of 32 rows of V (as gram(): thread-count
  // independent).
  const Eigen::MatrixXcd E = es.vectors(kept).cast<cdouble>();
  Eigen::MatrixXcd V(cols, kept);
  const int64_t bs = 32;
  parallel_for(
      (cols + bs - 1) / bs,
      [&](int64_t b) {
        const int64_t r0 = b * bs, len = std::min(bs, cols - r0);
        V.middleRows(r0, len).noalias() = A.middleCols(r0, len).adjoint() * E;
        for (int64_t t = 0; t < kept; ++t) V.col(t).segment(r0, len) /= sv[t];
      },
      recon_threads());
  return V;
}

// First principal component of the calibration data (the maps' phase reference).
std::vector<cdouble> principal_component(ArrayView<const cfloat> kspace, const CalibRegion& cr) {
  const int64_t nc = kspace.dim(0), W = kspace.dim(2), np = kspace.dim(1) * W;
  Eigen::MatrixXcd cov = Eigen::MatrixXcd::Zero(nc, nc);
  Eigen::VectorXcd s(nc);
  for (int64_t i = 0; i < cr.h; ++i)
    for (int64_t j = 0; j < cr.w; ++j) {
      for (int64_t c = 0; c < nc; ++c) s(c) = cdouble(kspace[c * np + (cr.y0 + i) * W + cr.x0 + j]);
      cov.noalias() += s * s.adjoint();
    }
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXcd> es(cov);
  std::vector<cdouble> pc(static_cast<size_t>(nc));
  for (int64_t c = 0; c < nc; ++c) pc[c] = es.eigenvectors()(c, nc - 1);
  return pc;
}

// ---- 3. coefficients C_d of G(r) (packed upper triangle c <= c') ------------------------
// C[(dy' * ndx + dx') * npk + l], dy' = dy + kr - 1, dx' = dx + kp - 1, ndx = 2 kp - 1,
// npk = nc (nc + 1) / 2; V holds the signal-subspace kernels conj(v_t) as columns.
std::vector<cdouble> kernel_coefficients(const Eigen::MatrixXcd& V, int64_t kr, int64_t kp,
                                         int64_t nc) {
  const int64_t ndy = 2 * kr - 1, ndx = 2 * kp - 1, npk = nc * (nc + 1) / 2, K = V.cols();
  const int64_t kk = kr * kp;
  std::vector<cdouble> C(static_cast<size_t>(ndy * ndx * npk), 0);
  std::vector<int64_t> lidx(static_cast<size_t>(nc * nc), -1);
  for (int64_t c = 0, l = 0; c < nc; ++c)
    for (int64_t c2 = c; c2 < nc; ++c2, ++l) lidx[c * nc + c2] = l;
  // One work item per offset d = (dy, dx): the window pairs (o, o2) with o - o2 = d. Each
  // C_d sums over t, then o ascending, whatever the thread count.
  const double inv = 1.0 / double(kk);
  parallel_for(
      ndy * ndx,
      [&](int64_t d) {
        const int64_t dy = d / ndx - (kr - 1), dx = d % ndx - (kp - 1);
        cdouble* cd = C.data() + d * npk;
        for (int64_t t = 0; t < K; ++t)
          for (int64_t o = 0; o < kk; ++o) {
            const int64_t oy2 = o / kp - dy, ox2 = o % kp - dx;
            if (oy2 < 0 || oy2 >= kr || ox2 < 0 || ox2 >= kp) continue;
            const int64_t o2 = oy2 * kp + ox2;
            for (int64_t c = 0; c < nc; ++c) {
              const cdouble a = V(c * kk + o, t);
              for (int64_t c2 = c; c2 < nc; ++c2)
                cd[lidx[c * nc + c2]] += a * std::conj(V(c2 * kk + o2, t));
            }
          }
        for (int64_t l = 0; l < npk; ++l) cd[l] *= inv;
      },
      recon_threads(), /*chunk=*/1);  // central offsets have the most window pairs
  return C;
}

// Phase table e^{+2 pi i d (y - n/2) / n}, [y, d + k - 1] for d in (-k, k).
std::vector<cdouble> phase_table(int64_t n, int64_t k) {
  const int64_t nd = 2 * k - 1;
  std::vector<cdouble> e(static_cast<size_t>(n * nd));
  for (int64_t y = 0; y < n; ++y)
    for (int64_t d = 0; d < nd; ++d)
      e[y * nd + d] = std::polar(1.0, 2 * std::numbers::pi * double(d - (k - 1)) *
                                          double(y - n / 2) / double(n));
  return e;
}

// ---- 4. per-pixel eigenvectors of G(r) ------------------------------------------------------
// What every row of the maps needs: C, the phase tables, the phase reference.
struct MapInputs {
  int64_t kr, kp, nc, M, H, W;
  std::vector<cdouble> C, ey;
  std::vector<float> exr, exi, pcr, pci;
};

// Row y of out.maps / out.eigenvalues: G(y, x) = sum_dy sum_dx C_d e_y(dy) e_x(dx), its top M
// eigenvectors by power iteration (warm-started from the previous pixel), cropped/weighted
// and phase-aligned to the principal component.
void map_row(const MapInputs& in, const EspiritOptions& opt, int64_t y, EspiritMaps& out) {
  const int64_t nc = in.nc, M = in.M, H = in.H, W = in.W;
  const int64_t ndy = 2 * in.kr - 1, ndx = 2 * in.kp - 1, npk = nc * (nc + 1) / 2;
  // T[dx][l] = sum_dy C[dy][dx][l] e_y(dy)
  std::vector<float> tr(static_cast<size_t>(ndx * npk)), ti(tr.size());
  for (int64_t dx = 0; dx < ndx; ++dx)
    for (int64_t l = 0; l < npk; ++l) {
      cdouble s = 0;
      for (int64_t dy = 0; dy < ndy; ++dy)
        s += in.C[(dy * ndx + dx) * npk + l] * in.ey[y * ndy + dy];
      tr[dx * npk + l] = static_cast<float>(s.real());
      ti[dx * npk + l] = static_cast<float>(s.imag());
    }
  // Cold start: map 0 from the principal component, others from unit vectors.
  auto cold = [&](std::vector<float>& vr, std::vector<float>& vi, int64_t m) {
    if (m == 0) {
      vr = in.pcr;
      vi = in.pci;
    } else {
      std::fill(vr.begin(), vr.end(), 0.f);
      std::fill(vi.begin(), vi.end(), 0.f);
      vr[m % nc] = 1;
    }
  };
  PixelEig pe(nc);
  std::vector<float> pr(npk), pim(npk);
  std::vector<std::vector<float>> vr(M, std::vector<float>(nc)), vi = vr;
  std::vector<bool> warm(M, false);
  for (int64_t x = 0; x < W; ++x) {
    // G(y, x) packed: sum_dx T[dx] e_x(dx)
    std::fill(pr.begin(), pr.end(), 0.f);
    std::fill(pim.begin(), pim.end(), 0.f);
    for (int64_t dx = 0; dx < ndx; ++dx) {
      const float er = in.exr[x * ndx + dx], ei = in.exi[x * ndx + dx];
      const float* a = tr.data() + dx * npk;
      const float* b = ti.data() + dx * npk;
      for (int64_t l = 0; l < npk; ++l) {
        pr[l] += a[l] * er - b[l] * ei;
        pim[l] += a[l] * ei + b[l] * er;
      }
    }
    double frob2 = 0;
    for (int64_t c = 0, l = 0; c < nc; ++c)
      for (int64_t c2 = c; c2 < nc; ++c2, ++l) {
        // G(c, c2) = P[l], G(c2, c) = conj(P[l])
        pe.gr[c2 * nc + c] = pr[l];
        pe.gi[c2 * nc + c] = pim[l];
        pe.gr[c * nc + c2] = pr[l];
        pe.gi[c * nc + c2] = -pim[l];
        const double a2 = double(pr[l]) * pr[l] + double(pim[l]) * pim[l];
        frob2 += c == c2 ? a2 : 2 * a2;
      }
    std::vector<const float*> dr, di;
    double rest2 = frob2;  // upper bound of sum of remaining eigenvalues^2
    for (int64_t m = 0; m < M; ++m) {
      if (!(opt.warm_start && warm[m])) cold(vr[m], vi[m], m);
      // lambda_m <= sqrt(rest2): a pixel provably below the hard crop needs no accuracy.
      const float crop = (m == 0 && opt.crop_first >= 0) ? opt.crop_first : opt.crop;
      const bool below = crop > 0 && !opt.soft_crop && std::sqrt(std::max(rest2, 0.0)) <= crop;
      const int iters = below ? std::min(opt.max_iter, 3) : opt.max_iter;
      const float lam = power_iterate(pe, vr[m].data(), vi[m].data(), dr, di, iters, opt.tol);
      warm[m] = !below;
      out.eigenvalues[(m * H + y) * W + x] = lam;
      rest2 -= double(lam) * lam;
      const float wgt = crop_weight(lam, crop, opt.soft_crop);
      // phase: <u, s> real positive
      float sr = 1, si = 0;
      if (opt.fix_phase) {
        double ar = 0, ai = 0;
        for (int64_t c = 0; c < nc; ++c) {
          ar += double(in.pcr[c]) * vr[m][c] + double(in.pci[c]) * vi[m][c];
          ai += double(in.pcr[c]) * vi[m][c] - double(in.pci[c]) * vr[m][c];
        }
        const double mag = std::hypot(ar, ai);
        if (mag > 0) {
          sr = static_cast<float>(ar / mag);
          si = static_cast<float>(-ai / mag);
        }
      }
      for (int64_t c = 0; c < nc; ++c) {
        const float a = vr[m][c], b = vi[m][c];
        out.maps[((m * nc + c) * H + y) * W + x] = {wgt * (a * sr - b * si), wgt * (a * si + b * sr)};
      }
      dr.push_back(vr[m].data());
      di.push_back(vi[m].data());
    }
  }
}

}  // namespace

EspiritMaps espirit(ArrayView<const cfloat> kspace, const EspiritOptions& opt) {
  RB_ASSERT(kspace.ndim() == 3, "kspace [coil read phase]");
  const int64_t nc = kspace.dim(0), H = kspace.dim(1), W = kspace.dim(2);
  RB_CHECK(opt.kernel >= 1, "espirit: kernel size must be >= 1 (got ", opt.kernel, ")");
  RB_CHECK(opt.maps >= 1 && opt.maps <= nc, "espirit: maps must be in [1, coils=", nc,
           "] (got ", opt.maps, ")");
  RB_CHECK(opt.threshold >= 0 && opt.threshold < 1, "espirit: threshold must be in [0, 1)");
  RB_CHECK(opt.crop >= 0 && opt.crop < 1, "espirit: crop must be in [0, 1)");
  RB_CHECK(opt.crop_first < 1, "espirit: crop_first must be < 1 (< 0: = crop)");
  RB_CHECK(opt.min_windows >= 0, "espirit: min_windows must be >= 0");

  EspiritMaps out;
  out.calib = find_calibration_region(kspace, opt.calib_max);
  const CalibRegion& cr = out.calib;
  const auto [kr, kp] = kernel_extents(cr, opt);
  out.kernel = kr;
  out.kernel_phase = kp;
  // The maps output (2 x 16 x 640 x 320 complex: 52 MB) costs ~25 ms of page faults and
  // zeroing. With a second thread it is allocated during the serial eigendecomposition
  // below, which leaves that thread idle.
  const int64_t M = opt.maps;
  auto alloc_maps = [M, nc, H, W] { return Array<cfloat>({M, nc, H, W}); };
  std::future<Array<cfloat>> maps_future;
  auto start_alloc = [&] {
    if (recon_threads() <= 1) return;
    try {
      maps_future = std::async(std::launch::async, alloc_maps);
    } catch (const std::system_error&) {  // no thread to be had: allocate it inline below
    }
  };

  const Eigen::MatrixXcd A = calibration_matrix(kspace, cr, kr, kp);
  out.kernels_total = A.cols();
  // Rows of A are the windows transposed, A = U Sigma V^H, so the windows themselves lie in
  // span{conj(v_t)}: the signal-subspace kernels are conj(V).
  const Eigen::MatrixXcd V = signal_kernels(A, opt, start_alloc).conjugate();
  out.kernels_kept = V.cols();

  MapInputs in{kr, kp, nc, M, H, W, kernel_coefficients(V, kr, kp, nc), phase_table(H, kr),
               {}, {}, {}, {}};
  for (const cdouble e : phase_table(W, kp)) {
    in.exr.push_back(static_cast<float>(e.real()));
    in.exi.push_back(static_cast<float>(e.imag()));
  }
  for (const cdouble p : principal_component(kspace, cr)) {
    in.pcr.push_back(static_cast<float>(p.real()));
    in.pci.push_back(static_cast<float>(p.imag()));
  }
  out.maps = maps_future.valid() ? maps_future.get() : alloc_maps();
  out.eigenvalues = Array<float>({M, H, W});
  parallel_for(
      H, [&](int64_t y) { map_row(in, opt, y, out); },
      recon_threads(), /*chunk=*/1);  // rows cost unevenly (cropped rows stop early)
  return out;
}

void drop_empty_maps(EspiritMaps& e) {
  const int64_t M = e.maps.dim(0), nc = e.maps.dim(1), H = e.maps.dim(2), W = e.maps.dim(3);
  const int64_t per = nc * H * W;
  int64_t keep = M;
  while (keep > 1) {
    const cfloat* m = e.maps.data() + (keep - 1) * per;
    if (std::any_of(m, m + per, [](cfloat v) { return v != cfloat(0); })) break;
    --keep;
  }
  if (keep == M) return;
  Array<cfloat> maps({keep, nc, H, W});
  std::copy(e.maps.data(), e.maps.data() + keep * per, maps.data());
  Array<float> ev({keep, H, W});
  std::copy(e.eigenvalues.data(), e.eigenvalues.data() + keep * H * W, ev.data());
  e.maps = std::move(maps);
  e.eigenvalues = std::move(ev);
}

}  // namespace rb::recon
