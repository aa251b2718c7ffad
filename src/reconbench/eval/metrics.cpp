#include "reconbench/eval/metrics.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>

#include "reconbench/core/parallel.hpp"
#include "reconbench/eval/mask.hpp"
#include "reconbench/eval/ssim_kernel.hpp"

namespace rb::eval {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check_ssim_options(const SsimOptions& o) {
  RB_CHECK(o.win_size >= 3 && o.win_size % 2 == 1, "SSIM window size must be odd and >= 3, got ",
           o.win_size);
  RB_CHECK(o.k1 > 0 && o.k2 > 0, "SSIM constants K1, K2 must be positive");
}

SlicePair slice_pair(ArrayView<const float> x, ArrayView<const float> y) {
  return {x.data(), x.dim(1), y.data(), y.dim(1), x.dim(0), x.dim(1)};
}

void check_slice_args(ArrayView<const float> x, ArrayView<const float> y, double data_range,
                      const SsimOptions& o) {
  check_ssim_options(o);
  RB_CHECK(x.ndim() == 2 && y.ndim() == 2, "SSIM needs 2-D slices, got ", shape_str(x.shape()),
           " and ", shape_str(y.shape()));
  RB_CHECK(x.shape() == y.shape(), "SSIM inputs differ in shape: ", shape_str(x.shape()),
           " vs ", shape_str(y.shape()));
  RB_CHECK(x.dim(0) >= o.win_size && x.dim(1) >= o.win_size, "image ", shape_str(x.shape()),
           " is smaller than the ", o.win_size, "x", o.win_size, " SSIM window");
  RB_CHECK(data_range > 0 && std::isfinite(data_range), "SSIM data range must be positive, got ",
           data_range);
}

}  // namespace

std::string ssim_spec(const SsimOptions& o) {
  return cat("skimage-0.19 structural_similarity defaults: win ", o.win_size, " uniform, K1 ",
             o.k1, ", K2 ", o.k2, ", ",
             o.sample_covariance ? "sample covariance" : "population covariance",
             ", valid windows only, data_range=max(GT volume), per slice then mean over slices");
}

Array<double> ssim_map(ArrayView<const float> x, ArrayView<const float> y, double data_range,
                       const SsimOptions& opts) {
  check_slice_args(x, y, data_range, opts);
  Array<double> map({x.dim(0) - opts.win_size + 1, x.dim(1) - opts.win_size + 1});
  SliceAccum acc;
  run_kernel(slice_pair(x, y), data_range, opts, nullptr, map.data(), acc);
  return map;
}

double ssim_2d(ArrayView<const float> x, ArrayView<const float> y, double data_range,
               const SsimOptions& opts) {
  check_slice_args(x, y, data_range, opts);
  SliceAccum acc;
  run_kernel(slice_pair(x, y), data_range, opts, nullptr, nullptr, acc);
  return acc.ssim_sum / static_cast<double>(acc.ssim_count);
}

Array<float> pad_ssim_map(ArrayView<const double> map, int64_t h, int64_t w, float fill,
                          const SsimOptions& opts) {
  const int64_t half = opts.win_size / 2;
  RB_ASSERT(map.ndim() == 2 && map.dim(0) == h - 2 * half && map.dim(1) == w - 2 * half);
  Array<float> out({h, w}, fill);
  for (int64_t i = 0; i < map.dim(0); ++i)
    for (int64_t j = 0; j < map.dim(1); ++j)
      out.at(i + half, j + half) = static_cast<float>(map.at(i, j));
  return out;
}

MaskedMean masked_map_mean(ArrayView<const double> map, ArrayView<const uint8_t> mask,
                           const SsimOptions& opts) {
  const int64_t half = opts.win_size / 2;
  RB_CHECK(mask.ndim() == 2 && map.ndim() == 2 && mask.dim(0) == map.dim(0) + 2 * half &&
               mask.dim(1) == map.dim(1) + 2 * half,
           "mask ", shape_str(mask.shape()), " does not match SSIM map ", shape_str(map.shape()));
  MaskedMean r;
  double sum = 0;
  for (int64_t i = 0; i < map.dim(0); ++i)
    for (int64_t j = 0; j < map.dim(1); ++j)
      if (mask.at(i + half, j + half)) {
        sum += map.at(i, j);
        ++r.count;
      }
  r.mean = r.count ? sum / static_cast<double>(r.count) : kNaN;
  return r;
}

