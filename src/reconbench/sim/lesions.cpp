#include "reconbench/sim/lesions.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "reconbench/sim/rng.hpp"

namespace rb::sim {

const char* lesion_type_name(LesionType t) {
  switch (t) {
    case LesionType::Glioma: return "glioma";
    case LesionType::Metastasis: return "metastasis";
    case LesionType::Meningioma: return "meningioma";
    case LesionType::Infarct: return "infarct";
    case LesionType::WMLesion: return "wm_lesion";
    case LesionType::Probe: return "probe";
  }
  return "?";
}

double Lesion::max_extent() const {
  double hs = 1, es = 1;
  for (double h : harmonics) hs += std::abs(h);
  for (const auto& l : lobes) hs += std::max(0.0, l[3]);
  for (const auto& l : edema_lobes) es += std::max(0.0, l[3]);
  return std::max({axes[0], axes[1], axes[2]}) * std::max(1.0, r_edema * es) * hs + 2;
}

double Lesion::footprint_radius() const {
  return max_extent() + (mass_effect > 0 ? 3 * mass_decay + 2 : 0);
}

double Lesion::normalised_radius(double x, double y, double z, double* edema_radius) const {
  const double dx = (x - center[0]) / axes[0], dy = (y - center[1]) / axes[1],
               dz = (z - center[2]) / axes[2];
  const double r = std::sqrt(dx * dx + dy * dy + dz * dz);
  if (r < 1e-9) {
    if (edema_radius) *edema_radius = r_edema;
    return 0;
  }
  const double ux = dx / r, uy = dy / r, uz = dz / r;
  auto lobe_sum = [&](const std::array<std::array<double, 4>, 4>& lb, double kappa) {
    double s = 0;
    for (const auto& l : lb)
      if (l[3] != 0) s += l[3] * std::exp(-kappa * (1 - (ux * l[0] + uy * l[1] + uz * l[2])));
    return s;
  };
  if (edema_radius) *edema_radius = r_edema * std::max(0.5, 1 + lobe_sum(edema_lobes, edema_kappa));
  // Low-order angular perturbation of the surface radius.
  const double h = 1 + harmonics[0] * ux + harmonics[1] * uy + harmonics[2] * uz +
                   harmonics[3] * (ux * uy) + harmonics[4] * (uy * uz) + harmonics[5] * (ux * uz) +
                   harmonics[6] * (ux * ux - uy * uy) + harmonics[7] * (3 * uz * uz - 1) +
                   lobe_sum(lobes, lobe_kappa);
  return r / std::max(0.3, h);
}

std::array<double, 3> Lesion::displacement(double x, double y, double z) const {
  if (mass_effect <= 0) return {0, 0, 0};
  const double dx = x - center[0], dy = y - center[1], dz = z - center[2];
  const double d = std::sqrt(dx * dx + dy * dy + dz * dz);
  if (d < 1e-6) return {0, 0, 0};
  const double R = std::cbrt(axes[0] * axes[1] * axes[2]);
  double f;
  if (d < R)
    f = d / R;
  else
    f = std::exp(-(d - R) / mass_decay) * (1 - smoothstep(d, R + 2 * mass_decay, R + 3 * mass_decay));
  const double u = mass_effect * f / d;
  return {u * dx, u * dy, u * dz};
}

LesionMembership lesion_membership(const Lesion& l, double x, double y, double z, double pv) {
  LesionMembership m;
  const double dx = x - l.center[0], dy = y - l.center[1], dz = z - l.center[2];
  const double ext = l.max_extent();
  if (dx * dx + dy * dy + dz * dz > ext * ext) return m;
  double re = l.r_edema;
  const double r = l.normalised_radius(x, y, z, &re);
  const double scale = std::cbrt(l.axes[0] * l.axes[1] * l.axes[2]);
  const double w = std::max(0.05, pv / scale);  // partial-volume width in normalised units
  const double in_surface = 1 - smoothstep(r, 1 - w / 2, 1 + w / 2);
  const double in_core = l.has_core ? 1 - smoothstep(r, l.r_core - w / 2, l.r_core + w / 2) : 0;
  const double in_edema = l.r_edema > 1 ? 1 - smoothstep(r, re - 2 * w, re + 2 * w) : 0;
  if (l.has_rim) {
    m.core = static_cast<float>(in_core);
    m.rim = static_cast<float>(in_surface - in_core);
    m.edema = static_cast<float>(std::max(0.0, in_edema - in_surface));
  } else if (l.has_core) {
    m.core = static_cast<float>(in_surface);
    m.edema = static_cast<float>(std::max(0.0, in_edema - in_surface));
  } else {
    // purely relative lesion
    m.edema = static_cast<float>(std::max(in_surface, in_edema));
  }
  return m;
}

namespace {

// The lesion draws of one subject, in the order of the subject's Rng stream (the order of
// the calls below is part of the dataset: same seed, same lesions).
class LesionDrawer {
 public:
  LesionDrawer(uint64_t seed, uint64_t index, const TissueAtlas& atlas, const SubjectWarp& warp,
               double zmin, double zmax, double field_t)
      : rng_{seed, index, kLesion}, atlas_(atlas), warp_(warp), zmin_(zmin), zmax_(zmax),
        base_(base_tissue_params(field_t)) {}

