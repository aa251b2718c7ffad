// Realism statistics of fully sampled multi-coil k-space (issue 17; design/simulator.md
// §2.11). The same code measures simulated and real files, so every simulated number can be
// read beside the range measured on public real brain data (realism_report.hpp).
//
// Per slice, from k [coil read phase] with acquired phase columns [pad_left, pad_right):
// coil images x_c = ifft2c(k_c) on the encoded grid [read phase], their centre crop to the
// recon size (the "crop") and the RSS image r = sqrt(sum_c |x_c|^2) on the crop. The
// foreground (head) mask F is eval/mask.hpp's recipe on the RSS volume; rho below is the
// radius in cycles per FOV of the crop and u the normalised k-space radius
// u = sqrt((dy / (H/2))^2 + (dx / (W/2))^2) (u = 1: the Nyquist frequency of each axis).
//
//   kspace_slope         least-squares slope of log P against log u over kSlopeBins
//                        log-spaced bins of u in [0.1, 0.8], P the mean over acquired samples
//                        in a bin of the coil-combined power sum_c |k_c|^2 (a power law
//                        P ~ u^a gives a).
//   fine_phase_rad       RMS of phi = arg(sum_c x_c conj(L_8[x_c])) over bright foreground
//                        pixels (r >= 0.3 Q95(r over F)). L_K is the low-pass with
//                        half-amplitude point K cycles/FOV: k-space window 1 for rho <= K - 2,
//                        cos^2(pi (rho - K + 2) / 8) up to K + 2, 0 beyond; phi keeps the
//                        phase of object and coils above ~K cycles/FOV.
//   coil_map_residual    maps s_c = L_12[x_c] / RSS(L_12[x]) e^{-i arg v}, with the virtual
//                        body coil v = sum_c conj(g_c)/|g_c| L_12[x_c] (g_c the mean of
//                        L_12[x_c] over the region; it removes the object phase); each s_c is
//                        fitted by least squares with a complex polynomial of total degree 3
//                        in (x, y) in [-1, 1] (10 terms) over the foreground eroded by 3 % of
//                        the crop; residual sqrt(sum_c |s_c - fit_c|^2 / sum_c |s_c|^2).
//   coil_highk_ratio     E(r) / E(x): E the fraction of the crop's k-space energy at
//                        u >= 0.25 (for x summed over coils). Below 1 when the coil images
//                        carry more fine structure (coil modulation, object phase) than the
//                        magnitude image.
//   background_fraction  1 - |F| / |crop|.
//   noise_spread, noise_mean_rho, noise_max_rho
//                        from Psi = mean over background pixels of x x^H (pixels of the full
//                        encoded grid farther than 3 % of its size from the foreground):
//                        max/min sqrt(Psi_ii); mean and max over i < j of
//                        |Psi_ij| / sqrt(Psi_ii Psi_jj). NaN with fewer than kMinNoisePixels.
//   snr                  mean of r over F / sqrt(mean_i Psi_ii).
//   zf_ssim_4x, _8x      SSIM (eval/metrics.hpp) of the zero-filled RSS under fastMRI's
//                        equispaced-fraction mask (4X: centre fraction 0.08, 8X: 0.04) seeded
//                        by the file name, against the target slice, both cropped as
//                        evaluate.py does (eval::crop_side); data range = max of the cropped
//                        target volume (= `reconbench eval` of `recon --method zero-filled`).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "reconbench/core/array.hpp"
#include "reconbench/io/fastmri.hpp"

namespace rb::sim {

inline constexpr int kSlopeBins = 16;
inline constexpr double kSlopeLo = 0.1, kSlopeHi = 0.8;  // of k_max
inline constexpr double kFinePhaseCycles = 8;             // cycles/FOV
inline constexpr double kTaperHalfWidth = 2;              // cycles/FOV of the low-pass taper
inline constexpr double kMapCycles = 12;                  // cycles/FOV of the coil maps
inline constexpr int kMapDegree = 3;
inline constexpr double kHighK = 0.25;                    // of k_max
inline constexpr int64_t kMinNoisePixels = 200;

// Statistic identifiers, in report order.
enum Stat : int {
  kStatSlope, kStatFinePhase, kStatCoilResidual, kStatHighK, kStatBackground, kStatNoiseSpread,
  kStatNoiseMeanRho, kStatNoiseMaxRho, kStatSnr, kStatZf4, kStatZf8, kNumStats
};
const char* stat_name(int s);  // "kspace_slope", "fine_phase_rad", ...

struct SliceRealism {
  std::array<double, kNumStats> v;  // NaN where undefined
  SliceRealism() { v.fill(std::numeric_limits<double>::quiet_NaN()); }
};

// --- estimators (each tested on inputs with known answers) -----------------------------

// Slope of the radially averaged coil-combined power of k [coil read phase] over acquired
// columns [pad_left, pad_right).
double kspace_power_slope(ArrayView<const cfloat> k, int64_t pad_left, int64_t pad_right);

// Low-pass of images [n h w] (or [h w]) with half amplitude at `cycles` cycles per FOV
// (cos^2 taper over cycles +- kTaperHalfWidth), in place.
void hann_lowpass(ArrayView<cfloat> images, double cycles);

// RMS fine phase of coil images [coil h w] over the pixels where mask != 0.
double fine_phase_rms(ArrayView<const cfloat> coil_images, ArrayView<const uint8_t> mask);

// Degree-3 polynomial residual of the coil maps of [coil h w] over mask != 0.
double coil_map_residual(ArrayView<const cfloat> coil_images, ArrayView<const uint8_t> mask);

// Fraction of the k-space energy at u >= kHighK of images [n h w] (summed over n).
double highk_energy_fraction(ArrayView<const cfloat> images);

struct NoiseEstimate {
  double spread = 0, mean_rho = 0, max_rho = 0, sigma_rms = 0;
  int64_t pixels = 0;
};
// Noise of coil images [coil h w] over the pixels where background != 0.
NoiseEstimate background_noise(ArrayView<const cfloat> coil_images,
                               ArrayView<const uint8_t> background);

// Pixels farther than `r` (Euclidean, pixels) from every pixel where mask == value:
// erosion (value 0) or the complement of a dilation (value 1) of mask [h w].
Array<uint8_t> far_from(ArrayView<const uint8_t> mask, uint8_t value, double r);

// --- one volume -------------------------------------------------------------------------

// Per-slice statistics of a fully sampled volume: kspace [slice coil read phase], its header,
// the target [slice y x] (reconstruction_rss; empty = RSS of kspace cropped to the recon
// size) and the file name that seeds the zero-filled masks. Parallel over slices; the result
// does not depend on the thread count.
std::vector<SliceRealism> volume_realism(ArrayView<const cfloat> kspace, const IsmrmrdInfo& header,
                                         const Array<float>& target, const std::string& file_name);

}  // namespace rb::sim