int64_t crop_side(const Shape& s) {
  RB_CHECK(s.size() == 3, "target must be [slice y x], got ", shape_str(s));
  return std::min(s[1], s[2]);
}

Array<float> crop_volume(ArrayView<const float> v, int64_t c, const std::string& what) {
  RB_CHECK(v.ndim() == 3, what, ": expected [slice y x], got shape ", shape_str(v.shape()));
  const int64_t s = v.dim(0), h = v.dim(1), w = v.dim(2);
  RB_CHECK(h >= c && w >= c, what, ": image ", h, "x", w, " is smaller than the evaluation crop ",
           c, "x", c);
  Array<float> out({s, c, c});
  const int64_t y0 = (h - c) / 2, x0 = (w - c) / 2;
  for (int64_t k = 0; k < s; ++k)
    for (int64_t i = 0; i < c; ++i)
      std::memcpy(&out.at(k, i, 0), v.data() + (k * h + y0 + i) * w + x0,
                  static_cast<size_t>(c) * sizeof(float));
  return out;
}

void check_finite(ArrayView<const float> v, const std::string& what) {
  const float* p = v.data();
  const int64_t n = v.size();
  int64_t bad = -1;
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(p[i])) {
      bad = i;
      break;
    }
  if (bad < 0) return;
  std::string where;
  if (v.ndim() == 3) {
    const int64_t hw = v.dim(1) * v.dim(2);
    where = cat(" at (slice ", bad / hw, ", y ", (bad % hw) / v.dim(2), ", x ", bad % v.dim(2), ")");
  } else {
    where = cat(" at flat index ", bad);
  }
  RB_CHECK(false, what, ": contains ", std::isnan(p[bad]) ? "NaN" : "infinite", " values",
           where);
}

double mse(ArrayView<const float> x, ArrayView<const float> y) {
  RB_ASSERT(x.size() == y.size() && x.size() > 0);
  double s = 0;
  for (int64_t i = 0; i < x.size(); ++i) {
    const double d = static_cast<double>(x[i]) - static_cast<double>(y[i]);
    s += d * d;
  }
  return s / static_cast<double>(x.size());
}

double nmse(ArrayView<const float> x, ArrayView<const float> y) {
  RB_ASSERT(x.size() == y.size());
  double e = 0, g = 0;
  for (int64_t i = 0; i < x.size(); ++i) {
    const double a = x[i], d = a - static_cast<double>(y[i]);
    e += d * d;
    g += a * a;
  }
  return e / g;
}

double psnr(ArrayView<const float> x, ArrayView<const float> y, double data_range) {
  return 10.0 * std::log10(data_range * data_range / mse(x, y));
}

