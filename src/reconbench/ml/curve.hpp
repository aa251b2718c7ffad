// The training curve as a PNG (io/png.hpp): validation SSIM versus training step, one
// polyline per series, axes with tick labels in a built-in 3x5 pixel font (digits, '.',
// '-' and the capital letters the labels use). Torch-free.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "reconbench/io/png.hpp"

namespace rb::ml {

struct CurveSeries {
  std::string label;            // legend text (capitals, digits, '-', '.', ' ')
  std::vector<double> x, y;     // points; a single point is drawn as a dot
  std::array<uint8_t, 3> rgb{0, 0, 0};
};

// Series with no points are left out; the y range spans all points (padded by 5 %).
Image8 line_chart(const std::vector<CurveSeries>& series, const std::string& x_label,
                  const std::string& y_label, int64_t width = 640, int64_t height = 400);

void write_line_chart(const std::filesystem::path& png, const std::vector<CurveSeries>& series,
                      const std::string& x_label, const std::string& y_label);

}  // namespace rb::ml
