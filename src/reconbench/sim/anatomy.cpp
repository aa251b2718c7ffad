#include "reconbench/sim/anatomy.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <numbers>

#include "reconbench/core/error.hpp"
#include "reconbench/core/parallel.hpp"
#include "reconbench/sim/rng.hpp"

namespace rb::sim {

const char* tissue_name(int t) {
  static const char* names[kNumTissues] = {"air", "skin",  "fat", "muscle", "bone", "marrow",
                                           "dura", "csf", "gm",  "wm",     "deep_gm", "vessel"};
  return (t >= 0 && t < kNumTissues) ? names[t] : "?";
}

namespace {

// 1-D squared distance transform of f (Felzenszwalb & Huttenlocher 2012); "no site" is a
// large finite value.
void dt1d(const float* f, float* d, int64_t n, std::vector<int64_t>& v, std::vector<double>& z) {
  v.resize(n);
  z.resize(n + 1);
  int64_t k = 0;
  v[0] = 0;
  z[0] = -1e30;
  z[1] = 1e30;
  for (int64_t q = 1; q < n; ++q) {
    double s;
    for (;;) {
      const int64_t p = v[k];
      s = ((static_cast<double>(f[q]) + double(q) * q) - (static_cast<double>(f[p]) + double(p) * p)) /
          (2.0 * (q - p));
      if (s <= z[k] && k > 0) {
        --k;
        continue;
      }
      break;
    }
    if (s <= z[k]) {  // k == 0: the new parabola replaces the first one everywhere
      v[0] = q;
      z[1] = 1e30;
      continue;
    }
    ++k;
    v[k] = q;
    z[k] = s;
    z[k + 1] = 1e30;
  }
  k = 0;
  for (int64_t q = 0; q < n; ++q) {
    while (z[k + 1] < q) ++k;
    const int64_t p = v[k];
    d[q] = static_cast<float>(std::min(1e20, double(q - p) * (q - p) + f[p]));
  }
}

}  // namespace

std::vector<float> distance_transform(const std::vector<uint8_t>& mask, int64_t nx, int64_t ny,
                                      int64_t nz) {
  std::vector<float> g(mask.size());
  for (size_t i = 0; i < mask.size(); ++i) g[i] = mask[i] ? 0.0f : 1e20f;
  // Pass along x (contiguous), then y, then z.
  parallel_for(nz, [&](int64_t k) {
    std::vector<float> f(nx), d(nx);
    std::vector<int64_t> v;
    std::vector<double> zz;
    for (int64_t j = 0; j < ny; ++j) {
      float* row = &g[(k * ny + j) * nx];
      std::copy(row, row + nx, f.begin());
      dt1d(f.data(), d.data(), nx, v, zz);
      std::copy(d.begin(), d.end(), row);
    }
  });
  parallel_for(nz, [&](int64_t k) {
    std::vector<float> f(ny), d(ny);
    std::vector<int64_t> v;
    std::vector<double> zz;
    for (int64_t i = 0; i < nx; ++i) {
      for (int64_t j = 0; j < ny; ++j) f[j] = g[(k * ny + j) * nx + i];
      dt1d(f.data(), d.data(), ny, v, zz);
      for (int64_t j = 0; j < ny; ++j) g[(k * ny + j) * nx + i] = d[j];
    }
  });
  parallel_for(ny, [&](int64_t j) {
    std::vector<float> f(nz), d(nz);
    std::vector<int64_t> v;
    std::vector<double> zz;
    for (int64_t i = 0; i < nx; ++i) {
      for (int64_t k = 0; k < nz; ++k) f[k] = g[(k * ny + j) * nx + i];
      dt1d(f.data(), d.data(), nz, v, zz);
      for (int64_t k = 0; k < nz; ++k) g[(k * ny + j) * nx + i] = d[k];
    }
  });
  for (auto& x : g) x = std::sqrt(x);
  return g;
}

TissueAtlas::TissueAtlas(int64_t nx, int64_t ny, int64_t nz, double spacing,
                         std::array<double, 3> origin)
    : nx_(nx), ny_(ny), nz_(nz), spacing_(spacing), origin_(origin),
      data_(static_cast<size_t>(nx * ny * nz * kAtlasChannels), 0) {}

void TissueAtlas::set(int64_t i, int64_t j, int64_t k, int c, float v) {
  const float q = std::clamp(v, 0.0f, 1.0f) * 255.0f + 0.5f;
  data_[((k * ny_ + j) * nx_ + i) * kAtlasChannels + c] = static_cast<uint8_t>(q);
}

Fractions TissueAtlas::sample(double x, double y, double z) const {
  Fractions out;
  const double fi = (x - origin_[0]) / spacing_, fj = (y - origin_[1]) / spacing_,
               fk = (z - origin_[2]) / spacing_;
  if (!(fi >= 0 && fj >= 0 && fk >= 0 && fi < nx_ - 1 && fj < ny_ - 1 && fk < nz_ - 1)) {
    out.f[kAir] = 1;
    return out;
  }
  const int64_t i = static_cast<int64_t>(fi), j = static_cast<int64_t>(fj),
                k = static_cast<int64_t>(fk);
  const float ax = static_cast<float>(fi - i), ay = static_cast<float>(fj - j),
              az = static_cast<float>(fk - k);
  float acc[kAtlasChannels] = {};
  const int64_t sx = kAtlasChannels, sy = nx_ * kAtlasChannels, sz = ny_ * nx_ * kAtlasChannels;
  const uint8_t* base = &data_[((k * ny_ + j) * nx_ + i) * kAtlasChannels];
  const float w[8] = {(1 - ax) * (1 - ay) * (1 - az), ax * (1 - ay) * (1 - az),
                      (1 - ax) * ay * (1 - az),       ax * ay * (1 - az),
                      (1 - ax) * (1 - ay) * az,       ax * (1 - ay) * az,
                      (1 - ax) * ay * az,             ax * ay * az};
  const int64_t off[8] = {0, sx, sy, sx + sy, sz, sz + sx, sz + sy, sz + sx + sy};
  for (int n = 0; n < 8; ++n) {
    if (w[n] == 0) continue;
    const uint8_t* p = base + off[n];
    for (int c = 0; c < kAtlasChannels; ++c) acc[c] += w[n] * p[c];
  }
  float sum = 0;
  for (int t = 1; t < kNumTissues; ++t) {
    out.f[t] = acc[t - 1] * (1.0f / 255.0f);
    sum += out.f[t];
  }
  out.f[kAir] = std::max(0.0f, 1.0f - sum);
  out.csf_proximity = acc[kProximityChannel] * (1.0f / 255.0f);
  return out;
}

void TissueAtlas::normalise() {
  parallel_for(nz_, [&](int64_t k) {
    for (int64_t j = 0; j < ny_; ++j)
      for (int64_t i = 0; i < nx_; ++i) {
        uint8_t* p = &data_[((k * ny_ + j) * nx_ + i) * kAtlasChannels];
        int sum = 0;
        for (int c = 0; c < kNumTissues - 1; ++c) sum += p[c];
        if (sum > 255) {
          int acc = 0;
          for (int c = 0; c < kNumTissues - 1; ++c) {
            p[c] = static_cast<uint8_t>(p[c] * 255 / sum);
            acc += p[c];
          }
          (void)acc;
        }
      }
  });
}

void TissueAtlas::compute_brain_box() {
  double lo[3] = {1e9, 1e9, 1e9}, hi[3] = {-1e9, -1e9, -1e9};
  double hlo[3] = {1e9, 1e9, 1e9}, hhi[3] = {-1e9, -1e9, -1e9};
  for (int64_t k = 0; k < nz_; ++k)
    for (int64_t j = 0; j < ny_; ++j)
      for (int64_t i = 0; i < nx_; ++i) {
        const double p[3] = {origin_[0] + i * spacing_, origin_[1] + j * spacing_,
                             origin_[2] + k * spacing_};
        float nonair = 0;
        for (int c = 0; c < kNumTissues - 1; ++c) nonair += get(i, j, k, c);
        if (nonair > 0.5f)
          for (int d = 0; d < 3; ++d) {
            hlo[d] = std::min(hlo[d], p[d]);
            hhi[d] = std::max(hhi[d], p[d]);
          }
        const float b = get(i, j, k, kGM - 1) + get(i, j, k, kWM - 1) + get(i, j, k, kDeepGM - 1);
        if (b < 0.5f) continue;
        for (int d = 0; d < 3; ++d) {
          lo[d] = std::min(lo[d], p[d]);
          hi[d] = std::max(hi[d], p[d]);
        }
      }
  RB_ASSERT(lo[0] < hi[0], "atlas has no brain");
  for (int d = 0; d < 3; ++d) {
    brain_min[d] = lo[d];
    brain_max[d] = hi[d];
    brain_center[d] = 0.5 * (lo[d] + hi[d]);
    head_min[d] = hlo[d];
    head_max[d] = hhi[d];
  }
}

std::filesystem::path default_template_dir() {
  if (const char* e = std::getenv("RECONBENCH_TEMPLATE_DIR")) return e;
  return "/usr/share/mricron/templates";
}

// ---------------------------------------------------------------------------------------
// Procedural phantom: signed distances of nested ellipsoids, smoothed into memberships.

TissueAtlas make_procedural_atlas(uint64_t seed, double spacing) {
  const double ext[3] = {170, 220, 200};  // mm
  const int64_t nx = static_cast<int64_t>(ext[0] / spacing), ny = static_cast<int64_t>(ext[1] / spacing),
                nz = static_cast<int64_t>(ext[2] / spacing);
  TissueAtlas atlas(nx, ny, nz, spacing, {-ext[0] / 2, -ext[1] / 2, -ext[2] / 2 + 10});
  atlas.source = "procedural";
  atlas.procedural = true;
  Rng rng{seed, kSubject, 0};
  // Band-limited 3-D noise (sum of random cosines) folds the cortex.
  struct Wave { double k[3], ph, a; };
  std::vector<Wave> waves;
  for (int w = 0; w < 24; ++w) {
    Wave wv;
    double norm = 0;
    for (double& c : wv.k) { c = rng.normal(); norm += c * c; }
    const double kk = 2 * std::numbers::pi / rng.uniform(12, 22) / std::sqrt(norm);
    for (double& c : wv.k) c *= kk;
    wv.ph = rng.uniform(0, 2 * std::numbers::pi);
    wv.a = 1.0 / std::sqrt(24.0);
    waves.push_back(wv);
  }
  auto ell = [](double x, double y, double z, double a, double b, double c) {
    // approximate signed distance (mm) to an ellipsoid surface (negative inside)
    const double r = std::sqrt(x * x / (a * a) + y * y / (b * b) + z * z / (c * c));
    return (r - 1) * std::min({a, b, c});
  };
  auto inside = [&](double sd, double width) { return 1 - smoothstep(sd, -width / 2, width / 2); };
  const double pv = spacing;  // partial-volume width
  parallel_for(nz, [&](int64_t k) {
    for (int64_t j = 0; j < ny; ++j)
      for (int64_t i = 0; i < nx; ++i) {
        const double x = atlas.origin()[0] + i * spacing, y = atlas.origin()[1] + j * spacing,
                     z = atlas.origin()[2] + k * spacing;
        float f[kNumTissues] = {};
        const double zc = z - 10;
        const double d_head = ell(x, y - 5, zc, 72, 92, 85);
        const double h_head = inside(d_head, pv);
        if (h_head <= 0) continue;
        const double h_fatin = inside(d_head + 2, pv), h_bonein = inside(d_head + 6, pv);
        const double h_marrow_in = inside(d_head + 8.5, pv), h_innerbone = inside(d_head + 11, pv);
        const double h_brain = inside(d_head + 13.5, pv);
        double noise = 0;
        for (const auto& w : waves) noise += w.a * std::cos(w.k[0] * x + w.k[1] * y + w.k[2] * z + w.ph);
        const double h_gm_in = inside(d_head + 13.5 + 3.0 + 2.5 * noise, pv);  // WM core
        f[kSkin] = static_cast<float>(h_head - h_fatin);
        f[kFat] = static_cast<float>(h_fatin - h_bonein);
        f[kBone] = static_cast<float>((h_bonein - h_marrow_in) + (h_marrow_in - h_innerbone) * 0.3 +
                                      (h_innerbone - h_brain));
        f[kMarrow] = static_cast<float>((h_marrow_in - h_innerbone) * 0.7);
        // Brain: sulci = CSF where the noise is high near the surface.
        const double sulcus = h_brain * (1 - h_gm_in) * smoothstep(noise, 0.6, 0.9);
        double wm = h_gm_in;
        double gm = h_brain - h_gm_in - sulcus;
        double csf = sulcus;
        // Ventricles: two banana-shaped ellipsoids; deep nuclei: ellipsoids.
        for (double s : {-1.0, 1.0}) {
          const double yy = y - 5, bend = 0.004 * yy * yy;
          const double dv = ell(x - s * 9, yy, zc - 12 + bend, 5, 28, 7);
          const double hv = inside(dv, pv) * h_gm_in;
          csf += hv;
          wm -= hv;
          const double dn = ell(x - s * 20, y - 5, zc, 7, 14, 9);
          const double hn = inside(dn, pv) * std::max(0.0, wm);
          f[kDeepGM] += static_cast<float>(hn);
          wm -= hn;
        }
        // Falx
        const double falx = h_brain * (1 - smoothstep(std::abs(x), 0.6, 1.6)) * (zc > 0 ? 1 : 0);
        f[kDura] = static_cast<float>(falx * 0.6);
        gm *= (1 - falx);
        wm *= (1 - falx);
        csf = csf * (1 - falx) + falx * 0.4;
        // Superior sagittal sinus
        const double sss = (h_innerbone - h_brain) * (1 - smoothstep(std::abs(x), 2.0, 4.0)) * (zc > 10 ? 1 : 0);
        f[kVessel] = static_cast<float>(sss);
        f[kBone] *= static_cast<float>(1 - sss);
        f[kGM] = static_cast<float>(std::max(0.0, gm));
        f[kWM] = static_cast<float>(std::max(0.0, wm));
        f[kCSF] = static_cast<float>(std::max(0.0, csf));
        for (int t = 1; t < kNumTissues; ++t) atlas.set(i, j, k, t - 1, std::max(0.0f, f[t]));
        atlas.set(i, j, k, kProximityChannel,
                  static_cast<float>(std::min(1.0, 2 * csf + 0.5 * sulcus + 0.3 * (1 - h_gm_in) * h_brain)));
      }
  });
  atlas.normalise();
  atlas.compute_brain_box();
  return atlas;
}

const TissueAtlas& cached_atlas(const std::filesystem::path& dir_in, bool allow_fallback) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<TissueAtlas>> cache;
  const std::filesystem::path dir = dir_in.empty() ? default_template_dir() : dir_in;
  std::lock_guard lock(mu);
  auto it = cache.find(dir.string());
  if (it != cache.end()) return *it->second;
  std::unique_ptr<TissueAtlas> a;
  if (!std::filesystem::exists(dir / "ch2.nii.gz") || !std::filesystem::exists(dir / "ch2bet.nii.gz")) {
    RB_CHECK(allow_fallback, "anatomy template: ", (dir / "ch2.nii.gz").string(),
             " not found (install Debian's mricron-data or set --template-dir)");
    std::fprintf(stderr,
                 "warning: Colin27 template not found in %s (install mricron-data); using the "
                 "procedural phantom, which is NOT realistic anatomy\n",
                 dir.string().c_str());
    a = std::make_unique<TissueAtlas>(make_procedural_atlas());
  } else {
    a = std::make_unique<TissueAtlas>(segment_colin27(dir));
  }
  return *cache.emplace(dir.string(), std::move(a)).first->second;
}

