// Image-domain helpers with fastMRI semantics (fastmri/math.py, coil_combine.py,
// data/transforms.py).
#pragma once

#include "reconbench/core/array.hpp"

namespace rb {

// Root-sum-of-squares over the coil axis: [coil y x] complex -> [y x] float,
// sqrt(sum_c |x_c|^2), accumulated in double.
Array<float> rss(ArrayView<const cfloat> coil_images);
// RSS of real magnitudes [coil y x] -> [y x].
Array<float> rss(ArrayView<const float> coil_magnitudes);
Array<float> complex_abs(ArrayView<const cfloat> x);

// Centre crop over the last two axes to (h, w): start = (size - target) // 2 (fastMRI
// center_crop). Throws UserError if the target is larger than the input.
template <class T>
Array<T> center_crop(ArrayView<const T> x, int64_t h, int64_t w);
// Zero-pad (or crop) symmetrically to (h, w) over the last two axes, inverse of center_crop.
template <class T>
Array<T> center_pad(ArrayView<const T> x, int64_t h, int64_t w);

// Zero-filled image of one k-space slice: ifft2c per coil, RSS over coils, centre crop to
// (h, w) (h = w = 320 for brain). kspace [coil read phase] -> [h w].
Array<float> zero_filled_rss(ArrayView<const cfloat> kspace_slice, int64_t h, int64_t w);

// Remove 2x readout oversampling from k-space [... read phase]: inverse FFT along read,
// keep the central read/2 rows, forward FFT back (output [... read/2 phase]).
Array<cfloat> remove_readout_oversampling(ArrayView<const cfloat> kspace);

// fastMRI's evaluation crop size for a target of width w_t: (w_t, w_t); the FLAIR-203 rule
// uses (W, W) if the image width W < 320.
}  // namespace rb
