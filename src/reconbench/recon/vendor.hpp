// Vendor normalisation for the Transfer track (paper §II; MISSION.md §3): data without
// readout oversampling (GE), with other coil counts (2..44) and intensity scales broke most
// models trained on Siemens-like data. normalize_slice() brings one k-space slice to one
// consistent form before a method or model sees it, and returns what is needed to invert it:
//
//  1. Readout FOV: Siemens/Philips store 2x readout oversampling (read = 2 x recon width),
//     GE does not. The readout is resampled to exactly 2 x recon_x samples by zero-padding
//     or cropping the image along the readout (ifft1c, centre pad/crop, fft1c). Pixel size
//     is unchanged, so the fastMRI output crop picks the same pixels.
//  2. Coils (optional): SVD coil compression to K virtual coils, U_K^H k with U the
//     eigenvectors of the coil covariance k k^H over all samples (Buehrer et al. 2007).
//  3. Intensity: k-space multiplied by `scale` = target_scale / s, s = BART's
//     estimate_scaling (recon/pics.hpp), so the central k-space magnitude is ~target_scale
//     for every vendor. Outputs are divided by `scale` to restore the input's scale.
#pragma once

#include <cstdint>

#include "reconbench/core/array.hpp"
#include "reconbench/io/fastmri.hpp"

namespace rb::recon {

struct VendorOptions {
  bool enabled = false;       // methods: --param normalize=1
  int64_t virtual_coils = 0;  // K > 0: compress to K virtual coils (if fewer than the input)
  float target_scale = 1.0f;  // intensity after normalisation
  bool readout = true;        // resample the readout to 2 x recon width
  bool intensity = true;      // apply the intensity normalisation
};

struct NormalizedSlice {
  Array<cfloat> kspace;  // [coil' read' phase]
  float scale = 1;       // k-space was multiplied by this; divide outputs by it
  int64_t input_read = 0, output_read = 0;
  int64_t input_coils = 0, output_coils = 0;
};

// kspace [coil read phase]; header may be null (then the recon width is taken as the phase
// size, i.e. square pixels in a square FOV as in fastMRI brain data).
NormalizedSlice normalize_slice(ArrayView<const cfloat> kspace, const IsmrmrdInfo* header,
                                const VendorOptions& opt);

// Readout length the normalised data has: 2 x recon width.
int64_t normalized_readout(int64_t read, int64_t phase, const IsmrmrdInfo* header);

// SVD coil compression [coil read phase] -> [k read phase] (k <= coils).
Array<cfloat> compress_coils(ArrayView<const cfloat> kspace, int64_t k);

}  // namespace rb::recon