const TissueAtlas& cached_procedural_atlas() {
  static const TissueAtlas a = make_procedural_atlas();
  return a;
}

// ---------------------------------------------------------------------------------------
// Subject warps.

namespace {
std::array<double, 9> rotation_xyz(double ax, double ay, double az) {
  const double cx = std::cos(ax), sx = std::sin(ax), cy = std::cos(ay), sy = std::sin(ay),
               cz = std::cos(az), sz = std::sin(az);
  // R = Rz * Ry * Rx
  return {cz * cy, cz * sy * sx - sz * cx, cz * sy * cx + sz * sx,
          sz * cy, sz * sy * sx + cz * cx, sz * sy * cx - cz * sx,
          -sy,     cy * sx,                cy * cx};
}
double bspline(double t) {  // cubic B-spline basis, support (-2, 2)
  t = std::abs(t);
  if (t < 1) return (4 - 6 * t * t + 3 * t * t * t) / 6;
  if (t < 2) return (2 - t) * (2 - t) * (2 - t) / 6;
  return 0;
}
}  // namespace

SubjectWarp make_subject(uint64_t seed, uint64_t subject_id, const TissueAtlas& atlas, bool deform) {
  Rng rng{seed, subject_id, kSubject};
  SubjectWarp w;
  w.atlas_center = atlas.brain_center;
  const double deg = std::numbers::pi / 180;
  w.angles_deg[0] = rng.uniform(-5, 5);    // out-of-plane (about x: pitch)
  w.angles_deg[1] = rng.uniform(-5, 5);    // out-of-plane (about y: roll)
  w.angles_deg[2] = rng.uniform(-10, 10);  // in-plane (about z)
  w.rot = rotation_xyz(w.angles_deg[0] * deg, w.angles_deg[1] * deg, w.angles_deg[2] * deg);
  const double global = rng.uniform(0.92, 1.08);
  for (double& s : w.scale) s = global * rng.uniform(0.96, 1.04);
  for (double& t : w.shift) t = rng.uniform(-6, 6);
  w.atrophy = std::pow(rng.uniform(), 1.5) * 0.6;
  if (!deform) return w;
  // B-spline control grid (spacing 30-50 mm, displacement SD 2-5 mm), evaluated once onto a
  // dense grid that is trilinearly interpolated at lookup.
  const double cs = rng.uniform(30, 50), sdv = rng.uniform(2, 5);
  const double lo = w.grid_min, ext = -2 * lo;
  const int64_t nc = static_cast<int64_t>(ext / cs) + 4;
  std::vector<double> ctrl(nc * nc * nc * 3);
  for (auto& c : ctrl) c = rng.normal(0, sdv);
  w.grid_n = static_cast<int64_t>(ext / w.grid_spacing) + 1;
  const int64_t g = w.grid_n;
  w.disp.assign(g * g * g * 3, 0.0f);
  parallel_for(g, [&](int64_t k) {
    for (int64_t j = 0; j < g; ++j)
      for (int64_t i = 0; i < g; ++i) {
        const double p[3] = {i * w.grid_spacing / cs + 1, j * w.grid_spacing / cs + 1,
                             k * w.grid_spacing / cs + 1};
        double acc[3] = {};
        const int64_t b0 = static_cast<int64_t>(p[0]), b1 = static_cast<int64_t>(p[1]),
                      b2 = static_cast<int64_t>(p[2]);
        for (int64_t c2 = b2 - 1; c2 <= b2 + 2; ++c2)
          for (int64_t c1 = b1 - 1; c1 <= b1 + 2; ++c1)
            for (int64_t c0 = b0 - 1; c0 <= b0 + 2; ++c0) {
              if (c0 < 0 || c1 < 0 || c2 < 0 || c0 >= nc || c1 >= nc || c2 >= nc) continue;
              const double wt = bspline(p[0] - c0) * bspline(p[1] - c1) * bspline(p[2] - c2);
              if (wt == 0) continue;
              const double* c = &ctrl[((c2 * nc + c1) * nc + c0) * 3];
              for (int d = 0; d < 3; ++d) acc[d] += wt * c[d];
            }
        float* o = &w.disp[((k * g + j) * g + i) * 3];
        for (int d = 0; d < 3; ++d) o[d] = static_cast<float>(acc[d]);
      }
  });
  return w;
}

