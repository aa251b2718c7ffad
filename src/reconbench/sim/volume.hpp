// One simulated multi-coil volume, end to end (design/simulator.md §2.5-2.8; issue 17):
//
//   atlas --subject warp, lesions--> tissue fractions on a fine grid (fine x the acquisition
//   grid, Gaussian slice profile through-plane) --fine structure (texture, sharpened
//   sub-voxel boundaries, small vessels, perivascular spaces; fine_structure.hpp)-->
//   --signal equations--> m(r) e^{i phi(r)} (smooth phase, susceptibility B0 through the
//   dipole kernel, flow and fine phase; susceptibility.hpp) --x s_c(r) (Biot-Savart, 3-D at
//   the slice's z, coupled channels, propagation phase; coils.hpp)--> fft2c on the fine grid
//   --> crop the central k-space [read phase] (no inverse crime) --> scale --> + correlated
//   noise L n on acquired samples --> vendor encoding (Siemens/Philips keep 2x readout
//   oversampling; GE low-pass FIR + decimation by 2) --> PE padding columns exactly zero.
//
// The steps are library functions in volume_plan.hpp: plan_volume draws everything of a
// volume once (including its scale and noise covariance, from a coarse pass over all
// slices), then every slice is synthesised and encoded independently.
//
// Shapes: kspace [slice coil read phase]; read = 2 recon (Siemens, Philips) or recon (GE);
// images [slice y x] on the recon grid (recon x recon). Row 0 is anterior, column 0 is the
// patient's right (radiological display).
//
// Determinism: every random draw comes from a stream seeded by (seed, index or subject,
// slice, purpose); slices are independent work items, so the output is bit-identical for any
// thread count.
#pragma once

#include <complex>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reconbench/core/array.hpp"
#include "reconbench/io/fastmri.hpp"
#include "reconbench/sim/anatomy.hpp"
#include "reconbench/sim/contrast.hpp"
#include "reconbench/sim/lesions.hpp"

namespace rb {
class Progress;
}

namespace rb::sim {

struct VolumeSpec {
  std::string name = "file_brain_AXT2_201_0000000";  // base name, no ".h5"
  uint64_t seed = 0;          // global seed
  uint64_t index = 0;         // file stream (coils, noise, sequence, scale)
  uint64_t subject = 0;       // anatomy stream (a lesion pair shares it, and everything else)
  std::string acquisition = "AXT2";
  Vendor vendor = Vendor::Siemens;
  double field_t = 3.0;
  int coils = 8;
  int slices = 8;
  int recon = 320;            // recon matrix (square); phase encoding W = recon
  double phase_resolution = 1.0;  // acquired fraction of W, zero-padded symmetrically
  double fov_mm = 220;        // recon FOV (square)
  double slice_thickness = 5, slice_gap = 1;  // mm
  bool lesions = false;       // insert pathology and also simulate the lesion-free pair
  int fine = 2;               // fine-grid factor (>= 2: anti-inverse-crime synthesis)
  int profile_samples = 5;    // through-plane samples of the Gaussian slice profile
  double snr = 0;             // RSS(brain)/sigma; 0 = draw from the spec range
  double scale = 0;           // mean RSS in the brain; 0 = draw (lognormal, fastMRI order)
  std::vector<Lesion> fixed_lesions;  // with `lesions`: use these instead of drawing (tests)
};

struct LesionBox {
  int lesion = 0;             // index into SimulatedVolume::lesions
  int slice = 0;
  int x = 0, y = 0, width = 0, height = 0;  // recon-grid pixels (column, row)
};

struct SimulatedVolume {
  VolumeSpec spec;
  Sequence sequence;
  IsmrmrdInfo header;
  Array<cfloat> kspace;            // [slice coil read phase], noisy, fully sampled
  Array<cfloat> kspace_nolesion;   // same subject/coils/noise without lesions (or empty)
  Array<float> rss;                // [slice y x] RSS of ifft2c(kspace) cropped to recon
  Array<float> rss_nolesion;
  Array<cfloat> image_complex;     // [slice y x] noise-free, coil-free object (same k crop)
  Array<cfloat> image_complex_nolesion;
  Array<cfloat> sens;              // [slice coil read phase] on the written grid
  Array<uint8_t> labels;           // [slice y x] dominant tissue (Tissue enum)
  Array<uint8_t> lesion_mask;      // [slice y x] 1 + lesion index where a lesion dominates
  std::vector<std::complex<double>> noise_cov;  // [coil coil] per written k-space sample
  std::vector<Lesion> lesions;
  std::vector<LesionBox> boxes;
  std::vector<double> slice_z;     // slice centres, mm (subject frame)
  double snr = 0;                  // realised mean RSS(brain) / sigma_rms (noise-free RSS)
  double sigma_rms = 0;            // RMS per-coil noise SD (k-space, before vendor filter)
  nlohmann::json params;           // everything drawn, for the truth file
};

SimulatedVolume simulate_volume(const VolumeSpec& spec, const TissueAtlas& atlas,
                                Progress* progress = nullptr);

// Only the listed slices (indices into the volume's stack, any order, no duplicates needed):
// slice i of the result is bit-identical to slice slices[i] of simulate_volume(spec), and
// every per-volume field (header, noise_cov, params, lesions) is the same; slice_z, boxes
// and the per-slice arrays follow `slices`. The cheap entry point for drawing training
// slices: one plan (subject warp, coils, B0 field, scale: ~0.2-0.5 s) plus the cost of the
// slices asked for. For fresh subjects, vary spec.subject/spec.index (e.g. plan_dataset's
// specs with other indices).
SimulatedVolume simulate_slices(const VolumeSpec& spec, const TissueAtlas& atlas,
                                const std::vector<int>& slices, Progress* progress = nullptr);

// GE-like readout: windowed-sinc low-pass (cutoff at the recon FOV edge) + decimation by 2
// along the read axis: [coil read phase] -> [coil read/2 phase]. Returns sum h^2 (noise
// power gain).
double ge_decimate(const Array<cfloat>& in, Array<cfloat>& out);

// fastMRI reconstruction_rss of one slice: RSS over coils of ifft2c, centre crop (h, w).
Array<float> rss_crop(ArrayView<const cfloat> kspace_slice, int64_t h, int64_t w);

}  // namespace rb::sim
