// Image metrics exactly as fastMRI's evaluation (fastmri/evaluate.py, scikit-image 0.19
// defaults), computed fast: separable running box sums in double, parallel over slices,
// reductions in slice order (results independent of the thread count).
//
// Per volume, with ground truth x and reconstruction y, both [slice y x], after cropping
// both to (c, c), c = crop_side(target shape) (evaluate.py: c = W_t):
//
//   R    = max(x)                        over the whole cropped GT volume (not attrs["max"])
//   MSE  = mean((x - y)^2)               whole volume
//   NMSE = ||x - y||^2 / ||x||^2         whole volume (np.linalg.norm)
//   PSNR = 10 log10(R^2 / MSE)           skimage peak_signal_noise_ratio(x, y, data_range=R)
//   SSIM = (1/S) sum_s SSIM2D(x_s, y_s; L = R)
//
// SSIM2D (skimage structural_similarity defaults, NOT Wang et al. 2004's Gaussian window):
// uniform w x w window (w = 7, N = 49), K1 = 0.01, K2 = 0.03, C1 = (K1 L)^2, C2 = (K2 L)^2,
//   mu_x = box mean of x, sigma_x^2 = N/(N-1) (box mean of x^2 - mu_x^2) (sample covariance),
//   same for sigma_y^2, sigma_xy,
//   S(p) = (2 mu_x mu_y + C1)(2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2)),
// averaged over the valid positions only: skimage crops a (w-1)/2 = 3 pixel border from its
// reflect-padded map, which leaves exactly the (H-6) x (W-6) fully-inside windows.
//
// Precision: everything is accumulated in double from the float32 inputs. skimage 0.16-0.18
// (the 2020 challenge) computed SSIM in float64 and matches to ~1e-15; skimage >= 0.19
// computes in float32 for float32 inputs and differs at the 1e-8 level on typical data.
//
// Background-masked variants (paper supplement Fig. S1; mask recipe in eval/mask.hpp):
//   SSIM_masked = mean over slices with a non-empty mask of (mean of S(p) over valid
//                 window positions p whose centre pixel is in the mask)
//   MSE/NMSE/PSNR_masked = the formulas above restricted to the masked voxels (R unchanged).
// An undefined value (e.g. a volume whose mask is empty) is NaN; JSON writes it as null.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "reconbench/core/array.hpp"

namespace rb::eval {

struct SsimOptions {
  int64_t win_size = 7;          // odd, uniform window (skimage default)
  double k1 = 0.01;              // C1 = (k1 L)^2
  double k2 = 0.03;              // C2 = (k2 L)^2
  bool sample_covariance = true; // N/(N-1) normalisation (skimage use_sample_covariance)
};

// The metric specification as one line (stored with every score; see spec_hash()).
std::string ssim_spec(const SsimOptions& opts = {});

// Local SSIM S(p) of one slice over the valid region: x, y [h w] -> map [h-w+1 w-w+1]
// (position (i, j) of the map is the window centred at pixel (i + w/2, j + w/2)). Accumulates
// in double; returns the map as double. Throws UserError if the slice is smaller than the
// window or the shapes differ; data_range must be > 0.
Array<double> ssim_map(ArrayView<const float> x, ArrayView<const float> y, double data_range,
                       const SsimOptions& opts = {});

// Mean of ssim_map (= skimage structural_similarity(x, y, data_range=L)).
double ssim_2d(ArrayView<const float> x, ArrayView<const float> y, double data_range,
               const SsimOptions& opts = {});

// A valid-region map padded back to the image size [h w] with `fill` (for figures).
Array<float> pad_ssim_map(ArrayView<const double> map, int64_t h, int64_t w, float fill,
                          const SsimOptions& opts = {});

// Mean of a valid-region map over positions whose window-centre pixel has mask != 0;
// mask is [h w] of the image. Returns {mean, count}; mean is NaN when count is 0.
struct MaskedMean {
  double mean = 0;
  int64_t count = 0;
};
MaskedMean masked_map_mean(ArrayView<const double> map, ArrayView<const uint8_t> mask,
                           const SsimOptions& opts = {});

// evaluate.py's crop side for a target of shape [slice h w]: c = w (target width). For
// targets narrower in height than in width (FLAIR-203-like shapes, where evaluate.py would
// raise) c = min(h, w), the rule fastMRI's VarNet test step uses for FLAIR 203.
int64_t crop_side(const Shape& target_shape);

// Centre crop of [slice h w] to [slice c c], start = (size - c) / 2 (fastMRI center_crop).
// UserError naming `what` if the volume is smaller than c.
Array<float> crop_volume(ArrayView<const float> volume, int64_t c, const std::string& what);

// UserError naming `what` and the first offending voxel (slice, y, x) if any value is NaN or
// infinite.
void check_finite(ArrayView<const float> volume, const std::string& what);

// What evaluate_volume throws for NaN/Inf: the check_finite message, and which volume.
class NonFiniteError : public UserError {
 public:
  NonFiniteError(const std::string& what, bool in_target) : UserError(what), in_target(in_target) {}
  bool in_target;  // true: the ground truth; false: the prediction
};

struct MetricOptions {
  SsimOptions ssim;
  bool masked = true;       // also compute the background-masked variants
  bool keep_maps = false;   // keep per-slice SSIM maps (figures)
  int threads = 0;          // 0 = rb::num_threads()
};

struct VolumeMetrics {
  int64_t slices = 0;
  int64_t crop = 0;           // c: both volumes cropped to (c, c)
  double data_range = 0;      // R = max of the cropped GT volume
  double ssim = 0, psnr = 0, nmse = 0, mse = 0;
  std::vector<double> ssim_per_slice;
  // Masked (NaN when masked == false or the mask is empty).
  double ssim_masked = 0, psnr_masked = 0, nmse_masked = 0, mse_masked = 0;
  double mask_fraction = 0;   // fraction of voxels in the foreground mask
  std::vector<double> ssim_masked_per_slice;  // NaN for slices with an empty mask
  std::vector<Array<double>> ssim_maps;       // keep_maps: one valid-region map per slice
  std::optional<Array<uint8_t>> mask;         // keep_maps && masked: [slice c c]
};

// Metrics of one volume pair, both [slice h w] (uncropped; cropped here as evaluate.py,
// without copying). UserError (naming target_name / pred_name) if the slice counts differ,
// the prediction is smaller than the crop, the crop is smaller than the SSIM window, or
// max(GT) <= 0 (the data range would be undefined); NonFiniteError if any value of either
// volume (inside the crop or not) is NaN or infinite, the ground truth checked first.
VolumeMetrics evaluate_volume(ArrayView<const float> target, ArrayView<const float> prediction,
                              const MetricOptions& opts = {},
                              const std::string& target_name = "target",
                              const std::string& pred_name = "prediction");

// Whole-volume metrics of already cropped, equally shaped volumes (no checks).
double mse(ArrayView<const float> x, ArrayView<const float> y);
double nmse(ArrayView<const float> x, ArrayView<const float> y);
double psnr(ArrayView<const float> x, ArrayView<const float> y, double data_range);

namespace detail {
// The SIMD paths of the SSIM kernel this CPU can run ("default", then "avx2", "avx512f"),
// and a switch for tests and benchmarks ("" = the best one). Every path gives the same bits.
std::vector<std::string> ssim_kernel_isas();
void force_ssim_kernel_isa(const std::string& isa);
}  // namespace detail

}  // namespace rb::eval
