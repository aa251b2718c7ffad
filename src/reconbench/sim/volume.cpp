#include "reconbench/sim/volume.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "reconbench/core/error.hpp"
#include "reconbench/core/parallel.hpp"
#include "reconbench/core/progress.hpp"
#include "reconbench/fft/fft.hpp"
#include "reconbench/sim/volume_plan.hpp"

namespace rb::sim {

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

std::vector<double> ge_filter_taps() {
  // Hamming-windowed sinc, cutoff 0.25 cycles/sample (the recon FOV edge), 63 taps:
  // pass band to ~0.9 of the recon half-FOV, stop band beyond ~1.1.
  constexpr double kPi = std::numbers::pi;
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
  for (auto& v : hk) v /= sum;
  return hk;
}

double ge_decimate(const Array<cfloat>& in, Array<cfloat>& out) {
  RB_ASSERT(in.ndim() == 3 && in.dim(1) % 2 == 0);
  const int64_t C = in.dim(0), H = in.dim(1), W = in.dim(2), Ho = H / 2;
  const std::vector<double> hk = ge_filter_taps();
  const int M = static_cast<int>(hk.size() / 2);
  double energy = 0;
  for (double v : hk) energy += v * v;
  out = Array<cfloat>({C, Ho, W});
  for (int64_t c = 0; c < C; ++c)
    for (int64_t j = 0; j < Ho; ++j) {
      // output sample j <- input 2j (the centre H/2 maps to Ho/2)
      for (int64_t x = 0; x < W; ++x) {
        std::complex<double> acc = 0;
        for (int m = -M; m <= M; ++m) {
          const int64_t q = 2 * j - m;
          if (q < 0 || q >= H) continue;
          acc += hk[m + M] * std::complex<double>(in[(c * H + q) * W + x]);
        }
        out[(c * Ho + j) * W + x] = cfloat(acc);
      }
    }
  return energy;
}

void allocate_volume(const VolumePlan& P, int S, SimulatedVolume& out) {
  const Geometry& g = P.g;
  const int C = P.spec.coils;
  const bool pair = P.variants() > 1;
  const int64_t H = P.spec.vendor == Vendor::GE ? g.nr : g.h, W = g.w;
  out.kspace = Array<cfloat>({S, C, H, W});
  if (pair) out.kspace_nolesion = Array<cfloat>({S, C, H, W});
  out.rss = Array<float>({S, g.nr, g.nr});
  if (pair) out.rss_nolesion = Array<float>({S, g.nr, g.nr});
  out.image_complex = Array<cfloat>({S, g.nr, g.nr});
  if (pair) out.image_complex_nolesion = Array<cfloat>({S, g.nr, g.nr});
  out.sens = Array<cfloat>({S, C, H, W});
  out.labels = Array<uint8_t>({S, g.nr, g.nr});
  out.lesion_mask = Array<uint8_t>({S, g.nr, g.nr});
}

namespace {

SimulatedVolume simulate_subset(const VolumeSpec& spec, const TissueAtlas& atlas,
                                const std::vector<int>& slices, Progress* progress) {
  const VolumePlan plan = plan_volume(spec, atlas);
  SimulatedVolume out;
  out.spec = spec;
  out.sequence = plan.sequence;
  out.lesions = plan.lesions;
  for (int s : slices) {
    RB_CHECK(s >= 0 && s < spec.slices, "simulate: slice ", s, " outside [0, ", spec.slices, ")");
    out.slice_z.push_back(plan.slice_z[s]);
  }
  allocate_volume(plan, static_cast<int>(slices.size()), out);
  std::vector<int> vessels(slices.size()), pvs(slices.size());
  parallel_for(static_cast<int64_t>(slices.size()), [&](int64_t i) {
    check_interrupted();
    SliceSynthesis syn = synthesize_slice(plan, atlas, slices[i]);
    vessels[i] = syn.vessels;
    pvs[i] = syn.pvs;
    encode_slice(plan, slices[i], syn, out, static_cast<int>(i));
    if (progress) progress->tick();
  });
  finish_volume(plan, atlas, out);
  out.params["fine_structure"]["vessels_per_slice"] = vessels;
  out.params["fine_structure"]["pvs_per_slice"] = pvs;
  return out;
}

}  // namespace

SimulatedVolume simulate_volume(const VolumeSpec& spec, const TissueAtlas& atlas, Progress* progress) {
  std::vector<int> all(std::max(0, spec.slices));
  for (int s = 0; s < spec.slices; ++s) all[s] = s;
  return simulate_subset(spec, atlas, all, progress);
}

SimulatedVolume simulate_slices(const VolumeSpec& spec, const TissueAtlas& atlas,
                                const std::vector<int>& slices, Progress* progress) {
  RB_CHECK(!slices.empty(), "simulate: no slice requested");
  return simulate_subset(spec, atlas, slices, progress);
}

namespace {

// Boxes per lesion and slice (recon-grid pixels).
std::vector<LesionBox> lesion_boxes(const Array<uint8_t>& mask, int lesions) {
  std::vector<LesionBox> boxes;
  const int S = static_cast<int>(mask.dim(0)), n = static_cast<int>(mask.dim(1));
  for (int l = 0; l < lesions; ++l)
    for (int s = 0; s < S; ++s) {
      int x0 = n, y0 = n, x1 = -1, y1 = -1;
      for (int a = 0; a < n; ++a)
        for (int b = 0; b < n; ++b)
          if (mask[(int64_t{s} * n + a) * n + b] == l + 1) {
            x0 = std::min(x0, b);
            x1 = std::max(x1, b);
            y0 = std::min(y0, a);
            y1 = std::max(y1, a);
          }
      if (x1 >= 0) boxes.push_back({l, s, x0, y0, x1 - x0 + 1, y1 - y0 + 1});
    }
  return boxes;
}

IsmrmrdInfo make_header(const VolumePlan& P) {
  const Geometry& g = P.g;
  const VolumeSpec& spec = P.spec;
  const int C = spec.coils;
  IsmrmrdInfo hd;
  hd.enc_x = spec.vendor == Vendor::GE ? g.nr : g.h;
  hd.enc_y = g.w;
  hd.enc_z = 1;
  hd.recon_x = g.nr;
  hd.recon_y = g.nr;
  hd.recon_z = 1;
  hd.enc_fov_x = spec.fov_mm * static_cast<double>(hd.enc_x) / g.nr;
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
  hd.tr_ms = P.sequence.tr;
  hd.te_ms = P.sequence.te;
  hd.ti_ms = P.sequence.ti;
  hd.flip_angle_deg = P.sequence.flip_deg;
  hd.protocol_name = spec.acquisition;
  return hd;
}

// Everything drawn, for the truth file.
nlohmann::json truth_params(const VolumePlan& P, const TissueAtlas& atlas, const SimulatedVolume& out) {
  const Geometry& g = P.g;
  const VolumeSpec& spec = P.spec;
  nlohmann::json J;
  J["name"] = spec.name;
  J["seed"] = spec.seed;
  J["index"] = spec.index;
  J["subject"] = spec.subject;
  J["anatomy"] = atlas.source;
  J["acquisition"] = spec.acquisition;
  J["vendor"] = vendor_name(spec.vendor);
  J["field_t"] = spec.field_t;
  J["coils"] = spec.coils;
  J["recon"] = {g.nr, g.nr};
  J["readout"] = out.header.enc_x;
  J["phase"] = out.header.enc_y;
  J["phase_resolution"] = spec.phase_resolution;
  J["pe_padding"] = {g.pad_left, g.pad_left + g.acquired};
  J["fov_mm"] = spec.fov_mm;
  J["fine_factor"] = g.f;
  J["slice_thickness_mm"] = spec.slice_thickness;
  J["slice_z_mm"] = out.slice_z;
  J["slice_profile"] = {{"shape", "gaussian"}, {"fwhm_mm", spec.slice_thickness}, {"samples", P.zoff.size()}};
  const Sequence& q = P.sequence;
  J["sequence"] = {{"name", q.name}, {"kind", q.kind == SeqKind::InversionRecovery ? "IR" : q.kind == SeqKind::GradientEcho ? "GRE" : "SE"},
                   {"TR", q.tr}, {"TE", q.te}, {"TI", q.ti}, {"flip", q.flip_deg},
                   {"gadolinium", q.gadolinium}, {"TE_b0_ms", q.te_b0}};
  nlohmann::json tj = nlohmann::json::object();
  for (int t = 1; t < kNumTissues; ++t)
    tj[tissue_name(t)] = {{"pd", P.tissues[t].pd}, {"t1", P.tissues[t].t1}, {"t2", P.tissues[t].t2},
                          {"gd", P.tissues[t].gd}, {"signal", P.sig[t]}, {"chi_ppm", tissue_chi_ppm(t)}};
  J["tissues"] = tj;
  const SubjectWarp& w = P.warp;
  J["subject_warp"] = {{"angles_deg", {w.angles_deg[0], w.angles_deg[1], w.angles_deg[2]}},
                       {"scale", w.scale}, {"shift_mm", w.shift}, {"atrophy", w.atrophy}};
  J["phase_model"] = {{"phi0", P.phase.phi0}, {"poly_excursion_rad", P.phase.excursion},
                      {"random_sd_rad", P.phase.random_sd}, {"fine_sd_rad", P.fine.phase_sd},
                      {"b0_rad_per_ppm", P.b0_phase_per_ppm}};
  J["dielectric"] = {{"amplitude", P.diel.amplitude}, {"width_mm", P.diel.width}, {"phase_rad", P.diel.phase}};
  const FineStructureParams& fp = P.fine;
  J["fine_structure"] = {{"texture_brain", fp.texture_brain}, {"texture_other", fp.texture_other},
                         {"texture_beta", fp.texture_beta}, {"fold_eps", fp.fold_eps},
                         {"fold_alpha", fp.fold_alpha}, {"fold_width", fp.fold_width},
                         {"vessel_density", fp.vessel_density}, {"pvs_density", fp.pvs_density}};
  nlohmann::json cj = nlohmann::json::array();
  for (const auto& lp : P.coils.loops)
    cj.push_back({{"center_mm", lp.center}, {"normal", lp.normal}, {"radius_mm", lp.radius},
                  {"gain", {lp.gain.real(), lp.gain.imag()}}});
  J["coil_loops"] = cj;
  J["coil_wave_rad_per_mm"] = P.coils.wave_k;
  const NoiseStats ns = noise_stats(out.noise_cov, spec.coils);
  J["noise"] = {{"snr_target", P.snr}, {"sigma_rms", P.sigma_rms * std::sqrt(P.filter_gain)},
                {"mean_abs_rho", ns.mean_abs_rho}, {"max_abs_rho", ns.max_abs_rho},
                {"sigma_spread", ns.sigma_spread}, {"ge_filter_noise_gain", P.filter_gain}};
  J["scale"] = {{"brain_mean_rss", P.target}, {"factor", P.factor}};
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
  J["lesions"] = lj;
  return J;
}

}  // namespace

void finish_volume(const VolumePlan& P, const TissueAtlas& atlas, SimulatedVolume& out) {
  out.snr = P.snr;
  out.sigma_rms = P.sigma_rms;
  out.noise_cov.resize(P.psi.size());
  for (size_t q = 0; q < P.psi.size(); ++q) out.noise_cov[q] = P.psi[q] * P.filter_gain;
  out.boxes = lesion_boxes(out.lesion_mask, static_cast<int>(P.lesions.size()));
  out.header = make_header(P);
  out.params = truth_params(P, atlas, out);
}

}  // namespace rb::sim
