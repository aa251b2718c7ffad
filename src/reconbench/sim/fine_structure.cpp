#include "reconbench/sim/fine_structure.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "reconbench/core/array.hpp"
#include "reconbench/fft/fft.hpp"
#include "reconbench/sim/rng.hpp"

namespace rb::sim {
namespace {

constexpr double kPi = std::numbers::pi;
constexpr double kTextureK0 = 1.0 / 15;  // cycles/mm
constexpr double kFoldK0 = 0.5, kFoldBeta = 3.0;
constexpr double kPhaseK0 = 0.1, kPhaseBeta = 3.0;

// Sub-streams of a slice's detail (the last id of each Rng).
enum DetailStream : uint64_t { kTexture = 1, kFold, kPhaseField, kCortical, kMedullary, kDots, kPvs };

struct Capsule {
  double x0, y0, x1, y1, r;  // mm
  VesselKind kind;
  float flow;
};

// Distance (mm) from p to the segment [a, b].
double segment_distance(double px, double py, const Capsule& c) {
  const double vx = c.x1 - c.x0, vy = c.y1 - c.y0, l2 = vx * vx + vy * vy;
  double t = l2 > 0 ? ((px - c.x0) * vx + (py - c.y0) * vy) / l2 : 0;
  t = std::clamp(t, 0.0, 1.0);
  const double dx = px - (c.x0 + t * vx), dy = py - (c.y0 + t * vy);
  return std::sqrt(dx * dx + dy * dy);
}

// Membership max(m, ramp) over the capsule's bounding box; for vessels also the kind and
// flow phase of the strongest capsule at each pixel.
void rasterise(const Capsule& c, const FineGrid& g, std::vector<float>& member,
               std::vector<uint8_t>* kind, std::vector<float>* flow) {
  const double pad = c.r + g.dx;
  const double xmin = std::min(c.x0, c.x1) - pad, xmax = std::max(c.x0, c.x1) + pad;
  const double ymin = std::min(c.y0, c.y1) - pad, ymax = std::max(c.y0, c.y1) + pad;
  // x = (w/2 - j) dx  ->  j = w/2 - x/dx; y likewise with i.
  const int64_t j0 = std::max<int64_t>(0, static_cast<int64_t>(std::floor(g.w / 2 - xmax / g.dx)));
  const int64_t j1 = std::min<int64_t>(g.w - 1, static_cast<int64_t>(std::ceil(g.w / 2 - xmin / g.dx)));
  const int64_t i0 = std::max<int64_t>(0, static_cast<int64_t>(std::floor(g.h / 2 - ymax / g.dx)));
  const int64_t i1 = std::min<int64_t>(g.h - 1, static_cast<int64_t>(std::ceil(g.h / 2 - ymin / g.dx)));
  for (int64_t i = i0; i <= i1; ++i)
    for (int64_t j = j0; j <= j1; ++j) {
      // Linear ramp one pixel wide; capsules thinner than a pixel keep their area (their
      // membership scaled by 2r/dx) instead of filling it.
      const double d = segment_distance((g.w / 2 - j) * g.dx, (g.h / 2 - i) * g.dx, c);
      const double thin = std::min(1.0, 2 * c.r / g.dx), rr = std::max(c.r, 0.5 * g.dx);
      const float m = static_cast<float>(thin * std::clamp((rr - d) / g.dx + 0.5, 0.0, 1.0));
      const int64_t p = i * g.w + j;
      if (m <= member[p]) continue;
      member[p] = m;
      if (kind) (*kind)[p] = c.kind;
      if (flow) (*flow)[p] = c.flow;
    }
}

// A random in-brain point (subject mm) where `accept` holds, or false after `tries`.
template <class F>
bool find_point(Rng& rng, const TissueAtlas& atlas, const SubjectWarp& warp, double z, F accept,
                double& x, double& y, int tries = 40) {
  for (int t = 0; t < tries; ++t) {
    x = rng.uniform(-85, 85);
    y = rng.uniform(-110, 110);
    if (accept(sample_subject(atlas, warp, x, y, z))) return true;
  }
  return false;
}

int count(Rng& rng, double lo, double hi, double density) {
  return static_cast<int>(std::lround(rng.uniform(lo, hi) * density));
}

}  // namespace

FineStructureParams draw_fine_structure(uint64_t seed, uint64_t subject) {
  Rng rng{seed, subject, kFine};
  FineStructureParams p;
  p.texture_brain = rng.uniform(0.04, 0.09);
  p.texture_other = rng.uniform(0.06, 0.14);
  p.texture_beta = rng.uniform(2.0, 3.0);
  p.fold_eps = rng.uniform(0.1, 0.2);
  p.fold_alpha = rng.uniform(0.5, 0.85);
  p.fold_width = rng.uniform(0.15, 0.25);
  p.vessel_density = rng.uniform(0.7, 1.3);
  p.pvs_density = rng.uniform(0.5, 1.5);
  p.phase_sd = rng.uniform(0.08, 0.16);
  return p;
}

void random_field_pair(int64_t h, int64_t w, double dx, double k0, double beta, uint64_t seed,
                       std::vector<float>& a, std::vector<float>& b) {
  Rng rng(seed);
  Array<cfloat> k({h, w});
  for (int64_t i = 0; i < h; ++i) {
    const double ky = (i - h / 2) / (h * dx);
    for (int64_t j = 0; j < w; ++j) {
      const double kx = (j - w / 2) / (w * dx);
      const double amp = std::pow(kx * kx + ky * ky + k0 * k0, -beta / 4);
      const double re = rng.normal(), im = rng.normal();
      k[i * w + j] = cfloat(static_cast<float>(amp * re), static_cast<float>(amp * im));
    }
  }
  ifft2c(k.view());
  a.resize(h * w);
  b.resize(h * w);
  double ma = 0, mb = 0, va = 0, vb = 0;
  for (int64_t p = 0; p < h * w; ++p) {
    ma += k[p].real();
    mb += k[p].imag();
  }
  ma /= h * w;
  mb /= h * w;
  for (int64_t p = 0; p < h * w; ++p) {
    va += (k[p].real() - ma) * (k[p].real() - ma);
    vb += (k[p].imag() - mb) * (k[p].imag() - mb);
  }
  const double sa = va > 0 ? std::sqrt(h * w / va) : 0, sb = vb > 0 ? std::sqrt(h * w / vb) : 0;
  for (int64_t p = 0; p < h * w; ++p) {
    a[p] = static_cast<float>((k[p].real() - ma) * sa);
    b[p] = static_cast<float>((k[p].imag() - mb) * sb);
  }
}

void sharpen_boundaries(Fractions& f, const FineStructureParams& p, float fold_csf, float fold_wm) {
  const double csf = f.f[kCSF], gm = f.f[kGM], wm = f.f[kWM], tot = csf + gm + wm;
  if (tot <= 1e-6 || gm <= 1e-6) return;
  auto sharpen = [&](double u, double n) {
    const double s = smoothstep(u + p.fold_eps * n, 0.5 - p.fold_width, 0.5 + p.fold_width);
    return (1 - p.fold_alpha) * u + p.fold_alpha * s;
  };
  // Only where the partition is mixed (a boundary), so that pure tissue stays pure.
  const double u = csf / tot, u2 = (gm + wm) > 0 ? gm / (gm + wm) : 0;
  const double uc = (u > 0.02 && u < 0.98) ? sharpen(u, fold_csf) : u;
  const double ug = (u2 > 0.02 && u2 < 0.98) ? sharpen(u2, fold_wm) : u2;
  const double rest = tot * (1 - uc);
  f.f[kCSF] = static_cast<float>(tot * uc);
  f.f[kGM] = static_cast<float>(rest * ug);
  f.f[kWM] = static_cast<float>(rest * (1 - ug));
}

SliceDetail make_slice_detail(const FineStructureParams& p, const TissueAtlas& atlas,
                              const SubjectWarp& warp, const FineGrid& g, double z, uint64_t seed,
                              uint64_t subject, uint64_t slice) {
  SliceDetail d;
  d.grid = g;
  const int64_t n = g.h * g.w;
  random_field_pair(g.h, g.w, g.dx, kTextureK0, p.texture_beta,
                    stream_seed({seed, subject, kFine, slice, kTexture}), d.tex_brain, d.tex_other);
  random_field_pair(g.h, g.w, g.dx, kFoldK0, kFoldBeta,
                    stream_seed({seed, subject, kFine, slice, kFold}), d.fold_csf, d.fold_wm);
  std::vector<float> unused;
  random_field_pair(g.h, g.w, g.dx, kPhaseK0, kPhaseBeta,
                    stream_seed({seed, subject, kFine, slice, kPhaseField}), d.phase, unused);
  for (auto& v : d.phase) v *= static_cast<float>(p.phase_sd);
  d.vessel.assign(n, 0.0f);
  d.vessel_kind.assign(n, kNoVessel);
  d.flow_phase.assign(n, 0.0f);
  d.pvs.assign(n, 0.0f);
  auto add_vessel = [&](const Capsule& c) { rasterise(c, g, d.vessel, &d.vessel_kind, &d.flow_phase); };
  double x = 0, y = 0;
  // Cortical vessels: short random walks in the sulcal CSF next to grey matter, each step
  // kept only while it stays in the sulcus.
  const auto sulcal = [](const Fractions& f) { return f.f[kCSF] > 0.25f && f.f[kGM] > 0.15f; };
  Rng rc{seed, subject, kFine, slice, kCortical};
  for (int v = 0, nv = count(rc, 15, 35, p.vessel_density); v < nv; ++v) {
    if (!find_point(rc, atlas, warp, z, sulcal, x, y)) continue;
    const VesselKind kind = rc.bernoulli(0.6) ? kVein : kArtery;
    const double r = kind == kVein ? rc.uniform(0.25, 0.7) : rc.uniform(0.2, 0.5);
    const float flow = static_cast<float>(rc.uniform(-kMaxFlowPhase, kMaxFlowPhase));
    double dir = rc.uniform(0, 2 * kPi);
    for (int s = 0, ns = static_cast<int>(rc.integer(1, 4)); s < ns; ++s) {
      const double len = rc.uniform(2, 5);
      dir += rc.uniform(-0.5, 0.5);
      const Capsule c{x, y, x + len * std::cos(dir), y + len * std::sin(dir), r, kind, flow};
      const Fractions end = sample_subject(atlas, warp, c.x1, c.y1, z);
      if (end.f[kCSF] + end.f[kGM] < 0.6f) break;
      add_vessel(c);
      x = c.x1;
      y = c.y1;
    }
    ++d.vessels;
  }
  // Medullary veins: thin short radial lines in the white matter.
  Rng rm{seed, subject, kFine, slice, kMedullary};
  for (int v = 0, nv = count(rm, 0, 8, p.vessel_density); v < nv; ++v) {
    if (!find_point(rm, atlas, warp, z, [](const Fractions& f) { return f.f[kWM] > 0.7f; }, x, y)) continue;
    const double dir = std::atan2(y, x) + rm.uniform(-0.35, 0.35), len = rm.uniform(4, 12);
    add_vessel({x, y, x + len * std::cos(dir), y + len * std::sin(dir), rm.uniform(0.1, 0.25), kVein,
                static_cast<float>(rm.uniform(-0.3, 0.3))});
    ++d.vessels;
  }
  // Through-plane vessels: discs anywhere in the brain.
  Rng rd{seed, subject, kFine, slice, kDots};
  for (int v = 0, nv = count(rd, 8, 20, p.vessel_density); v < nv; ++v) {
    if (!find_point(rd, atlas, warp, z, [](const Fractions& f) { return f.f[kGM] + f.f[kWM] + f.f[kDeepGM] > 0.6f; }, x, y))
      continue;
    const VesselKind kind = rd.bernoulli(0.3) ? kArtery : kVein;
    add_vessel({x, y, x, y, rd.uniform(0.2, 0.6), kind,
                static_cast<float>(rd.uniform(-kMaxFlowPhase, kMaxFlowPhase))});
    ++d.vessels;
  }
  // Perivascular spaces: CSF dots and short lines in WM and deep GM.
  Rng rp{seed, subject, kFine, slice, kPvs};
  for (int v = 0, nv = count(rp, 3, 15, p.pvs_density * (1 + 2 * warp.atrophy)); v < nv; ++v) {
    if (!find_point(rp, atlas, warp, z, [](const Fractions& f) { return f.f[kWM] + f.f[kDeepGM] > 0.7f; }, x, y))
      continue;
    const double dir = rp.uniform(0, 2 * kPi), len = rp.bernoulli(0.5) ? 0.0 : rp.uniform(1, 5);
    rasterise({x, y, x + len * std::cos(dir), y + len * std::sin(dir), rp.uniform(0.25, 0.7), kNoVessel, 0},
              g, d.pvs, nullptr, nullptr);
    ++d.pvs_count;
  }
  return d;
}

}  // namespace rb::sim
