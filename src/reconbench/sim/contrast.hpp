// Tissue parameters, sequences and closed-form signal equations (design/simulator.md §2.3).
//
//   spin echo (SE/TSE):  S = PD (1 - e^{-TR/T1}) e^{-TE/T2}
//   inversion recovery:  S = PD (1 - 2 e^{-TI/T1} + e^{-TR/T1}) e^{-TE/T2}   (signed: a
//                        negative value is kept as a phase of pi, §2.5)
//   spoiled gradient echo (FLASH/SPGR, Haacke 1999):
//                        S = PD sin(a) (1 - E1) / (1 - cos(a) E1) e^{-TE/T2*},
//                        E1 = e^{-TR/T1}, T2* ~ T2 / 2 (static dephasing not refocused)
//   gadolinium:          1/T1' = 1/T1 + r1 C,  1/T2' = 1/T2 + r2 C  (Rohrer 2005)
#pragma once

#include <array>
#include <complex>
#include <string>

#include "reconbench/sim/anatomy.hpp"

namespace rb::sim {

class Rng;

enum class Vendor { Siemens, Philips, GE };
const char* vendor_name(Vendor v);   // "siemens", "philips", "ge"
Vendor parse_vendor(const std::string& s);

struct TissueParams {
  double pd = 0;   // proton density (relative, CSF = 1)
  double t1 = 1;   // ms
  double t2 = 1;   // ms
  double gd = 0;   // gadolinium concentration after injection, mM
  double flow_void = 0;  // 0..1 signal loss in SE/TSE (arteries, fast venous flow)
};

// Literature means (Stanisz 2005, Wansapura 1999, Rooney 2007, BrainWeb) for 1.5 or 3 T.
std::array<TissueParams, kNumTissues> base_tissue_params(double field_t);
// Per-subject jitter (+-5-10 %) of the base values.
std::array<TissueParams, kNumTissues> jitter_tissue_params(
    const std::array<TissueParams, kNumTissues>& base, Rng& rng);

enum class SeqKind { SpinEcho, InversionRecovery, GradientEcho };
struct Sequence {
  std::string acquisition;   // AXT1, AXT1PRE, AXT1POST, AXT2, AXFLAIR
  SeqKind kind = SeqKind::SpinEcho;
  double tr = 500, te = 10, ti = 0, flip_deg = 90;  // ms, degrees
  // Effective echo time of static off-resonance (ms): the full TE for gradient echoes; spin
  // echoes refocus it at the echo, leaving a small residual (echo-centre timing, eddy
  // currents), 0.2-1 ms.
  double te_b0 = 1;
  bool gadolinium = false;
  std::string name;          // "T1 SE", "T1 GRE", "T1-FLAIR", "T2 TSE", "FLAIR"
};

// Sequence for a contrast/vendor/field with parameters drawn from clinical ranges. GE
// "FLAIR" is T1-weighted (T1-FLAIR), as in the 2020 Transfer data. T1 contrasts are a spoiled
// gradient echo (2-D FLASH: TR 200-350 ms, TE at a fat-water in-phase time +-5 %, flip
// 65-80 deg) in 40 % of the
// volumes (30 % after gadolinium), else spin echo at 1.5 T and T1-FLAIR at 3 T.
Sequence make_sequence(const std::string& acquisition, Vendor vendor, double field_t, Rng& rng);

// Relaxivities r1, r2 (1/(s mM)) at a field strength.
std::pair<double, double> gd_relaxivity(double field_t);

// Complex signal of one tissue (sign of IR kept; real-valued otherwise).
double tissue_signal(const TissueParams& p, const Sequence& seq, double field_t);

// Null point of an inversion: TI = T1 [ln 2 - ln(1 + e^{-TR/T1})].
double null_ti(double t1, double tr);

}  // namespace rb::sim
