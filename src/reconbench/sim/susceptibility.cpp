#include "reconbench/sim/susceptibility.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>

#include "reconbench/core/array.hpp"
#include "reconbench/core/parallel.hpp"
#include "reconbench/fft/fft.hpp"

namespace rb::sim {

double tissue_chi_ppm(int t) {
  switch (t) {
    case kAir: return kChiAirPpm;
    case kFat: return 0.6;
    case kBone: return -2.1;
    case kMarrow: return 0.3;
    case kVessel: return 0.45;
    case kDeepGM: return 0.1;
    case kGM: return 0.02;
    case kWM: return -0.03;
    case kCSF: return 0.0;
    default: return -0.05;  // skin, muscle, dura
  }
}

double chi_rel_air(const Fractions& f) {
  double chi = 0;
  for (int t = 1; t < kNumTissues; ++t) chi += f.f[t] * (tissue_chi_ppm(t) - kChiAirPpm);
  return chi;
}

double FieldGrid::at(double x, double y, double z) const {
  const double fi = (x - origin[0]) / spacing, fj = (y - origin[1]) / spacing,
               fk = (z - origin[2]) / spacing;
  if (!(fi >= 0 && fj >= 0 && fk >= 0 && fi < nx - 1 && fj < ny - 1 && fk < nz - 1)) return 0;
  const int64_t i = static_cast<int64_t>(fi), j = static_cast<int64_t>(fj),
                k = static_cast<int64_t>(fk);
  const double ax = fi - i, ay = fj - j, az = fk - k;
  auto v = [&](int64_t a, int64_t b, int64_t c) { return static_cast<double>(ppm[(c * ny + b) * nx + a]); };
  return (1 - az) * ((1 - ay) * ((1 - ax) * v(i, j, k) + ax * v(i + 1, j, k)) +
                     ay * ((1 - ax) * v(i, j + 1, k) + ax * v(i + 1, j + 1, k))) +
         az * ((1 - ay) * ((1 - ax) * v(i, j, k + 1) + ax * v(i + 1, j, k + 1)) +
               ay * ((1 - ax) * v(i, j + 1, k + 1) + ax * v(i + 1, j + 1, k + 1)));
}

namespace {

// chi (relative to air) of the subject on the grid, with enclosed "bone" far from other
// tissue turned into air (sinuses, ear canals); `brain` marks brain voxels (the shim region).
std::vector<float> sample_chi(const TissueAtlas& atlas, const SubjectWarp& warp, const FieldGrid& g,
                              std::vector<uint8_t>& brain) {
  const int64_t n = g.nx * g.ny * g.nz;
  std::vector<float> chi(n), bone(n);
  std::vector<uint8_t> soft(n);
  brain.assign(n, 0);
  parallel_for(g.nz, [&](int64_t k) {
    for (int64_t j = 0; j < g.ny; ++j)
      for (int64_t i = 0; i < g.nx; ++i) {
        const int64_t v = (k * g.ny + j) * g.nx + i;
        const Fractions f = sample_subject(atlas, warp, g.origin[0] + i * g.spacing,
                                           g.origin[1] + j * g.spacing, g.origin[2] + k * g.spacing);
        chi[v] = static_cast<float>(chi_rel_air(f));
        bone[v] = f.f[kBone];
        soft[v] = 1 - f.f[kAir] - f.f[kBone] > 0.5f;
        brain[v] = f.f[kGM] + f.f[kWM] + f.f[kDeepGM] + f.f[kCSF] > 0.5f;
      }
  });
  const std::vector<float> d = distance_transform(soft, g.nx, g.ny, g.nz);
  for (int64_t v = 0; v < n; ++v)
    if (bone[v] > 0.5f && d[v] * g.spacing > kAirCavityMm)
      chi[v] -= bone[v] * static_cast<float>(tissue_chi_ppm(kBone) - kChiAirPpm);
  return chi;
}

}  // namespace

void shim_second_order(FieldGrid& g, const std::vector<uint8_t>& region) {
  // Least squares over the region of the 10 terms 1, x, y, z, x^2, y^2, z^2, xy, yz, xz
  // (coordinates scaled to ~[-1, 1]), subtracted everywhere.
  auto terms = [&](int64_t i, int64_t j, int64_t k, double* t) {
    const double x = (i - 0.5 * g.nx) / (0.5 * g.nx), y = (j - 0.5 * g.ny) / (0.5 * g.ny),
                 z = (k - 0.5 * g.nz) / (0.5 * g.nz);
    const double v[10] = {1, x, y, z, x * x, y * y, z * z, x * y, y * z, x * z};
    std::copy(v, v + 10, t);
  };
  Eigen::Matrix<double, 10, 10> AtA = Eigen::Matrix<double, 10, 10>::Zero();
  Eigen::Matrix<double, 10, 1> Atb = Eigen::Matrix<double, 10, 1>::Zero();
  double t[10];
  int64_t count = 0;
  for (int64_t k = 0; k < g.nz; ++k)
    for (int64_t j = 0; j < g.ny; ++j)
      for (int64_t i = 0; i < g.nx; ++i) {
        const int64_t v = (k * g.ny + j) * g.nx + i;
        if (!region[v]) continue;
        terms(i, j, k, t);
        const Eigen::Map<const Eigen::Matrix<double, 10, 1>> a(t);
        AtA.noalias() += a * a.transpose();
        Atb.noalias() += a * static_cast<double>(g.ppm[v]);
        ++count;
      }
  if (count < 20) return;
  const Eigen::Matrix<double, 10, 1> c = AtA.ldlt().solve(Atb);
  for (int64_t k = 0; k < g.nz; ++k)
    for (int64_t j = 0; j < g.ny; ++j)
      for (int64_t i = 0; i < g.nx; ++i) {
        terms(i, j, k, t);
        double fit = 0;
        for (int q = 0; q < 10; ++q) fit += c(q) * t[q];
        g.ppm[(k * g.ny + j) * g.nx + i] -= static_cast<float>(fit);
      }
}

std::vector<float> dipole_nonlocal(const std::vector<float>& chi, int64_t nx, int64_t ny,
                                   int64_t nz, double spacing) {
  // Zero-padded (air) grid, a quarter of the box on every side, even sizes.
  auto padded = [](int64_t n) { return 2 * ((n + 2 * ((n + 3) / 4) + 1) / 2); };
  const int64_t px = padded(nx), py = padded(ny), pz = padded(nz);
  const int64_t ox = (px - nx) / 2, oy = (py - ny) / 2, oz = (pz - nz) / 2;
  Array<cfloat> a({pz, py, px});
  for (int64_t k = 0; k < nz; ++k)
    for (int64_t j = 0; j < ny; ++j)
      for (int64_t i = 0; i < nx; ++i)
        a[((k + oz) * py + j + oy) * px + i + ox] = chi[(k * ny + j) * nx + i];
  fft2c(a.view());
  fft1c(a.view(), 0);
  // Non-local kernel -kz^2 / |k|^2 (k in cycles/mm; centred index i - n/2), 0 at DC.
  parallel_for(pz, [&](int64_t k) {
    const double kz = (k - pz / 2) / (pz * spacing);
    for (int64_t j = 0; j < py; ++j) {
      const double ky = (j - py / 2) / (py * spacing);
      for (int64_t i = 0; i < px; ++i) {
        const double kx = (i - px / 2) / (px * spacing), k2 = kx * kx + ky * ky + kz * kz;
        a[(k * py + j) * px + i] *= k2 > 0 ? static_cast<float>(-kz * kz / k2) : 0.0f;
      }
    }
  });
  ifft1c(a.view(), 0);
  ifft2c(a.view());
  std::vector<float> out(static_cast<size_t>(nx * ny * nz));
  for (int64_t k = 0; k < nz; ++k)
    for (int64_t j = 0; j < ny; ++j)
      for (int64_t i = 0; i < nx; ++i)
        out[(k * ny + j) * nx + i] = a[((k + oz) * py + j + oy) * px + i + ox].real();
  return out;
}

FieldGrid nonlocal_field(const TissueAtlas& atlas, const SubjectWarp& warp,
                         std::array<double, 3> lo, std::array<double, 3> hi, double spacing) {
  FieldGrid g;
  g.spacing = spacing;
  g.origin = lo;
  g.nx = static_cast<int64_t>(std::ceil((hi[0] - lo[0]) / spacing)) + 1;
  g.ny = static_cast<int64_t>(std::ceil((hi[1] - lo[1]) / spacing)) + 1;
  g.nz = static_cast<int64_t>(std::ceil((hi[2] - lo[2]) / spacing)) + 1;
  std::vector<uint8_t> brain;
  const std::vector<float> chi = sample_chi(atlas, warp, g, brain);
  g.ppm = dipole_nonlocal(chi, g.nx, g.ny, g.nz, spacing);
  shim_second_order(g, brain);
  return g;
}

}  // namespace rb::sim