std::array<double, 3> SubjectWarp::to_atlas(double x, double y, double z) const {
  // q = c + R^T (p - t) / s + D(p)
  const double px = x - shift[0], py = y - shift[1], pz = z - shift[2];
  std::array<double, 3> q = {
      (rot[0] * px + rot[3] * py + rot[6] * pz) / scale[0] + atlas_center[0],
      (rot[1] * px + rot[4] * py + rot[7] * pz) / scale[1] + atlas_center[1],
      (rot[2] * px + rot[5] * py + rot[8] * pz) / scale[2] + atlas_center[2]};
  if (grid_n > 1) {
    const double fi = (x - grid_min) / grid_spacing, fj = (y - grid_min) / grid_spacing,
                 fk = (z - grid_min) / grid_spacing;
    if (fi >= 0 && fj >= 0 && fk >= 0 && fi < grid_n - 1 && fj < grid_n - 1 && fk < grid_n - 1) {
      const int64_t i = static_cast<int64_t>(fi), j = static_cast<int64_t>(fj),
                    k = static_cast<int64_t>(fk);
      const double ax = fi - i, ay = fj - j, az = fk - k;
      const int64_t g = grid_n;
      for (int d = 0; d < 3; ++d) {
        auto at = [&](int64_t a, int64_t b, int64_t c) {
          return static_cast<double>(disp[((c * g + b) * g + a) * 3 + d]);
        };
        const double v =
            (1 - az) * ((1 - ay) * ((1 - ax) * at(i, j, k) + ax * at(i + 1, j, k)) +
                        ay * ((1 - ax) * at(i, j + 1, k) + ax * at(i + 1, j + 1, k))) +
            az * ((1 - ay) * ((1 - ax) * at(i, j, k + 1) + ax * at(i + 1, j, k + 1)) +
                  ay * ((1 - ax) * at(i, j + 1, k + 1) + ax * at(i + 1, j + 1, k + 1)));
        q[d] += v;
      }
    }
  }
  return q;
}

