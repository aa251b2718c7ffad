// Receive coil arrays and noise (design/simulator.md §2.6, §2.7).
//
// N circular loops (N = 1..64) on a helmet (an ellipsoid 10-20 mm outside the head, open at
// the face/neck): N = 2 left/right, 3..12 one ring, 13..24 two staggered rings, more a
// Fibonacci cap. Loop diameters give ~10-15 % neighbour overlap. The field of a unit current
// is Biot-Savart summed over straight segments,
//   B(r) = mu0/(4 pi) sum_k dl_k x (r - r_k) / |r - r_k|^3,
// and the receive sensitivity by reciprocity (Hoult 2000) with B0 || z is
//   s_c(r) = g_c (B_x(r) - i B_y(r)),
// g_c a complex channel gain (lognormal amplitude, uniform phase).
//
// Noise covariance Psi = G (I + beta R) G^H with R the normalised sensitivity overlaps
// <s_i, s_j>/(|s_i||s_j|) (compressed by a power so that mean |rho| and max |rho| hit their
// targets), G = diag(per-coil sigma) with max/min spread 1.3-1.8, projected to PD.
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
  std::vector<std::array<double, 6>> segs;  // [loop * segments + k] = (r_k, dl_k)

  int size() const { return static_cast<int>(loops.size()); }
  // Precompute the segment midpoints and dl vectors (called by make_coil_array).
  void prepare();
  // Raw sensitivity of coil c at point r (mm), divided by `norm`.
  std::complex<double> sensitivity(int c, double x, double y, double z) const;
  // All coils at once, out[c].
  void sensitivities(double x, double y, double z, std::complex<float>* out) const;
};

// Coil array on a helmet around the cranium: ellipsoid centred at `center` (mm, subject
// frame) with half-axes `head` (x, y: half head width/length; z: centre to vertex) plus a
// 10-20 mm standoff; loops cover the upper part (polar angle < ~110 deg).
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
