// Residual figures for hallucination review (paper Fig. 6 layout), one PNG per slice:
//
//   ground truth | reconstruction | |reconstruction - ground truth| x 5 | SSIM map
//
// Images are [c c] after the evaluation crop. GT, reconstruction and the magnified residual
// share one grey window [0, W] with W = the 99.5th percentile of the GT volume (so a few
// bright vessels do not darken the anatomy); the residual panel is |x - y| * residual_gain
// in that window. The SSIM map panel shows S(p) clipped to [0, 1] (black = 0, white = 1); the
// 3-pixel border without a full window is black.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "reconbench/core/array.hpp"
#include "reconbench/io/png.hpp"

namespace rb::eval {

struct FigureOptions {
  double residual_gain = 5.0;     // |residual| magnification
  double window_quantile = 0.995; // grey window top = this quantile of the GT volume
  int64_t gap = 2;                // black pixels between panels
};

// Window top W of a GT volume [slice y x] (the window_quantile of its voxels; > 0).
double figure_window(ArrayView<const float> target, const FigureOptions& opts = {});

// One slice: gt, pred [c c], ssim_map [c-6 c-6] (valid region; see metrics.hpp).
Image8 slice_figure(ArrayView<const float> gt, ArrayView<const float> pred,
                    ArrayView<const double> ssim_map, double window,
                    const FigureOptions& opts = {});

// `count` slice indices spread evenly over [0, slices): the middle slice for count 1,
// all slices when count >= slices.
std::vector<int64_t> figure_slices(int64_t slices, int64_t count);

}  // namespace rb::eval