std::array<double, 3> SubjectWarp::from_atlas_affine(double x, double y, double z) const {
  // p = t + R (s * (q - c))
  const double a = (x - atlas_center[0]) * scale[0], b = (y - atlas_center[1]) * scale[1],
               c = (z - atlas_center[2]) * scale[2];
  return {rot[0] * a + rot[1] * b + rot[2] * c + shift[0],
          rot[3] * a + rot[4] * b + rot[5] * c + shift[1],
          rot[6] * a + rot[7] * b + rot[8] * c + shift[2]};
}

Fractions sample_subject(const TissueAtlas& atlas, const SubjectWarp& w, double x, double y,
                         double z) {
  const auto q = w.to_atlas(x, y, z);
  Fractions f = atlas.sample(q[0], q[1], q[2]);
  if (w.atrophy > 0 && f.csf_proximity > 0) {
    // Cortical atrophy / ventricular enlargement: GM (and a little WM) next to CSF -> CSF.
    const float a = static_cast<float>(w.atrophy) * f.csf_proximity;
    const float dg = a * f.f[kGM], dw = 0.4f * a * f.f[kWM];
    f.f[kGM] -= dg;
    f.f[kWM] -= dw;
    f.f[kCSF] += dg + dw;
  }
  return f;
}

}  // namespace rb::sim
