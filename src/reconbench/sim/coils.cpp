#include "reconbench/sim/coils.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <numbers>

#include "reconbench/core/error.hpp"
#include "reconbench/sim/rng.hpp"

namespace rb::sim {
namespace {

using V3 = std::array<double, 3>;
V3 cross(const V3& a, const V3& b) {
  return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}
V3 normalized(V3 a) {
  const double n = std::sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2]);
  return {a[0] / n, a[1] / n, a[2] / n};
}

}  // namespace

void CoilArray::prepare() {
  segs.clear();
  const double da = 2 * std::numbers::pi / segments;
  for (const Loop& L : loops) {
    const V3 n = L.normal;
    const V3 ref = std::abs(n[2]) < 0.9 ? V3{0, 0, 1} : V3{1, 0, 0};
    const V3 u = normalized(cross(n, ref)), v = cross(n, u);
    for (int k = 0; k < segments; ++k) {
      const double a = (k + 0.5) * da, ca = std::cos(a), sa = std::sin(a);
      std::array<double, 6> s;
      for (int d = 0; d < 3; ++d) {
        s[d] = L.center[d] + L.radius * (ca * u[d] + sa * v[d]);
        s[3 + d] = L.radius * da * (-sa * u[d] + ca * v[d]);
      }
      segs.push_back(s);
    }
  }
}

std::complex<double> CoilArray::raw(int c, double x, double y, double z) const {
  RB_ASSERT(segs.size() == loops.size() * segments, "CoilArray::prepare() not called");
  double bx = 0, by = 0;
  const auto* sg = &segs[static_cast<size_t>(c) * segments];
  for (int k = 0; k < segments; ++k) {
    const auto& s = sg[k];
    const double d0 = x - s[0], d1 = y - s[1], d2 = z - s[2];
    const double r2 = d0 * d0 + d1 * d1 + d2 * d2 + 1.0;  // 1 mm^2 softening
    const double inv = 1.0 / (r2 * std::sqrt(r2));
    // (dl x d)_x, (dl x d)_y
    bx += (s[4] * d2 - s[5] * d1) * inv;
    by += (s[5] * d0 - s[3] * d2) * inv;
  }
  const Loop& L = loops[c];
  // Reciprocity: receive sensitivity ~ B1- = (Bx - i By) (conjugate convention fixed here).
  std::complex<double> s = L.gain * std::complex<double>(bx, -by) * (L.radius / norm);
  if (wave_k != 0) {
    const double d0 = x - L.center[0], d1 = y - L.center[1], d2 = z - L.center[2];
    s *= std::polar(1.0, wave_k * std::sqrt(d0 * d0 + d1 * d1 + d2 * d2));
  }
  return s;
}

std::complex<double> CoilArray::sensitivity(int c, double x, double y, double z) const {
  if (coupling.empty()) return raw(c, x, y, z);
  std::complex<double> s = 0;
  for (int d = 0; d < size(); ++d)
    if (coupling[c * size() + d] != 0.0) s += coupling[c * size() + d] * raw(d, x, y, z);
  return s;
}

void CoilArray::sensitivities(double x, double y, double z, std::complex<float>* out) const {
  const int n = size();
  std::vector<std::complex<double>> b(n);
  for (int c = 0; c < n; ++c) b[c] = raw(c, x, y, z);
  for (int c = 0; c < n; ++c) {
    if (coupling.empty()) {
      out[c] = std::complex<float>(b[c]);
      continue;
    }
    std::complex<double> s = 0;
    for (int d = 0; d < n; ++d) s += coupling[c * n + d] * b[d];
    out[c] = std::complex<float>(s);
  }
}

namespace {
// Catmull-Rom weights of the 4 taps around t in [0, 1).
inline void catmull_rom(double t, double w[4]) {
  const double t2 = t * t, t3 = t2 * t;
  w[0] = 0.5 * (-t3 + 2 * t2 - t);
  w[1] = 0.5 * (3 * t3 - 5 * t2 + 2);
  w[2] = 0.5 * (-3 * t3 + 4 * t2 + t);
  w[3] = 0.5 * (t3 - t2);
}
}  // namespace

