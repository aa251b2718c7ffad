// Anatomy: fuzzy tissue atlases and per-subject warps (design/simulator.md §2.2).
//
// A TissueAtlas holds, on a regular grid in world mm (x = left->right, y = posterior->
// anterior, z = inferior->superior, RAS as NIfTI/MNI), the membership fraction of every
// tissue class in each voxel (partial volume, as BrainWeb's fuzzy models), plus one extra
// channel "csf_proximity" (Gaussian-blurred CSF membership) used to model atrophy.
//
// Sources:
//  * colin27_atlas(): the Colin27 template of Debian's mricron-data (ch2, ch2bet, aal),
//    segmented once per process (GMM on ch2bet intensities inside the brain for CSF/GM/WM
//    with linear partial-volume unmixing between class means; deep GM from AAL labels;
//    outside the brain intensity classes of ch2 split by distance shells into scalp skin,
//    subcutaneous fat, skull, marrow, dura and extra-axial CSF; falx and venous sinuses
//    placed geometrically).
//  * procedural_atlas(): nested deformed ellipsoids with a folded GM ribbon, ventricles and
//    deep nuclei; for unit tests and as a fallback when the template is missing.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace rb::sim {

// Tissue classes. Air is implicit (1 - sum of the others).
enum Tissue : int {
  kAir = 0, kSkin, kFat, kMuscle, kBone, kMarrow, kDura, kCSF, kGM, kWM, kDeepGM, kVessel,
  kNumTissues
};
const char* tissue_name(int t);
inline bool is_parenchyma(int t) { return t == kGM || t == kWM || t == kDeepGM; }

// Channels stored per voxel: tissues 1..kNumTissues-1, then csf proximity.
inline constexpr int kAtlasChannels = kNumTissues;  // (kNumTissues - 1) tissues + 1 extra
inline constexpr int kProximityChannel = kNumTissues - 1;

struct Fractions {
  std::array<float, kNumTissues> f{};  // f[kAir] filled in by the sampler
  float csf_proximity = 0;
};

class TissueAtlas {
 public:
  TissueAtlas() = default;
  TissueAtlas(int64_t nx, int64_t ny, int64_t nz, double spacing, std::array<double, 3> origin);

  int64_t nx() const { return nx_; }
  int64_t ny() const { return ny_; }
  int64_t nz() const { return nz_; }
  double spacing() const { return spacing_; }
  const std::array<double, 3>& origin() const { return origin_; }  // world mm of voxel 0

  // Membership (0..1) of channel c at voxel (i, j, k).
  float get(int64_t i, int64_t j, int64_t k, int c) const {
    return data_[((k * ny_ + j) * nx_ + i) * kAtlasChannels + c] * (1.0f / 255.0f);
  }
  void set(int64_t i, int64_t j, int64_t k, int c, float v);
  // Trilinear sample at world position (mm); zero (air) outside the grid.
  Fractions sample(double x, double y, double z) const;

  // Brain (GM+WM+deep GM+CSF inside the brain) bounding box and centre, world mm.
  std::array<double, 3> brain_min, brain_max, brain_center;
  // Head (non-air membership > 0.5) bounding box, world mm.
  std::array<double, 3> head_min, head_max;
  std::string source;        // "colin27:/usr/share/..." or "procedural"
  bool procedural = false;

  void compute_brain_box();
  // Normalise so that the tissue memberships of each voxel sum to at most 1.
  void normalise();

 private:
  int64_t nx_ = 0, ny_ = 0, nz_ = 0;
  double spacing_ = 1;
  std::array<double, 3> origin_{};
  std::vector<uint8_t> data_;  // [z y x channel]
};

// Default template directory (Debian mricron-data).
std::filesystem::path default_template_dir();

// Segment the Colin27 template in `dir` (ch2.nii.gz, ch2bet.nii.gz, optionally aal.nii.gz).
// Throws UserError naming the file when it is missing or malformed.
TissueAtlas segment_colin27(const std::filesystem::path& dir);
// Procedural head phantom on a grid of `spacing` mm (deterministic for a seed).
TissueAtlas make_procedural_atlas(uint64_t seed = 1, double spacing = 1.5);

// Cached per process (computed once, thread-safe): the Colin27 atlas from `dir`
// (default_template_dir() if empty) or, if the template is missing and allow_fallback,
// the procedural phantom with a warning on stderr.
const TissueAtlas& cached_atlas(const std::filesystem::path& dir = {}, bool allow_fallback = true);
const TissueAtlas& cached_procedural_atlas();

// Cubic Hermite step: 0 for x <= lo, 1 for x >= hi, t^2 (3 - 2 t) with t = (x - lo) / (hi - lo)
// between (the simulator's soft tissue boundaries and weights).
inline double smoothstep(double x, double lo, double hi) {
  if (x <= lo) return 0;
  if (x >= hi) return 1;
  const double t = (x - lo) / (hi - lo);
  return t * t * (3 - 2 * t);
}

// 3-D Euclidean distance (in voxels) from every voxel to the nearest voxel where mask != 0
// (Felzenszwalb-Huttenlocher separable transform). mask [z y x].
std::vector<float> distance_transform(const std::vector<uint8_t>& mask, int64_t nx, int64_t ny,
                                      int64_t nz);

// Per-subject anatomy variation: similarity transform, smooth random B-spline deformation,
// atrophy (design §2.2.2). Maps subject coordinates (mm, head-centred; x left->right,
// y posterior->anterior, z inferior->superior) to atlas world coordinates.
struct SubjectWarp {
  std::array<double, 9> rot{1, 0, 0, 0, 1, 0, 0, 0, 1};  // subject <- atlas rotation R
  std::array<double, 3> scale{1, 1, 1};
  std::array<double, 3> shift{0, 0, 0};                  // mm (subject frame)
  std::array<double, 3> atlas_center{0, 0, 0};
  double atrophy = 0;            // 0..0.6: fraction of GM next to CSF turned into CSF
  double angles_deg[3] = {0, 0, 0};
  // Dense displacement field (atlas mm) on a grid over the subject box.
  double grid_spacing = 6, grid_min = -132;
  int64_t grid_n = 0;
  std::vector<float> disp;  // [z y x 3]

  // Atlas position of subject point p.
  std::array<double, 3> to_atlas(double x, double y, double z) const;
  // Subject position of an atlas point (inverse of the similarity part only).
  std::array<double, 3> from_atlas_affine(double x, double y, double z) const;
};

// deform = false gives the pure similarity transform (tests).
SubjectWarp make_subject(uint64_t seed, uint64_t subject_id, const TissueAtlas& atlas,
                         bool deform = true);

// Sample the subject's fractions at subject point p: warp, atlas sample, atrophy.
Fractions sample_subject(const TissueAtlas& atlas, const SubjectWarp& w, double x, double y,
                         double z);

}  // namespace rb::sim
