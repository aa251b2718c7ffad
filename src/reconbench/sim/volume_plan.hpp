// The steps of simulate_volume (volume.hpp), as library functions:
//
//   plan_volume      everything drawn once per volume: subject warp, sequence and tissue
//                    signals, phase model, susceptibility field, coil array, slice stack,
//                    lesions, fine-structure amplitudes, and the scale and noise covariance
//                    (from a coarse pass over all slices, so that any subset of slices is
//                    simulated identically)
//   synthesize_slice one slice on the fine grid: tissue fractions (+ lesions, fine
//                    structure) -> m(r) e^{i phi(r)} -> x s_c(r) -> fft2c -> central crop
//   encode_slice     scale, correlated noise on acquired samples, vendor encoding, RSS and
//                    the noise-free object image, written into a SimulatedVolume
//   finish_volume    lesion boxes, ISMRMRD header, truth parameters
//
// Internal to the simulator (volume.cpp, tests); front ends call simulate_volume or
// simulate_slices.
#pragma once

#include <array>
#include <complex>
#include <vector>

#include "reconbench/sim/coils.hpp"
#include "reconbench/sim/fine_structure.hpp"
#include "reconbench/sim/susceptibility.hpp"
#include "reconbench/sim/volume.hpp"

namespace rb::sim {

using cd = std::complex<double>;

// phi = phi0 + phi_poly + phi_rand (design §2.5); phi_B0 and the fine phase are added per
// pixel (susceptibility.hpp, fine_structure.hpp); the IR sign is in the signal itself.
struct PhaseModel {
  double phi0 = 0;
  double poly[9] = {};  // x, y, z, x^2, y^2, z^2, xy, yz, xz  (coordinates / 100 mm)
  struct Wave {
    double k[3], ph, a;
  };
  std::vector<Wave> waves;
  double excursion = 0, random_sd = 0;  // drawn totals (truth parameters)
  double eval(double x, double y, double z) const;
};

// 3 T dielectric (wavelength) centre brightening 1 + a exp(-r^2 / 2 w^2) with a mild phase
// curvature, missing from quasi-static Biot-Savart (design §2.6).
struct Dielectric {
  double amplitude = 0, width = 60, phase = 0;
};

struct Geometry {
  int nr = 0;        // recon matrix
  int h = 0, w = 0;  // acquisition grid before vendor decimation: read = 2 nr, phase = nr
  int f = 2;         // fine factor
  int hf = 0, wf = 0;
  double dx = 0, dxf = 0;  // coarse / fine pixel (mm)
  int pad_left = 0, acquired = 0;
  int row0 = 0;      // first recon row in the oversampled grid
};

struct LesionSignals {
  double core = 0, rim = 0;
  std::array<double, kNumTissues> rel{};
};

struct VolumePlan {
  VolumeSpec spec;
  Geometry g;
  SubjectWarp warp;
  Sequence sequence;
  std::array<TissueParams, kNumTissues> tissues{};
  std::array<double, kNumTissues> sig{};  // signal per tissue
  double sig_artery = 0, sig_vein = 0;    // small vessels (fine_structure.hpp)
  PhaseModel phase;
  Dielectric diel;
  double b0_phase_per_ppm = 0;  // rad per ppm of dB/B0: 2 pi gamma_bar B0 TE_eff
  FieldGrid b0;                 // non-local field term
  CoilArray coils;
  std::vector<double> slice_z;  // mm, slice 0 inferior
  std::vector<double> zoff, zw;  // through-plane profile samples (mm) and weights
  std::vector<Lesion> lesions;
  std::vector<LesionSignals> lsig;
  FineStructureParams fine;
  // Scale and noise.
  double target = 0;     // mean noise-free RSS over the brain after scaling
  double factor = 1;     // k-space scale
  double snr = 0, sigma_rms = 0;
  std::vector<cd> psi, chol;  // noise covariance [coil coil] and its lower Cholesky factor
  double filter_gain = 1;     // GE: noise power gain of the decimation filter
  int variants() const { return spec.lesions ? 2 : 1; }
};

VolumePlan plan_volume(const VolumeSpec& spec, const TissueAtlas& atlas);

// One slice before scaling and noise.
struct SliceSynthesis {
  std::vector<Array<cfloat>> k;    // per variant [coil read phase] noise-free, unscaled
  std::vector<Array<cfloat>> obj;  // per variant [read phase]
  Array<cfloat> sens;              // [coil read phase] (oversampled grid)
  Array<uint8_t> labels, lesion;   // [nr nr]
  int vessels = 0, pvs = 0;
};
SliceSynthesis synthesize_slice(const VolumePlan& plan, const TissueAtlas& atlas, int slice);

// Scale, noise and vendor encoding of slice `slice`, written at index `at` of `out` (whose
// arrays are allocated by allocate_volume).
void allocate_volume(const VolumePlan& plan, int slices, SimulatedVolume& out);
void encode_slice(const VolumePlan& plan, int slice, SliceSynthesis& syn, SimulatedVolume& out,
                  int at);
void finish_volume(const VolumePlan& plan, const TissueAtlas& atlas, SimulatedVolume& out);

// GE decimation filter: Hamming-windowed sinc taps (sum 1) and their noise power gain.
std::vector<double> ge_filter_taps();

}  // namespace rb::sim
