// Centred orthonormal 2-D FFTs over the last two axes, as fastMRI's fft2c/ifft2c:
//   fft2c(x)  = fftshift(fft2(ifftshift(x), norm="ortho"))
//   ifft2c(x) = fftshift(ifft2(ifftshift(x), norm="ortho"))
// with numpy's shift conventions (fftshift rolls by n//2, ifftshift by (n+1)//2), for even
// and odd sizes. Batched over all leading axes, e.g. [slice coil read phase].
//
// FFTW single-precision plans are created once per (H, W, direction) and cached; planning
// is serialised by a mutex and execution (fftwf_execute_dft) is thread-safe, so these may be
// called from parallel_for workers. Even sizes use the "fftmod" checkerboard modulation
// (BART doc/fft.txt) instead of shift copies.
#pragma once

#include "reconbench/core/array.hpp"

namespace rb {

void fft2c(ArrayView<cfloat> x);   // in place, [... H W]
void ifft2c(ArrayView<cfloat> x);  // in place, [... H W]
Array<cfloat> fft2c_copy(ArrayView<const cfloat> x);
Array<cfloat> ifft2c_copy(ArrayView<const cfloat> x);

// Centred orthonormal 1-D transforms along one axis (any axis), batched over the others.
void fft1c(ArrayView<cfloat> x, int axis);
void ifft1c(ArrayView<cfloat> x, int axis);

// Uncentred, unnormalised in-place DFTs of `howmany` contiguous rows of length n (FFTW's
// sign: forward e^{-2 pi i jk/n}), from the same plan cache (recon's fused SENSE normal
// operator; one planner mutex for the whole process).
void fft_rows(cfloat* x, int64_t n, int64_t howmany, bool inverse);

// numpy.fft.fftshift / ifftshift over the last two axes (copying helpers, for tests and
// odd sizes).
void fftshift2(ArrayView<cfloat> x);
void ifftshift2(ArrayView<cfloat> x);

}  // namespace rb
