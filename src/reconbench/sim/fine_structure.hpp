// Sub-voxel detail the 1 mm template lacks (issue 17), drawn per (seed, subject, slice) on
// the fine synthesis grid [read phase] of one slice:
//
//  * Tissue texture: multiplicative band-limited Gaussian random fields, one for the brain
//    parenchyma (GM, WM, deep GM) and one for the extracranial soft tissue (skin, fat,
//    muscle, marrow), each with the power spectrum
//      P(k) ~ (k^2 + k0^2)^(-beta/2),  k0 = 1 / (15 mm),  k up to the fine grid's Nyquist,
//    scaled to unit variance: s(r) = sum_t f_t s_t (1 + a_g n_g(r)) with a_g the group's
//    relative texture amplitude (a few %, Subject::texture_*).
//  * Folding detail: the CSF/GM and GM/WM partitions of the brain are sharpened towards
//    sub-voxel boundaries, perturbed by a high-frequency random field (correlation ~1 mm):
//      u' = (1 - alpha) u + alpha smoothstep(u + eps n_fold, 1/2 - w, 1/2 + w)
//    for u = CSF / (CSF + GM + WM) and u = GM / (GM + WM), so that the template's ~2 mm
//    partial-volume ramps become irregular sharp boundaries at the fine-grid scale (the
//    acquisition's partial volume then comes from the k-space crop, not from the template).
//  * Small vessels: short random-walk polylines of capsules (radius 0.2-0.7 mm) in the
//    sulci (sulcal CSF next to GM), a few thin radial medullary veins in the white matter,
//    and through-plane vessels (discs); arteries (flow void in spin echoes) or veins (slow flow,
//    deoxygenated: shorter T2, chi +0.45 ppm; enhancing after gadolinium). Each vessel has a
//    flow phase (velocity x first gradient moment), uniform in +-kMaxFlowPhase.
//  * Perivascular spaces: a few CSF-filled dots and short lines (radius 0.25-0.7 mm, length
//    <= 5 mm) in the white matter and deep grey matter, more with atrophy (age).
//
// Memberships are rasterised with a linear partial-volume ramp one fine pixel wide
// (capsules thinner than a fine pixel keep their area).
#pragma once

#include <cstdint>
#include <vector>

#include "reconbench/sim/anatomy.hpp"

namespace rb::sim {

inline constexpr double kMaxFlowPhase = 1.2;  // rad

// Per-subject amplitudes (drawn once per subject).
struct FineStructureParams {
  double texture_brain = 0.05, texture_other = 0.09;  // relative SD
  double texture_beta = 2.5;                          // spectral exponent
  double fold_eps = 0.15, fold_alpha = 0.8, fold_width = 0.2;
  double vessel_density = 1.0, pvs_density = 1.0;     // multipliers of the per-slice counts
  double phase_sd = 0.05;                             // fine random phase (rad)
};
FineStructureParams draw_fine_structure(uint64_t seed, uint64_t subject);

// Fine-grid geometry of one slice: pixel (i, j) is at y = (h/2 - i) dx, x = (w/2 - j) dx
// (subject mm), the same convention as the synthesis loop.
struct FineGrid {
  int64_t h = 0, w = 0;
  double dx = 1;
};

enum VesselKind : uint8_t { kNoVessel = 0, kArtery = 1, kVein = 2 };

struct SliceDetail {
  FineGrid grid;
  std::vector<float> tex_brain, tex_other;  // [h w] unit-variance fields
  std::vector<float> fold_csf, fold_wm;     // [h w] unit-variance high-frequency fields
  std::vector<float> phase;                 // [h w] fine random phase (rad)
  std::vector<float> vessel;                // [h w] vessel membership 0..1
  std::vector<uint8_t> vessel_kind;         // [h w] VesselKind of the strongest vessel
  std::vector<float> flow_phase;            // [h w] flow phase of that vessel (rad)
  std::vector<float> pvs;                   // [h w] perivascular-space membership 0..1
  int vessels = 0, pvs_count = 0;           // drawn counts (truth parameters)
};

// Draw the detail of slice `slice` at z (mm). Deterministic for (seed, subject, slice).
SliceDetail make_slice_detail(const FineStructureParams& p, const TissueAtlas& atlas,
                              const SubjectWarp& warp, const FineGrid& grid, double z,
                              uint64_t seed, uint64_t subject, uint64_t slice);

// Gaussian random field [h w] with spectrum (k^2 + k0^2)^(-beta/2) (k, k0 in cycles/mm),
// unit sample variance; two independent fields per call (real and imaginary parts of one
// complex field).
void random_field_pair(int64_t h, int64_t w, double dx, double k0, double beta, uint64_t seed,
                       std::vector<float>& a, std::vector<float>& b);

// Sharpen the CSF/GM/WM partition of f towards sub-voxel boundaries (see the header note).
void sharpen_boundaries(Fractions& f, const FineStructureParams& p, float fold_csf, float fold_wm);

}  // namespace rb::sim
