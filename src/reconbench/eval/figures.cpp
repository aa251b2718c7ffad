#include "reconbench/eval/figures.hpp"

#include <algorithm>
#include <cmath>

#include "reconbench/eval/stats.hpp"

namespace rb::eval {

double figure_window(ArrayView<const float> target, const FigureOptions& opts) {
  RB_CHECK(target.size() > 0, "figure: empty ground truth");
  // Quantile of a regular subsample of at most 2^18 voxels (numpy linear interpolation).
  const int64_t n = target.size(), stride = std::max<int64_t>(1, n / (1 << 18));
  std::vector<double> v;
  v.reserve(static_cast<size_t>(n / stride + 1));
  double mx = 0;
  for (int64_t i = 0; i < n; i += stride) v.push_back(target[i]);
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, static_cast<double>(target[i]));
  double w = quantile(v, opts.window_quantile);
  if (!(w > 0)) w = mx > 0 ? mx : 1.0;
  return w;
}

Image8 slice_figure(ArrayView<const float> gt, ArrayView<const float> pred,
                    ArrayView<const double> map, double window, const FigureOptions& opts) {
  RB_CHECK(gt.ndim() == 2 && gt.shape() == pred.shape(), "figure: slices differ in shape ",
           shape_str(gt.shape()), " vs ", shape_str(pred.shape()));
  const int64_t h = gt.dim(0), w = gt.dim(1);
  RB_CHECK(map.ndim() == 2 && (h - map.dim(0)) % 2 == 0 && (w - map.dim(1)) % 2 == 0 &&
               h - map.dim(0) == w - map.dim(1) && map.dim(0) <= h,
           "figure: SSIM map ", shape_str(map.shape()), " does not fit the image ",
           shape_str(gt.shape()));
  const int64_t half = (h - map.dim(0)) / 2;
  Array<float> residual({h, w});
  for (int64_t i = 0; i < h * w; ++i)
    residual[i] = static_cast<float>(std::fabs(static_cast<double>(pred[i]) - gt[i]) *
                                     opts.residual_gain);
  Array<float> smap({h, w}, 0.0f);
  for (int64_t i = 0; i < map.dim(0); ++i)
    for (int64_t j = 0; j < map.dim(1); ++j)
      smap.at(i + half, j + half) = static_cast<float>(map.at(i, j));
  const float hi = static_cast<float>(window);
  return hconcat({to_grey(gt, 0.0f, hi), to_grey(pred, 0.0f, hi),
                  to_grey(residual.view(), 0.0f, hi), to_grey(smap.view(), 0.0f, 1.0f)},
                 opts.gap);
}

std::vector<int64_t> figure_slices(int64_t slices, int64_t count) {
  std::vector<int64_t> out;
  if (slices <= 0 || count <= 0) return out;
  if (count >= slices) {
    for (int64_t s = 0; s < slices; ++s) out.push_back(s);
    return out;
  }
  // Centres of `count` equal parts of [0, slices): count 1 -> the middle slice.
  for (int64_t k = 0; k < count; ++k) {
    const int64_t s = ((2 * k + 1) * slices) / (2 * count);
    if (out.empty() || out.back() != s) out.push_back(s);
  }
  return out;
}

}  // namespace rb::eval
