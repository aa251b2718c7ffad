#include "reconbench/sim/volume.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "reconbench/core/error.hpp"
#include "reconbench/core/parallel.hpp"
#include "reconbench/core/progress.hpp"
#include "reconbench/fft/fft.hpp"
#include "reconbench/sim/coils.hpp"
#include "reconbench/sim/rng.hpp"

namespace rb::sim {
namespace {

using cd = std::complex<double>;
constexpr double kPi = std::numbers::pi;

// phi = phi0 + phi_poly + phi_rand (design §2.5); the IR sign is in the signal itself.
struct PhaseModel {
  double phi0 = 0;
  double poly[9] = {};  // x, y, z, x^2, y^2, z^2, xy, yz, xz  (coordinates / 100 mm)
  struct Wave {
    double k[3], ph, a;
  };
  std::vector<Wave> waves;
  double eval(double x, double y, double z) const {
    const double u = x / 100, v = y / 100, w = z / 100;
    double p = phi0 + poly[0] * u + poly[1] * v + poly[2] * w + poly[3] * u * u + poly[4] * v * v +
               poly[5] * w * w + poly[6] * u * v + poly[7] * v * w + poly[8] * u * w;
    for (const auto& wv : waves) p += wv.a * std::cos(wv.k[0] * x + wv.k[1] * y + wv.k[2] * z + wv.ph);
    return p;
  }
};

PhaseModel make_phase(uint64_t seed, uint64_t index, double& excursion, double& rand_sd) {
  Rng rng{seed, index, kPhase};
  PhaseModel m;
  m.phi0 = rng.uniform(0, 2 * kPi);
  excursion = rng.uniform(0.5, 2.0) * kPi;  // total excursion across the head
  for (int i = 0; i < 3; ++i) m.poly[i] = rng.normal() * excursion / 2.5;
  for (int i = 3; i < 9; ++i) m.poly[i] = rng.normal() * excursion / 5;
  rand_sd = rng.uniform(0.2, 0.5);
  const int K = 8;
  for (int k = 0; k < K; ++k) {
    PhaseModel::Wave w;
    double n = 0;
    for (double& c : w.k) {
      c = rng.normal();
      n += c * c;
    }
    const double kk = 2 * kPi / rng.uniform(80, 250) / std::sqrt(n);
    for (double& c : w.k) c *= kk;
    w.ph = rng.uniform(0, 2 * kPi);
    w.a = rand_sd * std::sqrt(2.0 / K);
    m.waves.push_back(w);
  }
  return m;
}

struct LesionSignals {
  double core = 0, rim = 0;
  std::array<double, kNumTissues> rel{};
};

struct Geometry {
  int nr = 0;       // recon matrix
  int h = 0, w = 0; // acquisition grid before vendor decimation: read = 2 nr, phase = nr
  int f = 2;        // fine factor
  int hf = 0, wf = 0;
  double dx = 0, dxf = 0;  // coarse / fine pixel (mm)
  int pad_left = 0, acquired = 0;
  int row0 = 0;     // first recon row in the oversampled grid
};

struct SliceWork {
  std::vector<Array<cfloat>> k;    // per variant [coil read phase], noise-free, unscaled
  std::vector<Array<cfloat>> obj;  // per variant [read phase]
  Array<cfloat> sens;              // [coil read phase] (oversampled grid)
  Array<uint8_t> labels, lesion;   // [nr nr]
  std::vector<cd> overlap;         // C x C partial sums
  double brain_sum = 0;            // sum of noise-free RSS over brain pixels (last variant)
  int64_t brain_count = 0;
};

inline double smoothstep(double x, double lo, double hi) {
  if (x <= lo) return 0;
  if (x >= hi) return 1;
  const double t = (x - lo) / (hi - lo);
  return t * t * (3 - 2 * t);
}

}  // namespace

Array<float> rss_crop(ArrayView<const cfloat> ks, int64_t h, int64_t w) {
  RB_ASSERT(ks.ndim() == 3);
  const int64_t C = ks.dim(0), H = ks.dim(1), W = ks.dim(2);
  Array<cfloat> img = ifft2c_copy(ks);
  const int64_t r0 = (H - h) / 2, c0 = (W - w) / 2;
  RB_ASSERT(r0 >= 0 && c0 >= 0);
  Array<float> out({h, w});
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      double s = 0;
      for (int64_t c = 0; c < C; ++c) s += std::norm(img[(c * H + y + r0) * W + x + c0]);
      out[y * w + x] = static_cast<float>(std::sqrt(s));
    }
  return out;
}

