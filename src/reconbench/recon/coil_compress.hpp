// SVD coil compression to K virtual coils (Buehrer et al., MRM 57:1131, 2007; Huang et al.,
// MRI 26:133, 2008). With the samples of one slice as a matrix D [coil sample],
//
//   D = U S V^H,   virtual coils  D_v = A D,   A = U_K^H  [K coil]
//
// U_K = the K left singular vectors of the largest singular values (= eigenvectors of the
// coil covariance D D^H). Zero (unsampled) entries add nothing to D D^H, so the matrix
// computed from undersampled k-space is that of its sampled lines: the same rule gives the
// same A in training and at reconstruction. A is a linear map over coils only, so
// compressed k-space keeps the mask (unsampled entries stay exactly zero) and data
// consistency in the virtual coils is exact.
//
// Singular vectors are unique up to a unit phase per vector; each row of A is rotated so that
// its largest-magnitude weight is real and positive, which makes A a deterministic function
// of the data (the RSS over virtual coils does not depend on this choice).
#pragma once

#include <cstdint>
#include <vector>

#include "reconbench/core/array.hpp"

namespace rb::recon {

struct CoilCompression {
  Array<cfloat> matrix;                 // A = U_K^H, [K coil]
  std::vector<double> singular_values;  // all min(coil, samples) values of D, descending
};

// kspace [coil read phase] -> A with K = min(k, coil) rows. UserError if k < 1.
CoilCompression coil_compression(ArrayView<const cfloat> kspace, int64_t k);

// A [K coil] applied to kspace [coil read phase] -> [K read phase].
Array<cfloat> apply_coil_compression(ArrayView<const cfloat> kspace,
                                     ArrayView<const cfloat> matrix);

// Both steps; k >= coils returns a copy of the input unchanged.
Array<cfloat> compress_coils(ArrayView<const cfloat> kspace, int64_t k);

}  // namespace rb::recon