namespace {

// Largest value of a (rows x w) region with row stride `stride`, as double, and whether
// every value is finite (x - x is 0 for finite x, NaN for NaN and Inf). The lanes make the
// loop vectorise; max is exact, so the result does not depend on the lane split.
struct RegionMax {
  double max;
  bool finite;
};
RegionMax region_max(const float* p, int64_t rows, int64_t w, int64_t stride) {
  constexpr int kLanes = 16;
  float lane[kLanes], zero[kLanes];
  for (int k = 0; k < kLanes; ++k) {
    lane[k] = -std::numeric_limits<float>::infinity();
    zero[k] = 0.0f;
  }
  for (int64_t i = 0; i < rows; ++i) {
    const float* __restrict r = p + i * stride;
    int64_t j = 0;
    for (; j + kLanes <= w; j += kLanes)
      for (int k = 0; k < kLanes; ++k) {
        const float v = r[j + k];
        lane[k] = v > lane[k] ? v : lane[k];
        zero[k] += v - v;
      }
    for (; j < w; ++j) {
      lane[0] = r[j] > lane[0] ? r[j] : lane[0];
      zero[0] += r[j] - r[j];
    }
  }
  float m = lane[0], z = 0.0f;
  for (int k = 0; k < kLanes; ++k) {
    m = lane[k] > m ? lane[k] : m;
    z += zero[k];
  }
  return {static_cast<double>(m), z == 0.0f};
}

// True if every value of the region is finite (exponent bits not all ones).
bool region_finite(const float* p, int64_t rows, int64_t w, int64_t stride) {
  for (int64_t i = 0; i < rows; ++i) {
    const float* r = p + i * stride;
    uint32_t bad = 0;
    for (int64_t j = 0; j < w; ++j) {
      uint32_t b;
      std::memcpy(&b, r + j, sizeof b);
      bad |= (b & 0x7f800000u) == 0x7f800000u ? 1u : 0u;
    }
    if (bad) return false;
  }
  return true;
}

// Every voxel of [s h w] outside the centre (c, c) crop is finite.
bool outside_crop_finite(ArrayView<const float> v, int64_t c) {
  const int64_t S = v.dim(0), h = v.dim(1), w = v.dim(2);
  if (h == c && w == c) return true;
  const int64_t y0 = (h - c) / 2, x0 = (w - c) / 2;
  for (int64_t s = 0; s < S; ++s) {
    const float* p = v.data() + s * h * w;
    if (!region_finite(p, y0, w, w)) return false;                            // rows above
    if (!region_finite(p + (y0 + c) * w, h - y0 - c, w, w)) return false;     // rows below
    if (!region_finite(p + y0 * w, c, x0, w)) return false;                   // left
    if (!region_finite(p + y0 * w + x0 + c, c, w - x0 - c, w)) return false;  // right
  }
  return true;
}

}  // namespace

