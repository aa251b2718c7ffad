// synthesize_slice and encode_slice (volume_plan.hpp).
#include <algorithm>
#include <cmath>

#include "reconbench/core/error.hpp"
#include "reconbench/core/parallel.hpp"
#include "reconbench/fft/fft.hpp"
#include "reconbench/sim/rng.hpp"
#include "reconbench/sim/volume_plan.hpp"

namespace rb::sim {
namespace {

constexpr double kSensStep = 1.5;  // mm, grid of the interpolated coil sensitivities

// Object of one slice on the fine grid, per variant, with recon-grid labels.
struct ObjectSlice {
  std::vector<std::vector<cfloat>> m;  // per variant [hf wf]
  std::vector<uint8_t> support;        // [hf wf]
  std::vector<float> lab_acc, les_acc; // [nr nr kNumTissues], [nr nr NL]
};

// Per-volume constants of the pixel model: complex tissue signals with their local
// susceptibility phase e^{i c (chi_t - chi_air) / 3} (c = rad per ppm) and, in gradient
// echoes, the chemical shift of fat and marrow e^{-i c kFatShiftPpm} (spin echoes refocus
// it); texture amplitudes.
struct PixelModel {
  std::array<cd, kNumTissues> csig{};
  std::array<double, kNumTissues> tex_amp{};
  std::array<bool, kNumTissues> brain_tex{};
  cd artery, vein, csf;
};

PixelModel make_pixel_model(const VolumePlan& P) {
  PixelModel pm;
  auto local = [&](int t) {
    return std::polar(1.0, P.b0_phase_per_ppm * (tissue_chi_ppm(t) - kChiAirPpm) / 3);
  };
  for (int t = 1; t < kNumTissues; ++t) pm.csig[t] = P.sig[t] * local(t);
  if (P.sequence.kind == SeqKind::GradientEcho)
    for (int t : {kFat, kMarrow}) pm.csig[t] *= std::polar(1.0, -P.b0_phase_per_ppm * kFatShiftPpm);
  for (int t : {kGM, kWM, kDeepGM}) {
    pm.tex_amp[t] = P.fine.texture_brain;
    pm.brain_tex[t] = true;
  }
  for (int t : {kSkin, kFat, kMuscle, kMarrow}) pm.tex_amp[t] = P.fine.texture_other;
  pm.artery = P.sig_artery * local(kVessel);
  pm.vein = P.sig_vein * local(kVessel);
  pm.csf = pm.csig[kCSF];
  return pm;
}

// Host tissue value at fine pixel p: sum_t f_t s_t (1 + a_t n(r)), then perivascular CSF.
cd host_value(const PixelModel& pm, const Fractions& f, const SliceDetail& d, int64_t p) {
  cd v = 0;
  for (int t = 1; t < kNumTissues; ++t) {
    if (f.f[t] == 0) continue;
    const double n = pm.brain_tex[t] ? d.tex_brain[p] : d.tex_other[p];
    v += static_cast<double>(f.f[t]) * pm.csig[t] * (1 + pm.tex_amp[t] * n);
  }
  if (d.pvs[p] > 0) {
    const double pv = d.pvs[p] * std::min(1.0, static_cast<double>(f.f[kWM] + f.f[kDeepGM] + f.f[kGM]));
    v = (1 - pv) * v + pv * pm.csf;
  }
  return v;
}

ObjectSlice render_object(const VolumePlan& P, const TissueAtlas& atlas, const SliceDetail& det,
                          int s) {
  const Geometry& g = P.g;
  const int NV = P.variants(), NL = static_cast<int>(P.lesions.size()), nr = g.nr;
  const int K = static_cast<int>(P.zoff.size());
  const double zc = P.slice_z[s];
  const PixelModel pm = make_pixel_model(P);
  const int64_t npx = static_cast<int64_t>(g.hf) * g.wf;
  ObjectSlice o;
  o.m.assign(NV, std::vector<cfloat>(npx, cfloat(0)));
  o.support.assign(npx, 0);
  o.lab_acc.assign(static_cast<size_t>(nr) * nr * kNumTissues, 0.0f);
  o.les_acc.assign(static_cast<size_t>(nr) * nr * std::max(1, NL), 0.0f);
  std::vector<int> active;  // lesions that reach this slice
  for (int l = 0; l < NL; ++l)
    if (std::abs(P.lesions[l].center[2] - zc) < P.lesions[l].footprint_radius() + 2 * P.spec.slice_thickness)
      active.push_back(l);
  for (int64_t i = 0; i < g.hf; ++i) {
    const double y = (g.hf / 2 - i) * g.dxf;
    if (std::abs(y) > 140) continue;
    const bool coarse_row = i % g.f == 0;
    const int64_t I = i / g.f - g.row0;  // recon row
    for (int64_t j = 0; j < g.wf; ++j) {
      const double x = (g.wf / 2 - j) * g.dxf;
      if (std::abs(x) > 115) continue;
      const int64_t p = i * g.wf + j;
      const bool coarse = coarse_row && j % g.f == 0 && I >= 0 && I < nr;
      const int64_t J = j / g.f;
      cd acc0 = 0, acc1 = 0;
      for (int k = 0; k < K; ++k) {
        const double z = zc + P.zoff[k];
        Fractions f0 = sample_subject(atlas, P.warp, x, y, z);
        if (f0.f[kAir] >= 1.0f) continue;
        sharpen_boundaries(f0, P.fine, det.fold_csf[p], det.fold_wm[p]);
        const cd host0 = host_value(pm, f0, det, p);
        cd val = host0;
        const Fractions* fl = &f0;
        Fractions f1;
        if (!active.empty()) {
          double u[3] = {0, 0, 0};
          for (int l : active) {
            const auto dsp = P.lesions[l].displacement(x, y, z);
            for (int q = 0; q < 3; ++q) u[q] += dsp[q];
          }
          if (u[0] != 0 || u[1] != 0 || u[2] != 0) {
            f1 = sample_subject(atlas, P.warp, x - u[0], y - u[1], z - u[2]);
            sharpen_boundaries(f1, P.fine, det.fold_csf[p], det.fold_wm[p]);
            fl = &f1;
            val = host_value(pm, f1, det, p);
          }
          const cd lph = pm.csig[kGM] / std::max(1e-12, std::abs(pm.csig[kGM]));  // lesion chi ~ GM
          for (int l : active) {
            const LesionMembership lm = lesion_membership(P.lesions[l], x, y, z, g.dxf);
            const float tot = lm.total();
            if (tot <= 0) continue;
            double rel = 0;
            for (int t = 1; t < kNumTissues; ++t) rel += fl->f[t] * P.lsig[l].rel[t];
            val = static_cast<double>(1 - lm.core - lm.rim) * ((1.0 - lm.edema) * val + lm.edema * rel * lph) +
                  (lm.core * P.lsig[l].core + lm.rim * P.lsig[l].rim) * lph;
            if (coarse) o.les_acc[(I * nr + J) * std::max(1, NL) + l] += static_cast<float>(P.zw[k] * tot);
          }
        }
        // Small vessels replace the tissue they occupy.
        const double v = det.vessel[p];
        const cd vessel_sig = det.vessel_kind[p] == kArtery ? pm.artery : pm.vein;
        auto with_vessel = [&](cd t) {
          return v > 0 ? (1 - v) * t + v * vessel_sig * std::polar(1.0, static_cast<double>(det.flow_phase[p])) : t;
        };
        const cd b0 = std::polar(1.0, P.b0_phase_per_ppm * P.b0.at(x, y, z));
        acc0 += P.zw[k] * with_vessel(val) * b0;
        acc1 += P.zw[k] * with_vessel(host0) * b0;
        if (coarse) {
          float* la = &o.lab_acc[(I * nr + J) * kNumTissues];
          for (int t = 0; t < kNumTissues; ++t) la[t] += static_cast<float>(P.zw[k] * fl->f[t]);
        }
      }
      if (acc0 == 0.0 && acc1 == 0.0) continue;
      cd ph = std::polar(1.0, P.phase.eval(x, y, zc) + det.phase[p]);
      if (P.diel.amplitude > 0) {
        const double e = std::exp(-(x * x + y * y) / (2 * P.diel.width * P.diel.width));
        ph *= (1 + P.diel.amplitude * e) * std::polar(1.0, P.diel.phase * (1 - e));
      }
      o.m[0][p] = cfloat(acc0 * ph);
      if (NV > 1) o.m[1][p] = cfloat(acc1 * ph);
      o.support[p] = 1;
    }
  }
  return o;
}

// Dominant tissue and lesion per recon pixel.
void label_slice(const ObjectSlice& o, int nr, int NL, SliceSynthesis& out) {
  out.labels = Array<uint8_t>({nr, nr});
  out.lesion = Array<uint8_t>({nr, nr});
  for (int64_t q = 0; q < int64_t{nr} * nr; ++q) {
    const float* la = &o.lab_acc[q * kNumTissues];
    float nonair = 0;
    for (int t = 1; t < kNumTissues; ++t) nonair += la[t];
    int best = 0;
    float bv = std::max(0.0f, 1.0f - nonair);
    for (int t = 1; t < kNumTissues; ++t)
      if (la[t] > bv) {
        bv = la[t];
        best = t;
      }
    out.labels[q] = static_cast<uint8_t>(best);
    int bl = 0;
    float lv = 0.5f;
    for (int l = 0; l < NL; ++l)
      if (o.les_acc[q * std::max(1, NL) + l] > lv) {
        lv = o.les_acc[q * std::max(1, NL) + l];
        bl = l + 1;
      }
    out.lesion[q] = static_cast<uint8_t>(bl);
  }
}

}  // namespace

SliceSynthesis synthesize_slice(const VolumePlan& P, const TissueAtlas& atlas, int s) {
  const Geometry& g = P.g;
  const int C = P.spec.coils, NV = P.variants();
  const double zc = P.slice_z[s];
  const SliceDetail det = make_slice_detail(P.fine, atlas, P.warp, {g.hf, g.wf, g.dxf}, zc,
                                            P.spec.seed, P.spec.subject, static_cast<uint64_t>(s));
  const ObjectSlice o = render_object(P, atlas, det, s);
  SliceSynthesis out;
  out.vessels = det.vessels;
  out.pvs = det.pvs_count;
  label_slice(o, g.nr, static_cast<int>(P.lesions.size()), out);
  // Coil images on the fine grid -> centred FFT -> central crop.
  out.k.assign(NV, Array<cfloat>({C, g.h, g.w}));
  out.obj.assign(NV, Array<cfloat>({g.h, g.w}));
  out.sens = Array<cfloat>({C, g.h, g.w});
  Array<cfloat> buf({g.hf, g.wf});
  const int64_t r0 = (g.hf - g.h) / 2, c0 = (g.wf - g.w) / 2;
  const float crop_scale = 1.0f / static_cast<float>(g.f);  // sqrt(N_coarse / N_fine)
  auto crop_into = [&](cfloat* dst) {
    for (int64_t a = 0; a < g.h; ++a)
      for (int64_t b = 0; b < g.w; ++b) dst[a * g.w + b] = buf[(a + r0) * g.wf + b + c0] * crop_scale;
  };
  for (int v = 0; v < NV; ++v) {
    std::copy(o.m[v].begin(), o.m[v].end(), buf.data());
    fft2c(buf.view());
    crop_into(out.obj[v].data());
  }
  const double xe = (g.wf / 2 + 1) * g.dxf, ye = (g.hf / 2 + 1) * g.dxf;
  const SensitivityPlane plane = sensitivity_plane(P.coils, zc, -xe, xe, -ye, ye, kSensStep);
  const int64_t npx = int64_t{g.hf} * g.wf;
  std::vector<cfloat> sc(npx);
  for (int c = 0; c < C; ++c) {
    check_interrupted();
    for (int64_t i = 0; i < g.hf; ++i) {
      const double y = (g.hf / 2 - i) * g.dxf;
      const bool coarse_row = i % g.f == 0;
      for (int64_t j = 0; j < g.wf; ++j) {
        const int64_t p = i * g.wf + j;
        const bool coarse = coarse_row && j % g.f == 0;
        if (!o.support[p] && !coarse) continue;
        const cfloat sv = plane.at(c, (g.wf / 2 - j) * g.dxf, y);
        sc[p] = sv;
        if (coarse) out.sens[(int64_t{c} * g.h + i / g.f) * g.w + j / g.f] = sv;
      }
    }
    for (int v = 0; v < NV; ++v) {
      for (int64_t p = 0; p < npx; ++p) buf[p] = o.support[p] ? o.m[v][p] * sc[p] : cfloat(0);
      fft2c(buf.view());
      crop_into(&out.k[v][int64_t{c} * g.h * g.w]);
    }
  }
  return out;
}

namespace {

// Correlated complex noise L z (z ~ CN(0, I)) on the acquired samples of every variant's
// k-space; padding columns exactly zero (k-space and object).
void add_noise(const VolumePlan& P, int s, SliceSynthesis& syn) {
  const Geometry& g = P.g;
  const int C = P.spec.coils;
  Rng nrng{P.spec.seed, P.spec.index, kNoise, static_cast<uint64_t>(s)};
  const int64_t plane = int64_t{g.h} * g.w;
  std::vector<cd> z(C);
  const double inv_sqrt2 = 1.0 / std::sqrt(2.0);
  for (auto& k : syn.k)
    for (auto& v : k.flat()) v *= static_cast<float>(P.factor);
  for (auto& k : syn.obj)
    for (auto& v : k.flat()) v *= static_cast<float>(P.factor);
  for (int64_t a = 0; a < g.h; ++a)
    for (int64_t b = 0; b < g.w; ++b) {
      const bool acquired = b >= g.pad_left && b < g.pad_left + g.acquired;
      if (!acquired) {
        for (auto& k : syn.k)
          for (int c = 0; c < C; ++c) k[c * plane + a * g.w + b] = 0;
        for (auto& ob : syn.obj) ob[a * g.w + b] = 0;
        continue;
      }
      for (int c = 0; c < C; ++c) {
        const double re = nrng.normal(), im = nrng.normal();
        z[c] = cd(re, im) * inv_sqrt2;
      }
      for (int c = 0; c < C; ++c) {
        cd n = 0;
        for (int d = 0; d <= c; ++d) n += P.chol[c * C + d] * z[d];
        for (auto& k : syn.k) k[c * plane + a * g.w + b] += cfloat(n);
      }
    }
}

}  // namespace

void encode_slice(const VolumePlan& P, int s, SliceSynthesis& syn, SimulatedVolume& out, int at) {
  const Geometry& g = P.g;
  const int C = P.spec.coils;
  const bool ge = P.spec.vendor == Vendor::GE, pair = P.variants() > 1;
  add_noise(P, s, syn);
  const int64_t plane = int64_t{g.h} * g.w;
  std::vector<Array<cfloat>> final_k(syn.k.size()), obj(syn.obj.size());
  Array<cfloat> sens;
  if (ge) {
    for (size_t v = 0; v < syn.k.size(); ++v) ge_decimate(syn.k[v], final_k[v]);
    for (size_t v = 0; v < syn.obj.size(); ++v) {
      Array<cfloat> o3 = syn.obj[v];
      o3.reshape({1, g.h, g.w});
      ge_decimate(o3, obj[v]);
      obj[v].reshape({g.nr, g.w});
    }
    sens = Array<cfloat>({C, g.nr, g.w});
    for (int c = 0; c < C; ++c)
      for (int64_t a = 0; a < g.nr; ++a)
        for (int64_t b = 0; b < g.w; ++b)
          sens[(c * g.nr + a) * g.w + b] = syn.sens[c * plane + (a + g.row0) * g.w + b];
  } else {
    final_k = std::move(syn.k);
    obj = std::move(syn.obj);
    sens = std::move(syn.sens);
  }
  const int64_t H = ge ? g.nr : g.h, W = g.w, vol_plane = int64_t{C} * H * W;
  const int64_t img_plane = int64_t{g.nr} * g.nr;
  std::copy(final_k[0].data(), final_k[0].data() + vol_plane, out.kspace.data() + at * vol_plane);
  std::copy(sens.data(), sens.data() + vol_plane, out.sens.data() + at * vol_plane);
  const Array<float> r0 = rss_crop(final_k[0].view(), g.nr, g.nr);
  std::copy(r0.data(), r0.data() + img_plane, out.rss.data() + at * img_plane);
  auto object_image = [&](Array<cfloat>& o, Array<cfloat>& dst) {
    Array<cfloat> img = ifft2c_copy(o.view());
    const int64_t rr = (o.dim(0) - g.nr) / 2;
    for (int64_t a = 0; a < g.nr; ++a)
      for (int64_t b = 0; b < g.nr; ++b) dst[at * img_plane + a * g.nr + b] = img[(a + rr) * g.w + b];
  };
  object_image(obj[0], out.image_complex);
  if (pair) {
    std::copy(final_k[1].data(), final_k[1].data() + vol_plane, out.kspace_nolesion.data() + at * vol_plane);
    const Array<float> r1 = rss_crop(final_k[1].view(), g.nr, g.nr);
    std::copy(r1.data(), r1.data() + img_plane, out.rss_nolesion.data() + at * img_plane);
    object_image(obj[1], out.image_complex_nolesion);
  }
  std::copy(syn.labels.data(), syn.labels.data() + img_plane, out.labels.data() + at * img_plane);
  std::copy(syn.lesion.data(), syn.lesion.data() + img_plane, out.lesion_mask.data() + at * img_plane);
}

}  // namespace rb::sim
