// Susceptibility-driven off-resonance (design/simulator.md §2.5, phi_B0).
//
// With B0 || z, the relative field perturbation of a susceptibility distribution chi (ppm)
// is, in k-space (Salomir 2003; Marques & Bowtell 2005; Lorentz sphere included):
//   dB/B0 (k) = (1/3 - kz^2 / |k|^2) chi(k),   dB/B0 (k = 0) = 0.
// It is split exactly into a local term and a non-local one,
//   dB/B0 (r) = chi(r) / 3  +  F^-1[ -kz^2 / |k|^2 chi(k) ](r),
// the local term evaluated on the fine synthesis grid (sub-millimetre vessels and tissue
// boundaries keep their fine phase) and the non-local term on a coarse 3-D grid over the
// subject's head (it is smooth in-plane: -kz^2/|k|^2 vanishes for in-plane variation).
//
// chi is taken relative to air (air = 0, so the grid's zero padding is air, as around a real
// head); tissue values relative to water (Schenck 1996; Hopkins & Wehrli 1997 bone;
// Weisskoff & Kiihne 1992 deoxyhaemoglobin; Duyn 2007 grey/white matter; Haacke 2005 iron):
// water/CSF 0, air +9.41, fat +0.6, cortical bone -2.1, marrow +0.3, venous blood +0.45,
// deep grey matter (iron) +0.1, grey matter +0.02, white matter -0.03, soft tissue -0.05.
// The template labels sinus and ear-canal air "bone" (both are dark on T1); bone voxels
// farther than kAirCavityMm from any other tissue are taken as air cavities.
//
// The scanner shims the field over the brain: a least-squares second-order polynomial is
// removed from the non-local term, leaving what shimming cannot (near sinuses and ear
// canals, at the scalp). Phase: phi_B0 = 2 pi gamma_bar B0 (dB/B0) TE_eff, gamma_bar =
// 42.577 MHz/T; spin echoes refocus static dephasing, so TE_eff is a small residual
// (Sequence::te_b0).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "reconbench/sim/anatomy.hpp"

namespace rb::sim {

inline constexpr double kGammaBarMHzPerT = 42.577478;
inline constexpr double kChiAirPpm = 9.41;      // air relative to water
inline constexpr double kAirCavityMm = 4.0;
// Chemical shift of the main fat (methylene) peak below water (ppm): fat's off-resonance
// phase is -kFatShiftPpm x the B0 phase per ppm (in/out of phase with water by TE).
inline constexpr double kFatShiftPpm = 3.4;

// chi of tissue t relative to water (ppm).
double tissue_chi_ppm(int t);
// chi relative to air of a fraction vector (air contributes 0).
double chi_rel_air(const Fractions& f);

// Non-local field term on a regular grid in the subject frame.
struct FieldGrid {
  std::array<double, 3> origin{};  // mm, voxel (0, 0, 0)
  double spacing = 3;              // mm
  int64_t nx = 0, ny = 0, nz = 0;
  std::vector<float> ppm;          // [z y x] dB/B0 non-local term (ppm)
  // Trilinear value at a subject point (mm); 0 outside the grid.
  double at(double x, double y, double z) const;
};

// Non-local term -F^-1[kz^2/|k|^2 chi(k)] of chi [z y x] (relative to air) on a grid of
// `spacing` mm, zero-padded by a quarter of the box on every side against wrap-around.
std::vector<float> dipole_nonlocal(const std::vector<float>& chi, int64_t nx, int64_t ny,
                                   int64_t nz, double spacing);

// Subtract the least-squares second-order polynomial over the voxels where region != 0
// (a scanner's linear + second-order shim over the brain).
void shim_second_order(FieldGrid& g, const std::vector<uint8_t>& region);

// Non-local term over the box [lo, hi] (subject mm) with `spacing`, shimmed over the brain
// (shim_second_order). The local term's per-tissue constants are not shimmed (a constant
// per tissue; water and soft tissue differ by < 0.1 ppm).
FieldGrid nonlocal_field(const TissueAtlas& atlas, const SubjectWarp& warp,
                         std::array<double, 3> lo, std::array<double, 3> hi, double spacing);

}  // namespace rb::sim
