// Vendor normalisation for the Transfer track (paper §II; MISSION.md §3): data without
// readout oversampling (GE), with other coil counts (2..44) and intensity scales broke most
// models trained on Siemens-like data. normalize_slice() brings one k-space slice to one
// consistent form before a method or model sees it, and returns what is needed to invert it:
//
//  1. Readout FOV: Siemens/Philips store 2x readout oversampling (read = 2 x recon width),
//     GE does not. The readout is resampled to exactly `readout_oversampling` x recon_x
//     samples (2: the Siemens form; 1: oversampling removed) by zero-padding or cropping
//     the image along the readout (ifft1c, centre pad/crop, fft1c). Pixel size is
//     unchanged, so the fastMRI output crop picks the same pixels. The readout is fully
//     sampled, so a crop maps sampled phase columns to sampled columns and keeps the
//     unsampled ones exactly zero (data consistency stays exact in the new grid).
//  2. Coils (optional): SVD coil compression to K virtual coils (recon/coil_compress.hpp).
//  3. Intensity: k-space multiplied by `scale` = target_scale / s, s = BART's
//     estimate_scaling (recon/pics.hpp), so the central k-space magnitude is ~target_scale
//     for every vendor. Outputs are divided by `scale` to restore the input's scale.
#pragma once

#include <cstdint>

#include "reconbench/core/array.hpp"
#include "reconbench/io/fastmri.hpp"
#include "reconbench/recon/coil_compress.hpp"

namespace rb::recon {

struct VendorOptions {
  bool enabled = false;       // methods: --param normalize=1
  int64_t virtual_coils = 0;  // K > 0: compress to K virtual coils (if fewer than the input)
  float target_scale = 1.0f;  // intensity after normalisation
  bool readout = true;        // resample the readout to readout_oversampling x recon width
  int64_t readout_oversampling = 2;  // 2: Siemens-like form; 1: oversampling removed
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

// Readout length the normalised data has: oversampling x recon width (header recon_x, else
// the phase size).
int64_t normalized_readout(int64_t phase, const IsmrmrdInfo* header, int64_t oversampling = 2);

}  // namespace rb::recon