  Rng& rng() { return rng_; }

  Lesion make(LesionType t) {
    Lesion l;
    l.type = t;
    switch (t) {
      case LesionType::Glioma: glioma(l); break;
      case LesionType::Metastasis: metastasis(l); break;
      case LesionType::Meningioma: meningioma(l); break;
      case LesionType::Infarct: infarct(l); break;
      case LesionType::WMLesion: wm_lesion(l); break;
      case LesionType::Probe: probe(l); break;
    }
    return l;
  }

 private:
  static bool in_wm(const Fractions& f) { return f.f[kWM] > 0.8f; }
  static bool at_junction(const Fractions& f) { return f.f[kGM] > 0.3f && f.f[kWM] > 0.3f; }
  static bool cortex_surface(const Fractions& f) { return f.f[kCSF] > 0.3f && f.f[kGM] > 0.2f; }
  static bool in_parenchyma(const Fractions& f) {
    return f.f[kGM] + f.f[kWM] + f.f[kDeepGM] > 0.9f;
  }

  // Candidate position: a random subject point whose atlas host satisfies pred (4000 tries,
  // then a point near the centre).
  std::array<double, 3> find_point(bool (*pred)(const Fractions&)) {
    for (int tries = 0; tries < 4000; ++tries) {
      const double x = rng_.uniform(-60, 60), y = rng_.uniform(-80, 70), z = rng_.uniform(zmin_, zmax_);
      const Fractions f = sample_subject(atlas_, warp_, x, y, z);
      if (pred(f)) return {x, y, z};
    }
    return {rng_.uniform(-20, 20), rng_.uniform(-20, 20), 0.5 * (zmin_ + zmax_)};
  }
  std::array<double, 8> rand_harmonics(double amp) {
    std::array<double, 8> h{};
    for (auto& v : h) v = rng_.uniform(-amp, amp);
    return h;
  }
  // Four lobes: unit direction (3) and amplitude in [lo, hi).
  std::array<std::array<double, 4>, 4> rand_lobes(double lo, double hi) {
    std::array<std::array<double, 4>, 4> lb{};
    for (auto& l : lb) {
      double n = 0;
      for (int d = 0; d < 3; ++d) {
        l[d] = rng_.normal();
        n += l[d] * l[d];
      }
      n = std::sqrt(n);
      for (int d = 0; d < 3; ++d) l[d] /= n;
      l[3] = rng_.uniform(lo, hi);
    }
    return lb;
  }

