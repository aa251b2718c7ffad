// Pathology inserts on the continuous subject frame (design/simulator.md §2.4).
//
// A lesion is a randomly perturbed ellipsoid (low-order angular harmonics) with up to three
// nested components, evaluated as smooth memberships (partial volume):
//   core  (r < r_core)          absolute tissue parameters (necrosis, solid tumour)
//   rim   (r_core < r < 1)      absolute parameters, enhancing (Gd C 0.1-0.5 mM)
//   edema (1 < r < r_edema)     host-relative change (T1, T2, PD factors), WM-preferring
// where r is the radius normalised by the perturbed surface. Host-relative lesions (infarct,
// WM lesions, probes) have only a relative component. Mass effect displaces the host
// radially (decaying over ~1-3 cm) before the atlas is sampled.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "reconbench/sim/anatomy.hpp"
#include "reconbench/sim/contrast.hpp"

namespace rb::sim {

enum class LesionType { Glioma, Metastasis, Meningioma, Infarct, WMLesion, Probe };
const char* lesion_type_name(LesionType t);  // "glioma", "metastasis", ...

struct RelativeChange {
  double pd = 1, t1 = 1, t2 = 1, gd = 0;  // multiplicative factors; gd absolute (mM)
};

struct Lesion {
  LesionType type = LesionType::Probe;
  std::array<double, 3> center{};   // mm, subject frame
  std::array<double, 3> axes{1, 1, 1};  // ellipsoid half-axes (mm)
  std::array<double, 8> harmonics{};    // angular perturbation coefficients
  // Lobes: surface radius *= 1 + sum a exp(-kappa (1 - u.v)) (unit v, amplitude a), which
  // makes lobulated tumours; edema_lobes do the same for the edema boundary (finger-like).
  std::array<std::array<double, 4>, 4> lobes{}, edema_lobes{};
  double lobe_kappa = 6, edema_kappa = 10;
  double r_core = 0, r_edema = 1;       // normalised radii
  bool has_rim = false, has_core = false;
  TissueParams core, rim;               // absolute parameters
  RelativeChange edema;                 // relative change (edema / whole relative lesion)
  bool edema_wm_only = false;           // edema weighted by host WM membership
  double mass_effect = 0;               // mm displacement at the surface
  double mass_decay = 10;               // mm

  double max_extent() const;            // mm, bounding radius of every component
  double footprint_radius() const;      // mm, including mass-effect range
  // Normalised radius of p (1 on the lesion surface) and the edema boundary there.
  double normalised_radius(double x, double y, double z, double* edema_radius = nullptr) const;
  // Displacement (mm) of the host at p (source = p - u).
  std::array<double, 3> displacement(double x, double y, double z) const;
};

struct LesionMembership {
  float core = 0, rim = 0, edema = 0;
  float total() const { return core + rim + edema; }
};
LesionMembership lesion_membership(const Lesion& l, double x, double y, double z, double pv_mm);

// Draw the lesions of one volume (1..k lesions of one main type) in the subject frame, inside
// the brain region given by the atlas and warp. `slices_z` are the slice centres (mm): lesions
// are placed so that they intersect the stack.
std::vector<Lesion> make_lesions(uint64_t seed, uint64_t index, const TissueAtlas& atlas,
                                 const SubjectWarp& warp, const std::vector<double>& slices_z,
                                 double field_t);

}  // namespace rb::sim