double ge_decimate(const Array<cfloat>& in, Array<cfloat>& out) {
  RB_ASSERT(in.ndim() == 3 && in.dim(1) % 2 == 0);
  const int64_t C = in.dim(0), H = in.dim(1), W = in.dim(2), Ho = H / 2;
  // Hamming-windowed sinc, cutoff 0.25 cycles/sample (the recon FOV edge), 63 taps:
  // pass band to ~0.9 of the recon half-FOV, stop band beyond ~1.1.
  const int M = 31;
  std::vector<double> hk(2 * M + 1);
  double sum = 0;
  for (int m = -M; m <= M; ++m) {
    const double fc = 0.25;
    const double s = m == 0 ? 2 * fc : std::sin(2 * kPi * fc * m) / (kPi * m);
    const double win = 0.54 + 0.46 * std::cos(kPi * m / M);
    hk[m + M] = s * win;
    sum += hk[m + M];
  }
  double energy = 0;
  for (auto& v : hk) {
    v /= sum;
    energy += v * v;
  }
  out = Array<cfloat>({C, Ho, W});
  for (int64_t c = 0; c < C; ++c)
    for (int64_t j = 0; j < Ho; ++j) {
      // output sample j <- input 2j (the centre H/2 maps to Ho/2)
      for (int64_t x = 0; x < W; ++x) {
        cd acc = 0;
        for (int m = -M; m <= M; ++m) {
          const int64_t q = 2 * j - m;
          if (q < 0 || q >= H) continue;
          acc += hk[m + M] * cd(in[(c * H + q) * W + x]);
        }
        out[(c * Ho + j) * W + x] = cfloat(acc);
      }
    }
  return energy;
}