  void glioma(Lesion& l) {
    auto& rng = rng_;
    const double r = rng.uniform(12, 25);
    l.center = find_point(in_wm);
    l.axes = {r * rng.uniform(0.85, 1.15), r * rng.uniform(0.85, 1.15), r * rng.uniform(0.85, 1.15)};
    l.harmonics = rand_harmonics(0.15);
    l.lobes = rand_lobes(-0.15, 0.35);
    l.lobe_kappa = rng.uniform(3, 8);
    l.edema_lobes = rand_lobes(-0.3, 0.8);
    l.edema_kappa = rng.uniform(6, 14);
    l.has_core = l.has_rim = true;
    l.r_core = 1 - rng.uniform(3, 5) / r;
    l.core = {0.9, rng.uniform(2000, 3000), rng.uniform(300, 800), 0.0, 0};
    l.rim = {0.82, base_[kGM].t1, rng.uniform(100, 140), rng.uniform(0.2, 0.5), 0};
    l.r_edema = rng.uniform(1.4, 1.9);
    l.edema = {1.1, rng.uniform(1.2, 1.4), rng.uniform(1.5, 2.0), 0};
    l.edema_wm_only = true;
    l.mass_effect = std::min(0.3 * r, 7.0);
    l.mass_decay = rng.uniform(8, 14);
  }
  void metastasis(Lesion& l) {
    auto& rng = rng_;
    const double r = rng.uniform(2.5, 10);
    l.center = find_point(at_junction);
    l.axes = {r, r * rng.uniform(0.9, 1.1), r * rng.uniform(0.9, 1.1)};
    l.harmonics = rand_harmonics(0.08);
    l.edema_lobes = rand_lobes(-0.2, 0.6);
    const bool ring = r > 5 && rng.bernoulli(0.6);
    l.has_rim = true;
    l.has_core = ring;
    l.r_core = ring ? 1 - rng.uniform(1.5, 3) / r : 0;
    l.core = {0.9, 2500, 400, 0, 0};
    l.rim = {0.8, base_[kGM].t1 * 1.05, 110, rng.uniform(0.15, 0.4), 0};
    l.r_edema = rng.bernoulli(0.3) ? 1.0 : rng.uniform(1.6, 2.6);  // some: T1POST only
    l.edema = {1.1, 1.3, 1.8, 0};
    l.edema_wm_only = true;
    l.mass_effect = r > 6 ? 0.2 * r : 0;
    l.mass_decay = 8;
  }
  void meningioma(Lesion& l) {
    auto& rng = rng_;
    const double r = rng.uniform(10, 20);
    auto c = find_point(cortex_surface);
    // push outward from the head centre to sit on the dura
    const double n = std::sqrt(c[0] * c[0] + c[1] * c[1] + c[2] * c[2]) + 1e-9;
    for (int d = 0; d < 3; ++d) c[d] += c[d] / n * 0.4 * r;
    l.center = c;
    l.axes = {r, r * rng.uniform(0.8, 1.1), r * rng.uniform(0.7, 1.0)};
    l.harmonics = rand_harmonics(0.06);
    l.lobes = rand_lobes(-0.05, 0.15);
    l.has_core = true;
    l.core = {0.8, base_[kGM].t1, base_[kGM].t2 * rng.uniform(0.95, 1.15), rng.uniform(0.3, 0.5), 0};
    l.r_edema = 1;
    l.mass_effect = std::min(0.35 * r, 6.0);
    l.mass_decay = 10;
  }
  void infarct(Lesion& l) {
    auto& rng = rng_;
    const double r = rng.uniform(12, 22);
    l.center = find_point(cortex_surface);
    l.axes = {r * rng.uniform(0.6, 1.0), r, r * rng.uniform(0.6, 1.0)};
    l.harmonics = rand_harmonics(0.2);
    l.lobes = rand_lobes(-0.2, 0.4);
    l.lobe_kappa = rng.uniform(2, 5);
    l.edema = {1.05, rng.uniform(1.1, 1.3), rng.uniform(1.3, 1.6), rng.bernoulli(0.4) ? 0.1 : 0.0};
  }
  void wm_lesion(Lesion& l) {
    auto& rng = rng_;
    const double r = rng.uniform(1.5, 7.5);
    l.center = find_point(in_wm);
    l.axes = {r * rng.uniform(0.6, 1.0), r * rng.uniform(1.0, 1.6), r * rng.uniform(0.8, 1.4)};
    l.harmonics = rand_harmonics(0.1);
    l.edema = {rng.uniform(1.05, 1.15), rng.uniform(1.2, 1.6), rng.uniform(1.5, 2.5),
               rng.bernoulli(0.25) ? rng.uniform(0.05, 0.2) : 0.0};
    l.edema_wm_only = true;
  }
  void probe(Lesion& l) {
    auto& rng = rng_;
    const double r = rng.uniform(0.8, 1.8);
    l.center = find_point(in_parenchyma);
    l.axes = {r, r, r * rng.uniform(1, 2.5)};
    const double c = (rng.bernoulli(0.5) ? 1 : -1) * rng.uniform(0.1, 0.3);
    l.edema = {1 + c, 1, 1, 0};
  }

  Rng rng_;
  const TissueAtlas& atlas_;
  const SubjectWarp& warp_;
  double zmin_, zmax_;
  std::array<TissueParams, kNumTissues> base_;
};

}  // namespace

std::vector<Lesion> make_lesions(uint64_t seed, uint64_t index, const TissueAtlas& atlas,
                                 const SubjectWarp& warp, const std::vector<double>& slices_z,
                                 double field_t) {
  const double zlo = *std::min_element(slices_z.begin(), slices_z.end());
  const double zhi = *std::max_element(slices_z.begin(), slices_z.end());
  LesionDrawer draw(seed, index, atlas, warp, zlo, std::max(zlo + 1, zhi), field_t);
  Rng& rng = draw.rng();
  const double pick = rng.uniform();
  const LesionType main = pick < 0.22 ? LesionType::Glioma
                          : pick < 0.42 ? LesionType::Metastasis
                          : pick < 0.55 ? LesionType::Meningioma
                          : pick < 0.70 ? LesionType::Infarct
                          : pick < 0.90 ? LesionType::WMLesion
                                        : LesionType::Probe;
  int count = 1;
  if (main == LesionType::Metastasis) count = static_cast<int>(rng.integer(1, 5));
  if (main == LesionType::WMLesion) count = static_cast<int>(rng.integer(3, 10));
  if (main == LesionType::Probe) count = static_cast<int>(rng.integer(2, 6));
  std::vector<Lesion> out;
  for (int i = 0; i < count; ++i) out.push_back(draw.make(main));
  // Sometimes an extra probe feature anywhere (false-negative adversarial features).
  if (main != LesionType::Probe && rng.bernoulli(0.3)) out.push_back(draw.make(LesionType::Probe));
  return out;
}

}  // namespace rb::sim