std::complex<float> SensitivityPlane::at(int c, double x, double y) const {
  const double fx = std::clamp((x - x0) / step, 1.0, nx - 2.0 - 1e-9),
               fy = std::clamp((y - y0) / step, 1.0, ny - 2.0 - 1e-9);
  const int64_t j = static_cast<int64_t>(fx), i = static_cast<int64_t>(fy);
  double wx[4], wy[4];
  catmull_rom(fx - j, wx);
  catmull_rom(fy - i, wy);
  std::complex<float> acc = 0;
  const std::complex<float>* base = &s[(static_cast<int64_t>(c) * ny + i - 1) * nx + j - 1];
  for (int a = 0; a < 4; ++a) {
    std::complex<float> row = 0;
    for (int b = 0; b < 4; ++b) row += static_cast<float>(wx[b]) * base[a * nx + b];
    acc += static_cast<float>(wy[a]) * row;
  }
  return acc;
}

SensitivityPlane sensitivity_plane(const CoilArray& arr, double z, double xmin, double xmax,
                                   double ymin, double ymax, double step) {
  SensitivityPlane p;
  p.step = step;
  p.x0 = xmin - 2 * step;
  p.y0 = ymin - 2 * step;
  p.nx = static_cast<int64_t>(std::ceil((xmax - xmin) / step)) + 5;
  p.ny = static_cast<int64_t>(std::ceil((ymax - ymin) / step)) + 5;
  p.coils = arr.size();
  p.s.resize(static_cast<size_t>(p.coils * p.nx * p.ny));
  std::vector<std::complex<float>> v(p.coils);
  for (int64_t i = 0; i < p.ny; ++i)
    for (int64_t j = 0; j < p.nx; ++j) {
      arr.sensitivities(p.x0 + j * step, p.y0 + i * step, z, v.data());
      for (int c = 0; c < p.coils; ++c) p.s[(c * p.ny + i) * p.nx + j] = v[c];
    }
  return p;
}