SimulatedVolume simulate_volume(const VolumeSpec& spec, const TissueAtlas& atlas, Progress* progress) {
  RB_CHECK(spec.recon >= 16 && spec.recon % 2 == 0, "simulate: recon size ", spec.recon,
           " must be even and >= 16");
  RB_CHECK(spec.coils >= 1 && spec.coils <= 64, "simulate: coils ", spec.coils, " (1..64)");
  RB_CHECK(spec.slices >= 1 && spec.slices <= 64, "simulate: slices ", spec.slices, " (1..64)");
  RB_CHECK(spec.fine >= 2, "simulate: fine-grid factor must be >= 2 (inverse crime)");
  RB_CHECK(spec.phase_resolution > 0.3 && spec.phase_resolution <= 1.0,
           "simulate: phase resolution ", spec.phase_resolution, " outside (0.3, 1]");
  SimulatedVolume out;
  out.spec = spec;
  const int C = spec.coils, S = spec.slices;
  const bool pair = spec.lesions;
  const int NV = pair ? 2 : 1;  // variant 0: as written (with lesions), 1: lesion-free

  Geometry g;
  g.nr = spec.recon;
  g.h = 2 * g.nr;
  g.w = g.nr;
  g.f = spec.fine;
  g.hf = g.f * g.h;
  g.wf = g.f * g.w;
  g.dx = spec.fov_mm / g.nr;
  g.dxf = g.dx / g.f;
  g.row0 = (g.h - g.nr) / 2;
  {
    int pad = static_cast<int>(std::lround(g.w * (1 - spec.phase_resolution) / 2));
    g.pad_left = pad;
    g.acquired = g.w - 2 * pad;
  }

  // Subject, sequence, tissues, phase, coils.
  const SubjectWarp warp = make_subject(spec.seed, spec.subject, atlas);
  Rng crng{spec.seed, spec.index, kContrast};
  out.sequence = make_sequence(spec.acquisition, spec.vendor, spec.field_t, crng);
  Rng trng{spec.seed, spec.subject, kContrast, 7};
  const auto tissues = jitter_tissue_params(base_tissue_params(spec.field_t), trng);
  std::array<double, kNumTissues> sig{};
  for (int t = 0; t < kNumTissues; ++t) sig[t] = tissue_signal(tissues[t], out.sequence, spec.field_t);
  double phase_exc = 0, phase_sd = 0;
  const PhaseModel phase = make_phase(spec.seed, spec.index, phase_exc, phase_sd);
  // 3 T dielectric (wavelength) effect missing from quasi-static Biot-Savart (design §2.6):
  // centre brightening 1 + a exp(-r^2 / 2 w^2) with a mild phase curvature.
  double diel_a = 0, diel_w = 60, diel_ph = 0;
  {
    Rng drng{spec.seed, spec.index, kPhase, 77};
    if (spec.field_t > 2) {
      diel_a = drng.uniform(0.15, 0.35);
      diel_w = drng.uniform(50, 75);
      diel_ph = drng.uniform(-0.4, 0.4);
    }
  }
  // Helmet over the cranium: x/y from the head's bounding box, z from the brain centre to
  // the top of the head (all mapped through the subject's scaling).
  const std::array<double, 3> helmet_c = warp.from_atlas_affine(
      0.5 * (atlas.head_min[0] + atlas.head_max[0]), 0.5 * (atlas.head_min[1] + atlas.head_max[1]),
      atlas.brain_center[2]);
  const std::array<double, 3> head_half = {
      0.5 * (atlas.head_max[0] - atlas.head_min[0]) * warp.scale[0],
      0.5 * (atlas.head_max[1] - atlas.head_min[1]) * warp.scale[1],
      (atlas.head_max[2] - atlas.brain_center[2]) * warp.scale[2]};
  const CoilArray coils = make_coil_array(C, spec.seed, spec.index, head_half, spec.field_t, helmet_c);

  // Slice stack (slice 0 inferior).
  const double z_top = (atlas.brain_max[2] - atlas.brain_center[2]) * warp.scale[2] + warp.shift[2] - 10;
  double spacing = spec.slice_thickness + spec.slice_gap;
  // Few slices (ci/small profiles) are spread over the ventricles-to-vertex range.
  if (S > 1 && (S - 1) * spacing < 75) spacing = 75.0 / (S - 1);
  if (S > 1 && (S - 1) * spacing > 110) spacing = 110.0 / (S - 1);
  for (int s = 0; s < S; ++s) out.slice_z.push_back(z_top - (S - 1 - s) * spacing);

  if (pair && !spec.fixed_lesions.empty()) out.lesions = spec.fixed_lesions;
  else if (pair) out.lesions = make_lesions(spec.seed, spec.index, atlas, warp, out.slice_z, spec.field_t);
  const int NL = static_cast<int>(out.lesions.size());
  std::vector<LesionSignals> lsig(NL);
  for (int l = 0; l < NL; ++l) {
    const Lesion& L = out.lesions[l];
    lsig[l].core = tissue_signal(L.core, out.sequence, spec.field_t);
    lsig[l].rim = tissue_signal(L.rim, out.sequence, spec.field_t);
    for (int t = 0; t < kNumTissues; ++t) {
      if (!is_parenchyma(t)) {
        lsig[l].rel[t] = sig[t];
        continue;
      }
      TissueParams p = tissues[t];
      p.pd *= L.edema.pd;
      p.t1 *= L.edema.t1;
      p.t2 *= L.edema.t2;
      p.gd = L.edema.gd;
      double s2 = tissue_signal(p, out.sequence, spec.field_t);
      if (L.edema_wm_only && t == kGM) s2 = sig[t] + 0.3 * (s2 - sig[t]);
      lsig[l].rel[t] = s2;
    }
  }

  // Through-plane Gaussian slice profile (FWHM = slice thickness).
  const int K = std::max(1, spec.profile_samples);
  std::vector<double> zoff(K), zw(K);
  {
    const double fwhm = spec.slice_thickness, sd = fwhm / 2.3548;
    double ws = 0;
    for (int k = 0; k < K; ++k) {
      zoff[k] = K == 1 ? 0 : (k - (K - 1) / 2.0) * (2 * fwhm / (K - 1));
      zw[k] = std::exp(-0.5 * zoff[k] * zoff[k] / (sd * sd));
      ws += zw[k];
    }
    for (auto& v : zw) v /= ws;
  }

  // ---------------- pass 1: noise-free k-space per slice --------------------------------
  std::vector<SliceWork> work(S);
  parallel_for(S, [&](int64_t s) {
    check_interrupted();
    SliceWork& sw = work[s];
    const double zc = out.slice_z[s];
    const int64_t npx = static_cast<int64_t>(g.hf) * g.wf;
    std::vector<std::vector<cfloat>> m(NV, std::vector<cfloat>(npx, cfloat(0)));
    std::vector<uint8_t> support(npx, 0);
    const int nr = g.nr;
    std::vector<float> lab_acc(static_cast<size_t>(nr) * nr * kNumTissues, 0.0f);
    std::vector<float> les_acc(static_cast<size_t>(nr) * nr * std::max(1, NL), 0.0f);
    // From the lesion-free anatomy, so that a lesion pair shares scale and noise model.
    std::vector<float> brain_frac(static_cast<size_t>(nr) * nr, 0.0f);
    std::vector<float> head_frac(static_cast<size_t>(nr) * nr, 0.0f);
    // Lesions that reach this slice.
    std::vector<int> active;
    for (int l = 0; l < NL; ++l)
      if (std::abs(out.lesions[l].center[2] - zc) < out.lesions[l].footprint_radius() + 2 * spec.slice_thickness)
        active.push_back(l);
    for (int64_t i = 0; i < g.hf; ++i) {
      const double y = (g.hf / 2 - i) * g.dxf;
      if (std::abs(y) > 140) continue;
      const bool coarse_row = i % g.f == 0;
      const int64_t I = i / g.f - g.row0;  // recon row
      for (int64_t j = 0; j < g.wf; ++j) {
        const double x = (g.wf / 2 - j) * g.dxf;
        if (std::abs(x) > 115) continue;
        const bool coarse = coarse_row && j % g.f == 0 && I >= 0 && I < nr;
        const int64_t J = j / g.f;
        double acc0 = 0, acc1 = 0;
        for (int k = 0; k < K; ++k) {
          const double z = zc + zoff[k];
          const Fractions f0 = sample_subject(atlas, warp, x, y, z);
          double host0 = 0;
          for (int t = 1; t < kNumTissues; ++t) host0 += f0.f[t] * sig[t];
          double val = host0;
          const Fractions* fl = &f0;
          Fractions f1;
          if (!active.empty()) {
            double u[3] = {0, 0, 0};
            for (int l : active) {
              const auto d = out.lesions[l].displacement(x, y, z);
              for (int q = 0; q < 3; ++q) u[q] += d[q];
            }
            if (u[0] != 0 || u[1] != 0 || u[2] != 0) {
              f1 = sample_subject(atlas, warp, x - u[0], y - u[1], z - u[2]);
              fl = &f1;
              val = 0;
              for (int t = 1; t < kNumTissues; ++t) val += f1.f[t] * sig[t];
            }
            for (int l : active) {
              const LesionMembership lm = lesion_membership(out.lesions[l], x, y, z, g.dxf);
              const float tot = lm.total();
              if (tot <= 0) continue;
              double rel = 0;
              for (int t = 1; t < kNumTissues; ++t) rel += fl->f[t] * lsig[l].rel[t];
              val = (1 - lm.core - lm.rim) * ((1 - lm.edema) * val + lm.edema * rel) +
                    lm.core * lsig[l].core + lm.rim * lsig[l].rim;
              if (coarse) les_acc[(I * nr + J) * std::max(1, NL) + l] += static_cast<float>(zw[k] * tot);
            }
          }
          acc0 += zw[k] * val;
          acc1 += zw[k] * host0;
          if (coarse) {
            float* la = &lab_acc[(I * nr + J) * kNumTissues];
            for (int t = 0; t < kNumTissues; ++t) la[t] += static_cast<float>(zw[k] * fl->f[t]);
            brain_frac[I * nr + J] += static_cast<float>(
                zw[k] * (f0.f[kGM] + f0.f[kWM] + f0.f[kDeepGM]));
            head_frac[I * nr + J] += static_cast<float>(zw[k] * (1 - f0.f[kAir]));
          }
        }
        if (acc0 == 0 && acc1 == 0) continue;
        cd ph = std::polar(1.0, phase.eval(x, y, zc));
        if (diel_a > 0) {
          const double r2 = (x * x + y * y) / (2 * diel_w * diel_w);
          const double e = std::exp(-r2);
          ph *= (1 + diel_a * e) * std::polar(1.0, diel_ph * (1 - e));
        }
        const int64_t p = i * g.wf + j;
        m[0][p] = cfloat(acc0 * ph);
        if (pair) m[1][p] = cfloat(acc1 * ph);
        support[p] = 1;
      }
    }
    // Labels and lesion mask on the recon grid.
    sw.labels = Array<uint8_t>({nr, nr});
    sw.lesion = Array<uint8_t>({nr, nr});
    for (int64_t q = 0; q < int64_t{nr} * nr; ++q) {
      const float* la = &lab_acc[q * kNumTissues];
      float nonair = 0;
      for (int t = 1; t < kNumTissues; ++t) nonair += la[t];
      int best = 0;
      float bv = std::max(0.0f, 1.0f - nonair);
      for (int t = 1; t < kNumTissues; ++t)
        if (la[t] > bv) {
          bv = la[t];
          best = t;
        }
      sw.labels[q] = static_cast<uint8_t>(best);
      int bl = 0;
      float lv = 0.5f;
      for (int l = 0; l < NL; ++l)
        if (les_acc[q * std::max(1, NL) + l] > lv) {
          lv = les_acc[q * std::max(1, NL) + l];
          bl = l + 1;
        }
      sw.lesion[q] = static_cast<uint8_t>(bl);
    }
    // Coil images on the fine grid -> centred FFT -> central crop.
    sw.k.assign(NV, Array<cfloat>({C, g.h, g.w}));
    sw.obj.assign(NV, Array<cfloat>({g.h, g.w}));
    sw.sens = Array<cfloat>({C, g.h, g.w});
    Array<cfloat> buf({g.hf, g.wf});
    const int64_t r0 = (g.hf - g.h) / 2, c0 = (g.wf - g.w) / 2;
    const float crop_scale = 1.0f / static_cast<float>(g.f);  // sqrt(N_coarse / N_fine)
    auto crop_into = [&](cfloat* dst) {
      for (int64_t a = 0; a < g.h; ++a)
        for (int64_t b = 0; b < g.w; ++b)
          dst[a * g.w + b] = buf[(a + r0) * g.wf + b + c0] * crop_scale;
    };
    for (int v = 0; v < NV; ++v) {
      std::copy(m[v].begin(), m[v].end(), buf.data());
      fft2c(buf.view());
      crop_into(sw.obj[v].data());
    }
    std::vector<cfloat> sc(npx);
    for (int c = 0; c < C; ++c) {
      check_interrupted();
      for (int64_t i = 0; i < g.hf; ++i) {
        const double y = (g.hf / 2 - i) * g.dxf;
        const bool coarse_row = i % g.f == 0;
        for (int64_t j = 0; j < g.wf; ++j) {
          const int64_t p = i * g.wf + j;
          const bool coarse = coarse_row && j % g.f == 0;
          if (!support[p] && !coarse) continue;
          const double x = (g.wf / 2 - j) * g.dxf;
          const cfloat s = cfloat(coils.sensitivity(c, x, y, zc));
          sc[p] = s;
          if (coarse) sw.sens[(int64_t{c} * g.h + i / g.f) * g.w + j / g.f] = s;
        }
      }
      for (int v = 0; v < NV; ++v) {
        for (int64_t p = 0; p < npx; ++p) buf[p] = support[p] ? m[v][p] * sc[p] : cfloat(0);
        fft2c(buf.view());
        crop_into(&sw.k[v][int64_t{c} * g.h * g.w]);
      }
    }
    // Coil overlap over head pixels (recon grid) for the noise correlation model.
    sw.overlap.assign(static_cast<size_t>(C) * C, 0.0);
    for (int64_t I = 0; I < nr; ++I)
      for (int64_t J = 0; J < nr; ++J) {
        if (head_frac[I * nr + J] < 0.5f) continue;
        const int64_t base = (I + g.row0) * g.w + J;
        for (int a = 0; a < C; ++a) {
          const cd sa = sw.sens[int64_t{a} * g.h * g.w + base];
          for (int b = 0; b < C; ++b)
            sw.overlap[a * C + b] += sa * std::conj(cd(sw.sens[int64_t{b} * g.h * g.w + base]));
        }
      }
    // Noise-free RSS over the brain (lesion-free variant when paired).
    const Array<float> r = rss_crop(sw.k[NV - 1].view(), nr, nr);
    for (int64_t q = 0; q < int64_t{nr} * nr; ++q)
      if (brain_frac[q] > 0.5f) {
        sw.brain_sum += r[q];
        ++sw.brain_count;
      }
  });

  // ---------------- scale, SNR, noise covariance -----------------------------------------
  double brain_sum = 0;
  int64_t brain_count = 0;
  std::vector<cd> overlap(static_cast<size_t>(C) * C, 0.0);
  for (int s = 0; s < S; ++s) {
    brain_sum += work[s].brain_sum;
    brain_count += work[s].brain_count;
    for (size_t q = 0; q < overlap.size(); ++q) overlap[q] += work[s].overlap[q];
  }
  RB_ASSERT(brain_count > 0, "no brain pixels in any slice of ", spec.name);
  const double mean_brain = brain_sum / brain_count;
  Rng srng{spec.seed, spec.index, kScale};
  double vendor_factor = spec.vendor == Vendor::Siemens ? 1.0 : spec.vendor == Vendor::Philips ? 2.2 : 0.5;
  const double target = spec.scale > 0 ? spec.scale : srng.lognormal(1.2e-4, 0.35) * vendor_factor;
  const double factor = target / mean_brain;
  double snr = spec.snr;
  if (snr <= 0) {
    snr = srng.uniform(28, 58);
    if (spec.field_t < 2) snr *= 0.8;
    if (spec.acquisition == "AXT1POST") snr *= 0.85;
  }
  out.snr = snr;
  out.sigma_rms = target / snr;
  std::vector<cd> R(overlap.size());
  for (int a = 0; a < C; ++a)
    for (int b = 0; b < C; ++b)
      R[a * C + b] = overlap[a * C + b] / std::sqrt(overlap[a * C + a].real() * overlap[b * C + b].real());
  const std::vector<cd> psi = make_noise_covariance(R, C, out.sigma_rms, spec.seed, spec.index);
  const std::vector<cd> L = cholesky_lower(psi, C);

  // ---------------- pass 2: scale, noise, vendor encoding -------------------------------
  const bool ge = spec.vendor == Vendor::GE;
  const int64_t H = ge ? g.nr : g.h, W = g.w;
  out.kspace = Array<cfloat>({S, C, H, W});
  if (pair) out.kspace_nolesion = Array<cfloat>({S, C, H, W});
  out.rss = Array<float>({S, g.nr, g.nr});
  if (pair) out.rss_nolesion = Array<float>({S, g.nr, g.nr});
  out.image_complex = Array<cfloat>({S, g.nr, g.nr});
  if (pair) out.image_complex_nolesion = Array<cfloat>({S, g.nr, g.nr});
  out.sens = Array<cfloat>({S, C, H, W});
  out.labels = Array<uint8_t>({S, g.nr, g.nr});
  out.lesion_mask = Array<uint8_t>({S, g.nr, g.nr});
  std::vector<double> filter_gain(S, 1.0);
  parallel_for(S, [&](int64_t s) {
    check_interrupted();
    SliceWork& sw = work[s];
    Rng nrng{spec.seed, spec.index, kNoise, static_cast<uint64_t>(s)};
    const int64_t plane = int64_t{g.h} * g.w;
    std::vector<cd> z(C);
    const double inv_sqrt2 = 1.0 / std::sqrt(2.0);
    for (auto& k : sw.k)
      for (auto& v : k.flat()) v *= static_cast<float>(factor);
    for (auto& k : sw.obj)
      for (auto& v : k.flat()) v *= static_cast<float>(factor);
    for (int64_t a = 0; a < g.h; ++a)
      for (int64_t b = 0; b < g.w; ++b) {
        const bool acquired = b >= g.pad_left && b < g.pad_left + g.acquired;
        if (!acquired) {
          for (auto& k : sw.k)
            for (int c = 0; c < C; ++c) k[c * plane + a * g.w + b] = 0;
          for (auto& o : sw.obj) o[a * g.w + b] = 0;
          continue;
        }
        for (int c = 0; c < C; ++c) {
          const double re = nrng.normal(), im = nrng.normal();
          z[c] = cd(re, im) * inv_sqrt2;
        }
        for (int c = 0; c < C; ++c) {
          cd n = 0;
          for (int d = 0; d <= c; ++d) n += L[c * C + d] * z[d];
          for (auto& k : sw.k) k[c * plane + a * g.w + b] += cfloat(n);
        }
      }
    std::vector<Array<cfloat>> final_k(sw.k.size());
    Array<cfloat> sens;
    std::vector<Array<cfloat>> obj(sw.obj.size());
    if (ge) {
      for (size_t v = 0; v < sw.k.size(); ++v) filter_gain[s] = ge_decimate(sw.k[v], final_k[v]);
      for (size_t v = 0; v < sw.obj.size(); ++v) {
        Array<cfloat> o3 = sw.obj[v];
        o3.reshape({1, g.h, g.w});
        ge_decimate(o3, obj[v]);
        obj[v].reshape({g.nr, g.w});
      }
      sens = Array<cfloat>({C, g.nr, g.w});
      for (int c = 0; c < C; ++c)
        for (int64_t a = 0; a < g.nr; ++a)
          for (int64_t b = 0; b < g.w; ++b)
            sens[(c * g.nr + a) * g.w + b] = sw.sens[c * plane + (a + g.row0) * g.w + b];
    } else {
      final_k = std::move(sw.k);
      obj = std::move(sw.obj);
      sens = std::move(sw.sens);
    }
    const int64_t vol_plane = int64_t{C} * H * W;
    std::copy(final_k[0].data(), final_k[0].data() + vol_plane, out.kspace.data() + s * vol_plane);
    std::copy(sens.data(), sens.data() + vol_plane, out.sens.data() + s * vol_plane);
    const int64_t img_plane = int64_t{g.nr} * g.nr;
    const Array<float> r0 = rss_crop(final_k[0].view(), g.nr, g.nr);
    std::copy(r0.data(), r0.data() + img_plane, out.rss.data() + s * img_plane);
    auto object_image = [&](Array<cfloat>& o, Array<cfloat>& dst) {
      Array<cfloat> img = ifft2c_copy(o.view());
      const int64_t hh = o.dim(0), rr = (hh - g.nr) / 2;
      for (int64_t a = 0; a < g.nr; ++a)
        for (int64_t b = 0; b < g.nr; ++b) dst[s * img_plane + a * g.nr + b] = img[(a + rr) * g.w + b];
    };
    object_image(obj[0], out.image_complex);
    if (pair) {
      std::copy(final_k[1].data(), final_k[1].data() + vol_plane, out.kspace_nolesion.data() + s * vol_plane);
      const Array<float> r1 = rss_crop(final_k[1].view(), g.nr, g.nr);
      std::copy(r1.data(), r1.data() + img_plane, out.rss_nolesion.data() + s * img_plane);
      object_image(obj[1], out.image_complex_nolesion);
    }
    std::copy(sw.labels.data(), sw.labels.data() + img_plane, out.labels.data() + s * img_plane);
    std::copy(sw.lesion.data(), sw.lesion.data() + img_plane, out.lesion_mask.data() + s * img_plane);
    sw = SliceWork{};
    if (progress) progress->tick();
  });
  const double gain = ge ? filter_gain[0] : 1.0;
  out.noise_cov.resize(psi.size());
  for (size_t q = 0; q < psi.size(); ++q) out.noise_cov[q] = psi[q] * gain;

  // Boxes per lesion and slice (recon-grid pixels).
  for (int l = 0; l < NL; ++l)
    for (int s = 0; s < S; ++s) {
      int x0 = g.nr, y0 = g.nr, x1 = -1, y1 = -1;
      for (int a = 0; a < g.nr; ++a)
        for (int b = 0; b < g.nr; ++b)
          if (out.lesion_mask[(int64_t{s} * g.nr + a) * g.nr + b] == l + 1) {
            x0 = std::min(x0, b);
            x1 = std::max(x1, b);
            y0 = std::min(y0, a);
            y1 = std::max(y1, a);
          }
      if (x1 >= 0) out.boxes.push_back({l, s, x0, y0, x1 - x0 + 1, y1 - y0 + 1});
    }

  // ISMRMRD header.
  IsmrmrdInfo& hd = out.header;
  hd.enc_x = H;
  hd.enc_y = W;
  hd.enc_z = 1;
  hd.recon_x = g.nr;
  hd.recon_y = g.nr;
  hd.recon_z = 1;
  hd.enc_fov_x = spec.fov_mm * static_cast<double>(H) / g.nr;
  hd.enc_fov_y = spec.fov_mm;
  hd.enc_fov_z = spec.slice_thickness;
  hd.recon_fov_x = spec.fov_mm;
  hd.recon_fov_y = spec.fov_mm;
  hd.recon_fov_z = spec.slice_thickness;
  hd.pe_min = 0;
  hd.pe_max = g.acquired - 1;
  hd.pe_center = g.w / 2 - g.pad_left;
  const bool hi = spec.field_t > 2;
  switch (spec.vendor) {
    case Vendor::Siemens:
      hd.vendor = "SIEMENS";
      hd.model = hi ? (C > 20 ? "Prisma_fit" : "Skyra") : (C > 16 ? "Aera" : "Avanto");
      break;
    case Vendor::Philips:
      hd.vendor = "Philips Medical Systems";
      hd.model = hi ? "Ingenia" : "Achieva";
      break;
    case Vendor::GE:
      hd.vendor = "GE MEDICAL SYSTEMS";
      hd.model = hi ? "DISCOVERY MR750" : "SIGNA HDxt";
      break;
  }
  hd.field_strength_t = spec.field_t;
  hd.receiver_channels = C;
  hd.tr_ms = out.sequence.tr;
  hd.te_ms = out.sequence.te;
  hd.ti_ms = out.sequence.ti;
  hd.flip_angle_deg = out.sequence.flip_deg;
  hd.protocol_name = spec.acquisition;

  // Parameters for the truth file.
  nlohmann::json& P = out.params;
  P["name"] = spec.name;
  P["seed"] = spec.seed;
  P["index"] = spec.index;
  P["subject"] = spec.subject;
  P["anatomy"] = atlas.source;
  P["acquisition"] = spec.acquisition;
  P["vendor"] = vendor_name(spec.vendor);
  P["field_t"] = spec.field_t;
  P["coils"] = C;
  P["recon"] = {g.nr, g.nr};
  P["readout"] = H;
  P["phase"] = W;
  P["phase_resolution"] = spec.phase_resolution;
  P["pe_padding"] = {g.pad_left, g.pad_left + g.acquired};
  P["fov_mm"] = spec.fov_mm;
  P["fine_factor"] = g.f;
  P["slice_thickness_mm"] = spec.slice_thickness;
  P["slice_z_mm"] = out.slice_z;
  P["slice_profile"] = {{"shape", "gaussian"}, {"fwhm_mm", spec.slice_thickness}, {"samples", K}};
  P["sequence"] = {{"name", out.sequence.name},
                   {"kind", out.sequence.kind == SeqKind::InversionRecovery ? "IR" : "SE"},
                   {"TR", out.sequence.tr}, {"TE", out.sequence.te}, {"TI", out.sequence.ti},
                   {"flip", out.sequence.flip_deg}, {"gadolinium", out.sequence.gadolinium}};
  nlohmann::json tj = nlohmann::json::object();
  for (int t = 1; t < kNumTissues; ++t)
    tj[tissue_name(t)] = {{"pd", tissues[t].pd}, {"t1", tissues[t].t1}, {"t2", tissues[t].t2},
                          {"gd", tissues[t].gd}, {"signal", sig[t]}};
  P["tissues"] = tj;
  P["subject_warp"] = {{"angles_deg", {warp.angles_deg[0], warp.angles_deg[1], warp.angles_deg[2]}},
                       {"scale", warp.scale}, {"shift_mm", warp.shift}, {"atrophy", warp.atrophy}};
  P["phase_model"] = {{"phi0", phase.phi0}, {"poly_excursion_rad", phase_exc}, {"random_sd_rad", phase_sd}};
  P["dielectric"] = {{"amplitude", diel_a}, {"width_mm", diel_w}, {"phase_rad", diel_ph}};
  nlohmann::json cj = nlohmann::json::array();
  for (const auto& lp : coils.loops)
    cj.push_back({{"center_mm", lp.center}, {"normal", lp.normal}, {"radius_mm", lp.radius},
                  {"gain", {lp.gain.real(), lp.gain.imag()}}});
  P["coil_loops"] = cj;
  const NoiseStats ns = noise_stats(out.noise_cov, C);
  P["noise"] = {{"snr_target", snr}, {"sigma_rms", out.sigma_rms * std::sqrt(gain)},
                {"mean_abs_rho", ns.mean_abs_rho}, {"max_abs_rho", ns.max_abs_rho},
                {"sigma_spread", ns.sigma_spread}, {"ge_filter_noise_gain", gain}};
  P["scale"] = {{"brain_mean_rss", target}, {"factor", factor}};
  nlohmann::json lj = nlohmann::json::array();
  for (const auto& l : out.lesions)
    lj.push_back({{"type", lesion_type_name(l.type)}, {"center_mm", l.center}, {"axes_mm", l.axes},
                  {"r_core", l.r_core}, {"r_edema", l.r_edema}, {"has_rim", l.has_rim},
                  {"has_core", l.has_core}, {"rim_gd_mM", l.rim.gd}, {"core_gd_mM", l.core.gd},
                  {"edema_factors", {l.edema.pd, l.edema.t1, l.edema.t2, l.edema.gd}},
                  {"mass_effect_mm", l.mass_effect}, {"mass_decay_mm", l.mass_decay},
                  {"footprint_radius_mm", l.footprint_radius()},
                  {"center_px", {g.nr / 2.0 - l.center[1] / g.dx, g.nr / 2.0 - l.center[0] / g.dx}},
                  {"footprint_radius_px", l.footprint_radius() / g.dx}});
  P["lesions"] = lj;
  (void)smoothstep;
  return out;
}

}  // namespace rb::sim
