// Receive coil arrays and noise (design/simulator.md §2.6, §2.7).
//
// N circular loops (N = 1..64) on a helmet (an ellipsoid outside the head, open at the
// face/neck): N = 2 left/right, 3..12 one ring, 13..24 two staggered rings, more a
// Fibonacci cap. Loop diameters give ~10-15 % neighbour overlap. The head-to-loop distance
// is drawn per subject, closer for denser arrays (tight 24-64-channel helmets 5-12 mm, 13-23
// channels 7-16 mm, fewer 8-20 mm). The field of a unit current is Biot-Savart summed over
// straight segments,
//   B(r) = mu0/(4 pi) sum_k dl_k x (r - r_k) / |r - r_k|^3,
// and the raw receive sensitivity by reciprocity (Hoult 2000) with B0 || z is
//   b_c(r) = g_c (B_x(r) - i B_y(r)) e^{i k_w |r - r_c|},
// g_c a complex channel gain (lognormal amplitude, uniform phase), e^{i k_w |r - r_c|} the
// propagation phase in tissue that quasi-static Biot-Savart misses (k_w = 2 pi / lambda,
// lambda ~ 33 cm at 128 MHz and ~ 54 cm at 64 MHz in brain tissue, scaled per subject by
// 0.4-1; r_c the loop centre). Residual mutual coupling after decoupling mixes channels:
//   s_c = sum_d M_cd b_d,  M = I + kappa K,  K_cd = exp(-2 (|r_c - r_d| / (a_c + a_d))^2) e^{i theta_cd}
// (kappa 0.05-0.2 per array, theta_cd uniform; Roemer 1990), so that maps of neighbouring
// channels share lobes as measured arrays do.
//
// Noise covariance Psi = G (I + beta R) G^H with R the normalised sensitivity overlaps
// <s_i, s_j>/(|s_i||s_j|) (compressed by a power so that mean |rho| and max |rho| hit their
// targets: mean 0.11-0.17, max 0.22-0.33), G = diag(per-coil sigma) with max/min spread
// 1.2-1.6, projected to PD. The targets are the ranges measured on public real multi-coil
// brain data with realism.hpp (kRealRanges; design/simulator.md's 8-channel figures, mean
// |rho| ~0.2, max 0.35-0.45, spread 1.3-1.8, sit at or above their top end).
#pragma once

#include <array>
#include <complex>
#include <cstdint>
#include <vector>

#include "reconbench/core/array.hpp"

namespace rb::sim {

struct Loop {
  std::array<double, 3> center;  // mm, subject frame
  std::array<double, 3> normal;  // unit
  double radius = 40;            // mm
  std::complex<double> gain{1, 0};
};

struct CoilArray {
  std::vector<Loop> loops;
  int segments = 48;
  double norm = 1;  // sensitivities are divided by this (RSS ~ 1 near the brain centre)
  double wave_k = 0;  // propagation phase (rad/mm); 0 = quasi-static
  std::vector<std::complex<double>> coupling;  // M [c d]; empty = identity
  std::vector<std::array<double, 6>> segs;  // [loop * segments + k] = (r_k, dl_k)

  int size() const { return static_cast<int>(loops.size()); }
  // Precompute the segment midpoints and dl vectors (called by make_coil_array).
  void prepare();
  // Uncoupled sensitivity b_c of coil c at point r (mm), divided by `norm`.
  std::complex<double> raw(int c, double x, double y, double z) const;
  // Coupled sensitivity s_c (= raw when `coupling` is empty).
  std::complex<double> sensitivity(int c, double x, double y, double z) const;
  // All coils at once, out[c].
  void sensitivities(double x, double y, double z, std::complex<float>* out) const;
};

// Sensitivities of all coils on a regular grid of one axial plane, interpolated bicubically
// (Catmull-Rom) at the fine synthesis pixels: Biot-Savart is smooth inside the head, and
// evaluating it at every fine pixel cost ~1 s per full-profile slice.
struct SensitivityPlane {
  double x0 = 0, y0 = 0, step = 1;  // mm: grid point (i, j) at (x0 + j step, y0 + i step)
  int64_t nx = 0, ny = 0;
  int coils = 0;
  std::vector<std::complex<float>> s;  // [coil y x]
  std::complex<float> at(int c, double x, double y) const;
};
SensitivityPlane sensitivity_plane(const CoilArray& arr, double z, double xmin, double xmax,
                                   double ymin, double ymax, double step);

// Coil array on a helmet around the cranium: ellipsoid centred at `center` (mm, subject
// frame) with half-axes `head` (x, y: half head width/length; z: centre to vertex) plus the
// standoff; loops cover the upper part (polar angle < ~110 deg). Coupling and propagation
// phase as above (field_t sets the wavelength).
CoilArray make_coil_array(int n, uint64_t seed, uint64_t index, std::array<double, 3> head,
                          double field_t, std::array<double, 3> center = {0, 0, 0});


// Correlated noise covariance from the coil overlap matrix R (C x C, Hermitian, unit
// diagonal). sigma_mean: RMS per-coil noise SD. Returns Psi (C x C), row-major.
std::vector<std::complex<double>> make_noise_covariance(
    const std::vector<std::complex<double>>& overlap, int ncoils, double sigma_rms,
    uint64_t seed, uint64_t index);

// Lower Cholesky factor of a Hermitian PD matrix (row-major).
std::vector<std::complex<double>> cholesky_lower(const std::vector<std::complex<double>>& a, int n);

// Correlation statistics of a covariance: mean and max |rho_ij| over i < j, and the
// max/min ratio of the per-coil SDs.
struct NoiseStats {
  double mean_abs_rho = 0, max_abs_rho = 0, sigma_spread = 1;
};
NoiseStats noise_stats(const std::vector<std::complex<double>>& psi, int n);

}  // namespace rb::sim