CoilArray make_coil_array(int n, uint64_t seed, uint64_t index, std::array<double, 3> head,
                          double field_t, std::array<double, 3> center) {
  RB_CHECK(n >= 1 && n <= 64, "coils: ", n, " channels requested (1..64 supported)");
  Rng rng{seed, index, kCoils};
  CoilArray arr;
  // Denser arrays sit closer to the head.
  const double standoff = n >= 24 ? rng.uniform(5, 12) : n >= 13 ? rng.uniform(7, 16) : rng.uniform(8, 20);
  const double ax = head[0] + standoff, ay = head[1] + standoff, az = head[2] + standoff;
  const V3 jitter_head = {rng.uniform(-8, 8), rng.uniform(-8, 8), rng.uniform(-8, 8)};
  const double zc = center[2];
  // (theta from +z, phi from +x) directions on the helmet; loop radius per loop.
  std::vector<std::pair<double, double>> dirs;
  std::vector<double> radii;
  const double deg = std::numbers::pi / 180;
  auto ring = [&](int m, double theta, double phi0) {
    const double circ = 2 * std::numbers::pi * std::sin(theta) * 0.5 * (ax + ay);
    for (int i = 0; i < m; ++i) {
      dirs.emplace_back(theta, phi0 + 2 * std::numbers::pi * i / m);
      radii.push_back(std::clamp(circ / m / 1.5, 22.0, 110.0));
    }
  };
  if (n == 1) {
    dirs.emplace_back(0.0, 0.0);
    radii.push_back(90);
  } else if (n == 2) {
    dirs.emplace_back(95 * deg, 0.0);
    dirs.emplace_back(95 * deg, std::numbers::pi);
    radii = {85, 85};
  } else if (n <= 5) {
    ring(n, 80 * deg, rng.uniform(0, 0.3));
  } else if (n <= 12) {
    // one loop over the vertex + one ring
    dirs.emplace_back(0.0, 0.0);
    radii.push_back(std::clamp(0.35 * (ax + ay), 30.0, 70.0));
    ring(n - 1, 82 * deg, rng.uniform(0, 0.3));
  } else if (n <= 24) {
    dirs.emplace_back(0.0, 0.0);
    radii.push_back(std::clamp(0.25 * (ax + ay), 25.0, 55.0));
    const int top = (n - 1) * 2 / 5, bottom = n - 1 - top;
    ring(bottom, 95 * deg, 0.0);
    ring(top, 48 * deg, std::numbers::pi / top);
  } else {
    // Fibonacci points on the cap theta in [0, 115 deg]
    const double cmax = std::cos(115 * deg);
    const double golden = std::numbers::pi * (3 - std::sqrt(5.0));
    const double area = 2 * std::numbers::pi * (1 - cmax) * std::pow(0.5 * (ax + az), 2);
    for (int i = 0; i < n; ++i) {
      const double ct = 1 - (i + 0.5) / n * (1 - cmax);
      dirs.emplace_back(std::acos(ct), i * golden);
      radii.push_back(std::clamp(std::sqrt(area / n) / 1.5, 18.0, 60.0));
    }
  }
  for (size_t i = 0; i < dirs.size(); ++i) {
    const auto [th, ph] = dirs[i];
    const double dx = std::sin(th) * std::cos(ph), dy = std::sin(th) * std::sin(ph), dz = std::cos(th);
    Loop L;
    L.center = {ax * dx + center[0] + jitter_head[0] + rng.uniform(-5, 5),
                ay * dy + center[1] + jitter_head[1] + rng.uniform(-5, 5),
                az * dz + zc + jitter_head[2] + rng.uniform(-5, 5)};
    // Surface normal of the ellipsoid, jittered by +-5 degrees.
    V3 nrm = normalized({dx / ax, dy / ay, dz / az});
    nrm = normalized({nrm[0] + rng.uniform(-0.087, 0.087), nrm[1] + rng.uniform(-0.087, 0.087),
                      nrm[2] + rng.uniform(-0.087, 0.087)});
    L.normal = nrm;
    L.radius = radii[i];
    L.gain = std::polar(rng.lognormal(1.0, 0.2), rng.uniform(0, 2 * std::numbers::pi));
    arr.loops.push_back(L);
  }
  arr.prepare();
  // Propagation phase (wavelength in brain tissue) and residual mutual coupling.
  Rng wrng{seed, index, kCoils, 3};
  const double lambda = field_t > 2 ? 330.0 : 540.0;  // mm
  arr.wave_k = wrng.uniform(0.4, 1.0) * 2 * std::numbers::pi / lambda;
  const double kappa = wrng.uniform(0.05, 0.2);
  arr.coupling.assign(static_cast<size_t>(n) * n, 0.0);
  for (int c = 0; c < n; ++c)
    for (int d = 0; d < n; ++d) {
      if (c == d) {
        arr.coupling[c * n + d] = 1.0;
        continue;
      }
      const auto& a = arr.loops[c];
      const auto& b = arr.loops[d];
      double dist2 = 0;
      for (int q = 0; q < 3; ++q) dist2 += (a.center[q] - b.center[q]) * (a.center[q] - b.center[q]);
      const double rr = a.radius + b.radius;
      arr.coupling[c * n + d] =
          std::polar(kappa * std::exp(-2 * dist2 / (rr * rr)), wrng.uniform(0, 2 * std::numbers::pi));
    }
  // Normalise: RSS of the sensitivities = 1 averaged over a sphere of 20 mm at the centre.
  double acc = 0;
  int cnt = 0;
  for (double px : {-20.0, 0.0, 20.0})
    for (double py : {-20.0, 0.0, 20.0})
      for (double pz : {-10.0, 10.0}) {
        std::vector<std::complex<float>> sv(arr.size());
        arr.sensitivities(px + center[0], py + center[1], pz + center[2], sv.data());
        double s2 = 0;
        for (const auto& v : sv) s2 += std::norm(v);
        acc += std::sqrt(s2);
        ++cnt;
      }
  arr.norm = acc / cnt;
  return arr;
}