VolumeMetrics evaluate_volume(ArrayView<const float> target, ArrayView<const float> prediction,
                              const MetricOptions& opts, const std::string& target_name,
                              const std::string& pred_name) {
  check_ssim_options(opts.ssim);
  RB_CHECK(target.ndim() == 3, target_name, ": ground truth must be [slice y x], got shape ",
           shape_str(target.shape()));
  RB_CHECK(prediction.ndim() == 3, pred_name, ": reconstruction must be [slice y x], got shape ",
           shape_str(prediction.shape()));
  RB_CHECK(target.dim(0) > 0, target_name, ": ground truth has no slices");
  RB_CHECK(prediction.dim(0) == target.dim(0), pred_name, ": ", prediction.dim(0),
           " slices, but the ground truth has ", target.dim(0));
  const int64_t c = crop_side(target.shape());
  RB_CHECK(prediction.dim(1) >= c && prediction.dim(2) >= c, pred_name, ": image ",
           prediction.dim(1), "x", prediction.dim(2), " is smaller than the evaluation crop ", c,
           "x", c, " (ground truth ", target.dim(1), "x", target.dim(2), ")");
  RB_CHECK(c >= opts.ssim.win_size, target_name, ": crop ", c, "x", c, " is smaller than the ",
           opts.ssim.win_size, "x", opts.ssim.win_size, " SSIM window");
  // NaN/Inf: the full check (which names the first bad voxel) runs only when the fused
  // detection below finds something, so the errors are the same as checking up front.
  auto check_both_finite = [&] {
    try {
      check_finite(target, target_name);
    } catch (const UserError& e) {
      throw NonFiniteError(e.what(), true);
    }
    try {
      check_finite(prediction, pred_name);
    } catch (const UserError& e) {
      throw NonFiniteError(e.what(), false);
    }
  };
  if (!outside_crop_finite(target, c) || !outside_crop_finite(prediction, c)) check_both_finite();

  // The centre crops as strided regions (no copy).
  const int64_t S = target.dim(0);
  const int64_t th = target.dim(1), tw = target.dim(2), ph = prediction.dim(1),
                pw = prediction.dim(2);
  const float* x0 = target.data() + ((th - c) / 2) * tw + (tw - c) / 2;
  const float* y0 = prediction.data() + ((ph - c) / 2) * pw + (pw - c) / 2;
  auto slice = [&](int64_t s) {
    return SlicePair{x0 + s * th * tw, tw, y0 + s * ph * pw, pw, c, c};
  };

  // Data range and finiteness of the GT crop in one pass (the mask needs finite values);
  // NaN/Inf in the prediction's crop shows up in the kernel's error sums.
  double R = -std::numeric_limits<double>::infinity();
  bool gt_finite = true;
  for (int64_t s = 0; s < S; ++s) {
    const RegionMax r = region_max(x0 + s * th * tw, c, c, tw);
    R = std::max(R, r.max);
    gt_finite = gt_finite && r.finite;
  }
  if (!gt_finite || !(R > 0)) check_both_finite();
  RB_CHECK(R > 0, target_name, ": the ground truth maximum is ", R,
           " (<= 0), so the SSIM/PSNR data range is undefined");

  VolumeMetrics m;
  m.slices = S;
  m.crop = c;
  m.data_range = R;

  std::optional<Array<uint8_t>> mask;
  if (opts.masked) {
    ForegroundMaskOptions mo;
    mo.threads = opts.threads;
    if (th == c && tw == c) {
      mask = foreground_mask(target, mo);
    } else {
      const Array<float> xc = crop_volume(target, c, target_name);
      mask = foreground_mask(xc.view(), mo);
    }
  }

  std::vector<SliceAccum> acc(static_cast<size_t>(S));
  if (opts.keep_maps) m.ssim_maps.resize(static_cast<size_t>(S));
  const int64_t ow = c - opts.ssim.win_size + 1;
  parallel_for(
      S,
      [&](int64_t s) {
        check_interrupted();
        double* map = nullptr;
        if (opts.keep_maps) {
          m.ssim_maps[s] = Array<double>({ow, ow});
          map = m.ssim_maps[s].data();
        }
        const uint8_t* mk = mask ? mask->data() + s * c * c : nullptr;
        run_kernel(slice(s), R, opts.ssim, mk, map, acc[s]);
      },
      opts.threads);

  // Reductions in slice order.
  double ssim_sum = 0, err = 0, gt2 = 0, err_m = 0, gt2_m = 0, ssim_m_sum = 0;
  int64_t vox_m = 0, slices_m = 0;
  m.ssim_per_slice.resize(static_cast<size_t>(S));
  m.ssim_masked_per_slice.assign(static_cast<size_t>(S), kNaN);
  for (int64_t s = 0; s < S; ++s) {
    const SliceAccum& a = acc[s];
    m.ssim_per_slice[s] = a.ssim_sum / static_cast<double>(a.ssim_count);
    ssim_sum += m.ssim_per_slice[s];
    err += a.sq_err;
    gt2 += a.sq_gt;
    if (mask) {
      err_m += a.sq_err_masked;
      gt2_m += a.sq_gt_masked;
      vox_m += a.voxels_masked;
      if (a.ssim_masked_count > 0) {
        m.ssim_masked_per_slice[s] = a.ssim_masked_sum / static_cast<double>(a.ssim_masked_count);
        ssim_m_sum += m.ssim_masked_per_slice[s];
        ++slices_m;
      }
    }
  }
  if (!std::isfinite(err) || !std::isfinite(gt2)) {
    check_both_finite();
    RB_ASSERT(false, "non-finite error sums of finite volumes");
  }
  const double nvox = static_cast<double>(S * c * c);
  m.ssim = ssim_sum / static_cast<double>(S);
  m.mse = err / nvox;
  m.nmse = err / gt2;
  m.psnr = 10.0 * std::log10(R * R / m.mse);
  if (mask) {
    m.mask_fraction = static_cast<double>(vox_m) / nvox;
    m.ssim_masked = slices_m ? ssim_m_sum / static_cast<double>(slices_m) : kNaN;
    m.mse_masked = vox_m ? err_m / static_cast<double>(vox_m) : kNaN;
    m.nmse_masked = vox_m ? err_m / gt2_m : kNaN;
    m.psnr_masked = vox_m ? 10.0 * std::log10(R * R / m.mse_masked) : kNaN;
    if (opts.keep_maps) m.mask = std::move(*mask);
  } else {
    m.ssim_masked = m.psnr_masked = m.nmse_masked = m.mse_masked = kNaN;
    m.mask_fraction = kNaN;
  }
  return m;
}


}  // namespace rb::eval
