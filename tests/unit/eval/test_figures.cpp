// Residual figure layout: GT | recon | |residual| x 5 | SSIM map.
#include <gtest/gtest.h>

#include "reconbench/eval/figures.hpp"
#include "reconbench/eval/metrics.hpp"

namespace {

using rb::Array;
namespace ev = rb::eval;

TEST(EvalFigures, FourPanelsWithMagnifiedResidual) {
  const int64_t n = 20;
  Array<float> gt({n, n}), pred({n, n});
  for (int64_t i = 0; i < n * n; ++i) {
    gt[i] = static_cast<float>((i % 7) * 0.1 + 0.2);
    pred[i] = gt[i];
  }
  pred.at(10, 10) += 0.1f;  // residual 0.1 -> 0.5 after x5
  Array<double> map = ev::ssim_map(gt.view(), pred.view(), 1.0);
  const double window = 1.0;
  rb::Image8 img = ev::slice_figure(gt.view(), pred.view(), map.view(), window);
  ASSERT_EQ(img.height, n);
  ASSERT_EQ(img.width, 4 * n + 3 * 2);
  ASSERT_EQ(img.channels, 1);
  auto px = [&](int64_t panel, int64_t i, int64_t j) {
    return img.pixels[static_cast<size_t>(i * img.width + panel * (n + 2) + j)];
  };
  // Residual panel: zero except the changed pixel, at ~0.5 of the window.
  EXPECT_EQ(px(2, 0, 0), 0);
  EXPECT_NEAR(px(2, 10, 10), 127, 2);
  // SSIM map panel: black border (no full window), white where S = 1 far from the change.
  EXPECT_EQ(px(3, 0, 0), 0);
  EXPECT_EQ(px(3, 3, 3), 255);
  EXPECT_LT(px(3, 10, 10), 255);
  // GT and recon panels agree away from the change.
  EXPECT_EQ(px(0, 5, 5), px(1, 5, 5));
  Array<double> bad({10, 12});
  EXPECT_THROW(ev::slice_figure(gt.view(), pred.view(), bad.view(), window), rb::UserError);
}

TEST(EvalFigures, SliceSelectionAndWindow) {
  EXPECT_EQ(ev::figure_slices(16, 1), (std::vector<int64_t>{8}));
  EXPECT_EQ(ev::figure_slices(16, 4), (std::vector<int64_t>{2, 6, 10, 14}));
  EXPECT_EQ(ev::figure_slices(3, 5), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_TRUE(ev::figure_slices(3, 0).empty());
  Array<float> v({1, 10, 100}, 1.0f);
  v.at(0, 0, 0) = 100.0f;  // one bright outlier does not set the window
  EXPECT_NEAR(ev::figure_window(v.view()), 1.0, 1e-6);
}

}  // namespace