std::vector<std::complex<double>> make_noise_covariance(
    const std::vector<std::complex<double>>& overlap, int n, double sigma_rms, uint64_t seed,
    uint64_t index) {
  RB_ASSERT(static_cast<int>(overlap.size()) == n * n);
  Rng rng{seed, index, kNoise, 999};
  const double target_mean = rng.uniform(0.11, 0.17), target_max = rng.uniform(0.22, 0.33);
  std::vector<std::complex<double>> rho(n * n, 0.0);
  if (n >= 2) {
    auto stats = [&](double g) {
      double mean = 0, mx = 0;
      int cnt = 0;
      for (int i = 0; i < n; ++i)
        for (int j = i + 1; j < n; ++j) {
          const double a = std::pow(std::max(1e-6, std::abs(overlap[i * n + j])), g);
          mean += a;
          mx = std::max(mx, a);
          ++cnt;
        }
      return std::pair{mean / cnt, mx};
    };
    // Power gamma so that max/mean matches the target ratio (ratio grows with gamma).
    const double want = target_max / target_mean;
    double lo = 0.02, hi = 4.0;
    for (int it = 0; it < 60; ++it) {
      const double mid = 0.5 * (lo + hi);
      const auto [m, x] = stats(mid);
      if (x / m < want) lo = mid; else hi = mid;
    }
    const double gamma = 0.5 * (lo + hi);
    const auto [m, x] = stats(gamma);
    double beta = target_mean / m;
    if (n == 2) beta = target_mean / x;
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) {
        if (i == j) continue;
        const auto o = overlap[i * n + j];
        rho[i * n + j] = std::polar(beta * std::pow(std::max(1e-6, std::abs(o)), gamma), std::arg(o));
      }
  }
  for (int i = 0; i < n; ++i) rho[i * n + i] = 1.0;
  // Project to PD: eigenvalue floor, then renormalise the diagonal to 1.
  Eigen::MatrixXcd R(n, n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) R(i, j) = rho[i * n + j];
  R = 0.5 * (R + R.adjoint()).eval();
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXcd> es(R);
  Eigen::VectorXd ev = es.eigenvalues().cwiseMax(0.05);
  R = es.eigenvectors() * ev.asDiagonal() * es.eigenvectors().adjoint();
  Eigen::VectorXd d = R.diagonal().real().cwiseSqrt();
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) R(i, j) /= d(i) * d(j);
  // Per-coil sigma with max/min spread in [1.3, 1.8], RMS = sigma_rms.
  const double spread = rng.uniform(1.2, 1.6);
  std::vector<double> u(n);
  for (auto& v : u) v = rng.uniform();
  if (n >= 2) {
    const double umin = *std::min_element(u.begin(), u.end()), umax = *std::max_element(u.begin(), u.end());
    for (auto& v : u) v = (umax > umin) ? (v - umin) / (umax - umin) : 0.5;
  }
  std::vector<double> sig(n);
  double ms = 0;
  for (int i = 0; i < n; ++i) {
    sig[i] = std::exp(u[i] * std::log(spread));
    ms += sig[i] * sig[i];
  }
  ms = std::sqrt(ms / n);
  for (auto& s : sig) s *= sigma_rms / ms;
  std::vector<std::complex<double>> psi(n * n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) psi[i * n + j] = sig[i] * R(i, j) * sig[j];
  return psi;
}

std::vector<std::complex<double>> cholesky_lower(const std::vector<std::complex<double>>& a, int n) {
  Eigen::MatrixXcd A(n, n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) A(i, j) = a[i * n + j];
  Eigen::LLT<Eigen::MatrixXcd> llt(A);
  RB_ASSERT(llt.info() == Eigen::Success, "noise covariance is not positive definite");
  Eigen::MatrixXcd L = llt.matrixL();
  std::vector<std::complex<double>> out(n * n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) out[i * n + j] = L(i, j);
  return out;
}

NoiseStats noise_stats(const std::vector<std::complex<double>>& psi, int n) {
  NoiseStats s;
  double mn = 1e300, mx = 0, sum = 0;
  int cnt = 0;
  for (int i = 0; i < n; ++i) {
    const double si = std::sqrt(psi[i * n + i].real());
    mn = std::min(mn, si);
    mx = std::max(mx, si);
    for (int j = i + 1; j < n; ++j) {
      const double r = std::abs(psi[i * n + j]) / std::sqrt(psi[i * n + i].real() * psi[j * n + j].real());
      sum += r;
      s.max_abs_rho = std::max(s.max_abs_rho, r);
      ++cnt;
    }
  }
  s.mean_abs_rho = cnt ? sum / cnt : 0;
  s.sigma_spread = mx / mn;
  return s;
}

}  // namespace rb::sim
