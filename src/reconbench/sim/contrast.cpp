#include "reconbench/sim/contrast.hpp"

#include <cmath>
#include <numbers>

#include "reconbench/core/error.hpp"
#include "reconbench/sim/rng.hpp"

namespace rb::sim {

const char* vendor_name(Vendor v) {
  switch (v) {
    case Vendor::Siemens: return "siemens";
    case Vendor::Philips: return "philips";
    case Vendor::GE: return "ge";
  }
  return "?";
}

Vendor parse_vendor(const std::string& s) {
  if (s == "siemens") return Vendor::Siemens;
  if (s == "philips") return Vendor::Philips;
  if (s == "ge") return Vendor::GE;
  throw UserError("unknown vendor '" + s + "' (siemens, philips, ge)");
}

std::array<TissueParams, kNumTissues> base_tissue_params(double field_t) {
  const bool hi = field_t > 2.0;
  std::array<TissueParams, kNumTissues> p{};
  //                 PD     T1 1.5T / 3T          T2
  p[kAir] = {0.0, 1000, 1, 0, 0};
  p[kSkin] = {0.70, hi ? 1000.0 : 800.0, 50, 0.04, 0};
  p[kFat] = {0.95, hi ? 375.0 : 275.0, 80, 0, 0};
  p[kMuscle] = {0.80, hi ? 1400.0 : 1000.0, 45, 0.03, 0};
  p[kBone] = {0.05, hi ? 1400.0 : 1000.0, 1.0, 0, 0};
  p[kMarrow] = {0.85, hi ? 390.0 : 290.0, 70, 0.02, 0};
  p[kDura] = {0.70, hi ? 1000.0 : 800.0, 50, 0.12, 0};
  p[kCSF] = {1.00, 4300, 1800, 0, 0};
  p[kGM] = {0.80, hi ? 1550.0 : 1150.0, hi ? 95.0 : 100.0, 0, 0};
  p[kWM] = {0.70, hi ? 950.0 : 700.0, hi ? 72.0 : 78.0, 0, 0};
  p[kDeepGM] = {0.78, hi ? 1300.0 : 1000.0, hi ? 75.0 : 82.0, 0, 0};
  p[kVessel] = {0.80, hi ? 1750.0 : 1200.0, 200, 0.15, 0.5};
  return p;
}

std::array<TissueParams, kNumTissues> jitter_tissue_params(
    const std::array<TissueParams, kNumTissues>& base, Rng& rng) {
  auto p = base;
  for (int t = 1; t < kNumTissues; ++t) {
    p[t].pd *= 1 + rng.uniform(-0.05, 0.05);
    p[t].t1 *= 1 + rng.uniform(-0.08, 0.08);
    p[t].t2 *= 1 + rng.uniform(-0.08, 0.08);
  }
  return p;
}

std::pair<double, double> gd_relaxivity(double field_t) {
  return field_t > 2.0 ? std::pair{3.7, 5.2} : std::pair{4.1, 4.6};
}

double null_ti(double t1, double tr) { return t1 * (std::log(2.0) - std::log1p(std::exp(-tr / t1))); }

Sequence make_sequence(const std::string& acq, Vendor vendor, double field_t, Rng& rng) {
  Sequence s;
  s.acquisition = acq;
  const bool hi = field_t > 2.0;
  const bool t1 = acq == "AXT1" || acq == "AXT1PRE" || acq == "AXT1POST";
  s.gadolinium = acq == "AXT1POST";
  if (t1 || (acq == "AXFLAIR" && vendor == Vendor::GE)) {
    const bool gre = t1 && rng.bernoulli(s.gadolinium ? 0.3 : 0.4);
    if (gre) {
      // TE near a fat-water in-phase time, n / (gamma_bar B0 3.4 ppm): 4.6 ms at 1.5 T,
      // 2.3 or 4.6 ms at 3 T.
      const double inphase = 1e3 / (42.577478 * field_t * 3.4);
      s.kind = SeqKind::GradientEcho;
      s.tr = rng.uniform(200, 350);
      s.te = inphase * (hi && rng.bernoulli(0.5) ? 2 : 1) * rng.uniform(0.95, 1.05);
      s.flip_deg = rng.uniform(65, 80);
      s.te_b0 = s.te;
      s.name = "T1 GRE";
      return s;
    }
    if (hi || acq == "AXFLAIR") {  // T1-FLAIR (3 T sites, and GE's "FLAIR")
      s.kind = SeqKind::InversionRecovery;
      s.tr = rng.uniform(2000, 2500);
      s.ti = rng.uniform(800, 1000);
      s.te = rng.uniform(8, 20);
      s.name = "T1-FLAIR";
    } else {
      s.kind = SeqKind::SpinEcho;
      s.tr = rng.uniform(400, 700);
      s.te = rng.uniform(8, 15);
      s.name = "T1 SE";
    }
    s.flip_deg = 90;
  } else if (acq == "AXT2") {
    s.kind = SeqKind::SpinEcho;
    s.tr = rng.uniform(3000, 6000);
    s.te = rng.uniform(80, 120);
    s.flip_deg = 90;
    s.name = "T2 TSE";
  } else if (acq == "AXFLAIR") {
    s.kind = SeqKind::InversionRecovery;
    s.tr = rng.uniform(8000, 10000);
    s.te = rng.uniform(80, 140);
    // Null CSF, with a +-5 % error so that CSF is not perfectly black.
    s.ti = null_ti(4300, s.tr) * (1 + rng.uniform(-0.05, 0.05));
    s.flip_deg = 90;
    s.name = "FLAIR";
  } else {
    throw UserError("unknown acquisition '" + acq + "' (AXT1, AXT1PRE, AXT1POST, AXT2, AXFLAIR)");
  }
  s.te_b0 = rng.uniform(0.2, 1.0);
  return s;
}

double tissue_signal(const TissueParams& p, const Sequence& seq, double field_t) {
  if (p.pd <= 0) return 0;
  double r1 = 1.0 / p.t1, r2 = 1.0 / p.t2;  // 1/ms
  if (seq.gadolinium && p.gd > 0) {
    const auto [g1, g2] = gd_relaxivity(field_t);
    r1 += g1 * p.gd / 1000.0;
    r2 += g2 * p.gd / 1000.0;
  }
  double s;
  if (seq.kind == SeqKind::GradientEcho) {
    const double a = seq.flip_deg * std::numbers::pi / 180, e1 = std::exp(-seq.tr * r1);
    s = p.pd * std::sin(a) * (1 - e1) / (1 - std::cos(a) * e1) * std::exp(-seq.te * 2 * r2);
  } else if (seq.kind == SeqKind::InversionRecovery) {
    s = p.pd * (1 - 2 * std::exp(-seq.ti * r1) + std::exp(-seq.tr * r1)) * std::exp(-seq.te * r2);
  } else {
    s = p.pd * (1 - std::exp(-seq.tr * r1)) * std::exp(-seq.te * r2);
  }
  // Flow void: moving blood leaves the slice between the 90 and 180 pulses; after Gd the
  // slow venous blood is bright (inflow void only partly kept). Gradient echoes have no
  // refocusing pulse: inflowing blood is bright instead (no void).
  const double void_frac = seq.kind == SeqKind::GradientEcho ? 0.0
                           : seq.gadolinium                   ? 0.3 * p.flow_void
                                                              : p.flow_void;
  return s * (1 - void_frac);
}

}  // namespace rb::sim
