// PNG export through libpng: 8-bit grey or RGB images, with windowing helpers.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include "reconbench/core/array.hpp"

namespace rb {

struct Image8 {
  int64_t height = 0, width = 0, channels = 1;  // 1 = grey, 3 = RGB
  std::vector<uint8_t> pixels;                 // row-major, interleaved channels
};

void write_png(const std::filesystem::path& path, const Image8& img);
Image8 read_png(const std::filesystem::path& path);

// Map [y x] float to 8-bit grey with window [lo, hi] (values clipped).
Image8 to_grey(ArrayView<const float> img, float lo, float hi);
// Horizontal montage of equal-height images with `gap` black pixels between them.
Image8 hconcat(const std::vector<Image8>& parts, int64_t gap = 2);
Image8 vconcat(const std::vector<Image8>& parts, int64_t gap = 2);

}  // namespace rb
