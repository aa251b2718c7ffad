// Colin27 segmentation: mricron's ch2.nii.gz (head), ch2bet.nii.gz (brain-extracted) and,
// when present on the same grid, aal.nii.gz (AAL labels 71-78: deep grey matter) become the
// tissue atlas. Inside the brain: partial-volume unmixing between the means of a 3-class
// GMM; outside: intensity classes split by the distances to the brain and to the air.

#include <algorithm>
#include <cmath>
#include <optional>

#include "reconbench/core/error.hpp"
#include "reconbench/core/parallel.hpp"
#include "reconbench/sim/anatomy.hpp"
#include "reconbench/sim/nifti.hpp"

namespace rb::sim {

namespace {

struct Colin27 {
  std::filesystem::path ch2_path, bet_path;
  NiftiVolume ch2, bet;
  std::optional<NiftiVolume> aal;  // dropped when its grid differs from ch2's
};

Colin27 read_colin27(const std::filesystem::path& dir) {
  Colin27 c;
  c.ch2_path = dir / "ch2.nii.gz";
  c.bet_path = dir / "ch2bet.nii.gz";
  const auto aal_path = dir / "aal.nii.gz";
  c.ch2 = read_nifti(c.ch2_path);
  c.bet = read_nifti(c.bet_path);
  const NiftiVolume &ch2 = c.ch2, &bet = c.bet;
  RB_CHECK(ch2.nx == bet.nx && ch2.ny == bet.ny && ch2.nz == bet.nz, "template ",
           c.bet_path.string(), ": grid ", bet.nx, "x", bet.ny, "x", bet.nz,
           " differs from ch2.nii.gz ", ch2.nx, "x", ch2.ny, "x", ch2.nz);
  RB_CHECK(std::abs(ch2.dx - ch2.dy) < 1e-3 && std::abs(ch2.dx - ch2.dz) < 1e-3, "template ",
           c.ch2_path.string(), ": voxels are not isotropic");
  RB_CHECK(ch2.affine[1] == 0 && ch2.affine[2] == 0 && ch2.affine[4] == 0 &&
               ch2.affine[6] == 0 && ch2.affine[8] == 0 && ch2.affine[9] == 0 &&
               ch2.affine[0] > 0 && ch2.affine[5] > 0 && ch2.affine[10] > 0,
           "template ", c.ch2_path.string(), ": only axis-aligned RAS volumes are supported");
  if (std::filesystem::exists(aal_path)) {
    c.aal = read_nifti(aal_path);
    if (c.aal->nx != ch2.nx || c.aal->ny != ch2.ny || c.aal->nz != ch2.nz) c.aal.reset();
  }
  return c;
}

// CSF, GM and WM means on ch2bet (its units), ascending.
struct ClassMeans {
  double csf = 0, gm = 0, wm = 0;
};

// 3-class Gaussian mixture by EM (50 iterations) on a 256-bin histogram of the brain
// voxels' ch2bet intensities scaled to [0, 1] by bmax.
ClassMeans fit_brain_classes(const NiftiVolume& bet, const std::vector<uint8_t>& brain, float bmax) {
  const int64_t n = static_cast<int64_t>(brain.size());
  const int nb = 256;
  std::vector<double> hist(nb, 0);
  for (int64_t v = 0; v < n; ++v)
    if (brain[v]) hist[std::min(nb - 1, static_cast<int>(bet.data[v] / bmax * (nb - 1)))] += 1;
  double mu[3] = {0.25, 0.6, 0.85}, sd[3] = {0.08, 0.08, 0.06}, pi[3] = {0.2, 0.4, 0.4};
  for (int it = 0; it < 50; ++it) {
    double s0[3] = {}, s1[3] = {}, s2[3] = {};
    for (int b = 0; b < nb; ++b) {
      if (hist[b] == 0) continue;
      const double x = (b + 0.5) / nb;
      double p[3], tot = 0;
      for (int c = 0; c < 3; ++c) {
        p[c] = pi[c] / sd[c] * std::exp(-0.5 * std::pow((x - mu[c]) / sd[c], 2));
        tot += p[c];
      }
      if (tot <= 0) continue;
      for (int c = 0; c < 3; ++c) {
        const double r = hist[b] * p[c] / tot;
        s0[c] += r;
        s1[c] += r * x;
        s2[c] += r * x * x;
      }
    }
    double all = s0[0] + s0[1] + s0[2];
    for (int c = 0; c < 3; ++c) {
      if (s0[c] <= 0) continue;
      pi[c] = s0[c] / all;
      mu[c] = s1[c] / s0[c];
      sd[c] = std::max(0.02, std::sqrt(std::max(0.0, s2[c] / s0[c] - mu[c] * mu[c])));
    }
  }
  std::sort(mu, mu + 3);
  return {mu[0] * bmax, mu[1] * bmax, mu[2] * bmax};
}

// Head mask [z y x]: ch2 thresholded at 8 % of its maximum; per axial slice everything not
// reachable from the border through sub-threshold non-brain voxels (4-connected) is head.
std::vector<uint8_t> head_mask(const NiftiVolume& ch2, const std::vector<uint8_t>& brain) {
  const int64_t nx = ch2.nx, ny = ch2.ny, nz = ch2.nz;
  float cmax = 0;
  for (float x : ch2.data) cmax = std::max(cmax, x);
  const float thr = 0.08f * cmax;
  std::vector<uint8_t> head(static_cast<size_t>(nx * ny * nz), 1);
  parallel_for(nz, [&](int64_t k) {
    std::vector<int64_t> stack;
    auto idx = [&](int64_t i, int64_t j) { return (k * ny + j) * nx + i; };
    auto open = [&](int64_t i, int64_t j) {
      const int64_t v = idx(i, j);
      return head[v] && ch2.data[v] < thr && !brain[v];
    };
    for (int64_t i = 0; i < nx; ++i)
      for (int64_t j : {int64_t{0}, ny - 1})
        if (open(i, j)) { head[idx(i, j)] = 0; stack.push_back(idx(i, j)); }
    for (int64_t j = 0; j < ny; ++j)
      for (int64_t i : {int64_t{0}, nx - 1})
        if (open(i, j)) { head[idx(i, j)] = 0; stack.push_back(idx(i, j)); }
    while (!stack.empty()) {
      const int64_t v = stack.back();
      stack.pop_back();
      const int64_t r = v - k * ny * nx, j = r / nx, i = r % nx;
      const int64_t nbr[4][2] = {{i - 1, j}, {i + 1, j}, {i, j - 1}, {i, j + 1}};
      for (auto& q : nbr) {
        if (q[0] < 0 || q[1] < 0 || q[0] >= nx || q[1] >= ny) continue;
        if (open(q[0], q[1])) {
          head[idx(q[0], q[1])] = 0;
          stack.push_back(idx(q[0], q[1]));
        }
      }
    }
  });
  return head;
}

// WM reference intensity on ch2 (for the non-brain thresholds): the median of ch2 over every
// 7th brain voxel brighter than the WM mean on ch2bet.
double wm_reference(const Colin27& c, const std::vector<uint8_t>& brain, double mw) {
  const int64_t n = static_cast<int64_t>(brain.size());
  std::vector<float> wm_vals;
  for (int64_t v = 0; v < n; v += 7)
    if (brain[v] && c.bet.data[v] > mw) wm_vals.push_back(c.ch2.data[v]);
  RB_CHECK(!wm_vals.empty(), "template ", c.ch2_path.string(), ": no white matter found");
  std::nth_element(wm_vals.begin(), wm_vals.begin() + wm_vals.size() / 2, wm_vals.end());
  return wm_vals[wm_vals.size() / 2];
}

// Brain voxel of ch2bet intensity u and AAL label lab at world (xw, zw) mm: linear
// partial-volume unmixing between the GMM class means m.
void brain_fractions(double u, const ClassMeans& m, int lab, double xw, double zw,
                     float (&f)[kNumTissues]) {
  const double mc = m.csf, mg = m.gm, mw = m.wm;
  double c = 0, g = 0, w = 0;
  if (u <= mc) {
    c = 1;
  } else if (u <= mg) {
    g = (u - mc) / (mg - mc);
    c = 1 - g;
  } else if (u <= mw) {
    w = (u - mg) / (mw - mg);
    g = 1 - w;
  } else {
    w = 1;
  }
  if (lab >= 71 && lab <= 78) {
    f[kDeepGM] = static_cast<float>(g + w);
  } else {
    f[kGM] = static_cast<float>(g);
    f[kWM] = static_cast<float>(w);
  }
  f[kCSF] = static_cast<float>(c);
  // Falx: thin dural sheet in the interhemispheric fissure.
  if (std::abs(xw) < 1.2 && c > 0.3 && zw > -20) {
    f[kDura] = 0.5f * f[kCSF];
    f[kCSF] *= 0.5f;
  }
}

// Non-brain head voxel: val = ch2 / WM reference, db and de the distances (mm) to the brain
// and to the outside of the head, (xw, yw, zw) world mm.
void head_fractions(double val, double db, double de, double xw, double yw, double zw,
                    float (&f)[kNumTissues]) {
  const double fat = smoothstep(val, 1.1, 1.45);
  const double dark = 1 - smoothstep(val, 0.3, 0.6);
  const double mid = std::max(0.0, 1 - fat - dark);
  if (de < 5.0 || db > 14.0)
    f[kFat] += static_cast<float>(fat);
  else
    f[kMarrow] += static_cast<float>(fat);
  if (db < 2.5)
    f[kCSF] += static_cast<float>(dark);
  else
    f[kBone] += static_cast<float>(dark);
  if (de < 2.0)
    f[kSkin] += static_cast<float>(mid);
  else if (db < 3.0) {
    f[kDura] += static_cast<float>(0.35 * mid);
    f[kCSF] += static_cast<float>(0.65 * mid);
  } else {
    f[kMuscle] += static_cast<float>(mid);
  }
  // Venous sinuses: superior sagittal sinus along the midline above the brain,
  // transverse sinuses along the occipital bone at the tentorium level.
  double vessel = 0;
  if (db > 0.5 && db < 5.5 && zw > -5) vessel = 1 - smoothstep(std::abs(xw), 2.5, 4.5);
  if (db > 0.5 && db < 4.5 && yw < -65 && zw > -30 && zw < -5)
    vessel = std::max(vessel, 1 - smoothstep(std::abs(zw + 17), 3.0, 5.0));
  if (vessel > 0) {
    for (int t = 1; t < kNumTissues; ++t) f[t] *= static_cast<float>(1 - vessel);
    f[kVessel] = static_cast<float>(vessel);
  }
}

// Atrophy channel: CSF membership csf_frac [z y x] blurred with a separable Gaussian
// (sigma 1.5 mm; voxel size h mm), times 2, clipped at 1.
void set_proximity_channel(TissueAtlas& atlas, std::vector<float> csf_frac, double h) {
  const int64_t nx = atlas.nx(), ny = atlas.ny(), nz = atlas.nz(), n = nx * ny * nz;
  const double sigma = 1.5 / h;
  const int r = static_cast<int>(std::ceil(3 * sigma));
  std::vector<float> kern(2 * r + 1);
  float ks = 0;
  for (int t = -r; t <= r; ++t) ks += kern[t + r] = static_cast<float>(std::exp(-0.5 * t * t / (sigma * sigma)));
  for (auto& x : kern) x /= ks;
  std::vector<float> tmp(n);
  const int64_t strides[3] = {1, nx, nx * ny};
  const int64_t dims[3] = {nx, ny, nz};
  std::vector<float>* src = &csf_frac;
  std::vector<float>* dst = &tmp;
  for (int ax = 0; ax < 3; ++ax) {
    parallel_for(nz, [&](int64_t k) {
      for (int64_t j = 0; j < ny; ++j)
        for (int64_t i = 0; i < nx; ++i) {
          const int64_t pos[3] = {i, j, k};
          const int64_t v = (k * ny + j) * nx + i;
          float acc = 0;
          for (int t = -r; t <= r; ++t) {
            const int64_t q = pos[ax] + t;
            if (q < 0 || q >= dims[ax]) continue;
            acc += kern[t + r] * (*src)[v + t * strides[ax]];
          }
          (*dst)[v] = acc;
        }
    });
    std::swap(src, dst);
  }
  for (int64_t k = 0; k < nz; ++k)
    for (int64_t j = 0; j < ny; ++j)
      for (int64_t i = 0; i < nx; ++i)
        atlas.set(i, j, k, kProximityChannel, std::min(1.0f, 2.0f * (*src)[(k * ny + j) * nx + i]));
}

}  // namespace

TissueAtlas segment_colin27(const std::filesystem::path& dir) {
  const Colin27 c = read_colin27(dir);
  const NiftiVolume &ch2 = c.ch2, &bet = c.bet;
  const int64_t nx = ch2.nx, ny = ch2.ny, nz = ch2.nz, n = nx * ny * nz;
  const double h = ch2.dx;

  // 1. Brain mask and GMM class means on ch2bet.
  std::vector<uint8_t> brain(n);
  float bmax = 0;
  for (int64_t v = 0; v < n; ++v) {
    brain[v] = bet.data[v] > 0.5f;
    bmax = std::max(bmax, bet.data[v]);
  }
  RB_CHECK(bmax > 10, "template ", c.bet_path.string(), ": empty brain mask");
  const ClassMeans means = fit_brain_classes(bet, brain, bmax);

  // 2. Head mask; 3. distances (voxels) to the brain and to the outside of the head.
  const std::vector<uint8_t> head = head_mask(ch2, brain);
  const std::vector<float> d_brain = distance_transform(brain, nx, ny, nz);
  std::vector<uint8_t> outside(n);
  for (int64_t v = 0; v < n; ++v) outside[v] = !head[v];
  const std::vector<float> d_out = distance_transform(outside, nx, ny, nz);
  const double wref = wm_reference(c, brain, means.wm);

  TissueAtlas atlas(nx, ny, nz, h, {ch2.affine[3], ch2.affine[7], ch2.affine[11]});
  atlas.source = "colin27:" + dir.string();
  std::vector<float> csf_frac(n, 0);
  parallel_for(nz, [&](int64_t k) {
    for (int64_t j = 0; j < ny; ++j)
      for (int64_t i = 0; i < nx; ++i) {
        const int64_t v = (k * ny + j) * nx + i;
        float f[kNumTissues] = {};
        const double xw = ch2.affine[3] + i * h, yw = ch2.affine[7] + j * h,
                     zw = ch2.affine[11] + k * h;
        if (brain[v]) {
          const int lab = c.aal ? static_cast<int>(c.aal->data[v] + 0.5f) : 0;
          brain_fractions(bet.data[v], means, lab, xw, zw, f);
        } else if (head[v]) {
          head_fractions(ch2.data[v] / wref, d_brain[v] * h, d_out[v] * h, xw, yw, zw, f);
        }
        for (int t = 1; t < kNumTissues; ++t) atlas.set(i, j, k, t - 1, f[t]);
        csf_frac[v] = brain[v] ? f[kCSF] : 0.0f;
      }
  });
  // 4. Atrophy channel from the brain's CSF membership.
  set_proximity_channel(atlas, std::move(csf_frac), h);
  atlas.normalise();
  atlas.compute_brain_box();
  return atlas;
}

}  // namespace rb::sim
