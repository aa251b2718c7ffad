#include "reconbench/ml/curve.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "reconbench/core/error.hpp"
#include "reconbench/core/fs.hpp"

namespace rb::ml {

namespace {

// 3x5 glyphs, rows top to bottom, 3 bits per row (MSB = left column).
const std::map<char, std::array<uint8_t, 5>>& font() {
  static const std::map<char, std::array<uint8_t, 5>> f = {
      {'0', {7, 5, 5, 5, 7}}, {'1', {2, 6, 2, 2, 7}}, {'2', {7, 1, 7, 4, 7}},
      {'3', {7, 1, 7, 1, 7}}, {'4', {5, 5, 7, 1, 1}}, {'5', {7, 4, 7, 1, 7}},
      {'6', {7, 4, 7, 5, 7}}, {'7', {7, 1, 1, 1, 1}}, {'8', {7, 5, 7, 5, 7}},
      {'9', {7, 5, 7, 1, 7}}, {'.', {0, 0, 0, 0, 2}}, {'-', {0, 0, 7, 0, 0}},
      {' ', {0, 0, 0, 0, 0}}, {'A', {2, 5, 7, 5, 5}}, {'D', {6, 5, 5, 5, 6}},
      {'E', {7, 4, 6, 4, 7}}, {'F', {7, 4, 6, 4, 4}}, {'G', {7, 4, 5, 5, 7}},
      {'I', {7, 2, 2, 2, 7}}, {'L', {4, 4, 4, 4, 7}}, {'M', {5, 7, 7, 5, 5}},
      {'N', {6, 5, 5, 5, 5}}, {'O', {7, 5, 5, 5, 7}}, {'P', {7, 5, 7, 4, 4}},
      {'R', {6, 5, 6, 5, 5}}, {'S', {7, 4, 7, 1, 7}}, {'T', {7, 2, 2, 2, 2}},
      {'U', {5, 5, 5, 5, 7}}, {'V', {5, 5, 5, 5, 2}}, {'X', {5, 5, 2, 5, 5}},
      {'Z', {7, 1, 2, 4, 7}}};
  return f;
}

class Canvas {
 public:
  Canvas(int64_t w, int64_t h) {
    img.width = w;
    img.height = h;
    img.channels = 3;
    img.pixels.assign(static_cast<size_t>(w * h * 3), 255);
  }
  void set(int64_t x, int64_t y, std::array<uint8_t, 3> c) {
    if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
    std::copy(c.begin(), c.end(), img.pixels.begin() + (y * img.width + x) * 3);
  }
  void rect(int64_t x0, int64_t y0, int64_t x1, int64_t y1, std::array<uint8_t, 3> c) {
    for (int64_t y = y0; y <= y1; ++y)
      for (int64_t x = x0; x <= x1; ++x) set(x, y, c);
  }
  // Thick line by stepping along the longer axis.
  void line(double x0, double y0, double x1, double y1, std::array<uint8_t, 3> c, int w = 1) {
    const int64_t n = static_cast<int64_t>(std::max(std::abs(x1 - x0), std::abs(y1 - y0))) + 1;
    for (int64_t i = 0; i <= n; ++i) {
      const double t = static_cast<double>(i) / static_cast<double>(n);
      const auto x = std::lround(x0 + t * (x1 - x0)), y = std::lround(y0 + t * (y1 - y0));
      rect(x - w / 2, y - w / 2, x + (w - 1) / 2, y + (w - 1) / 2, c);
    }
  }
  // Text at scale s; returns the width drawn. Characters without a glyph are skipped.
  int64_t text(int64_t x, int64_t y, const std::string& s, int64_t scale = 2,
               std::array<uint8_t, 3> c = {0, 0, 0}) {
    int64_t cx = x;
    for (char ch : s) {
      auto it = font().find(static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
      if (it == font().end()) continue;
      for (int r = 0; r < 5; ++r)
        for (int b = 0; b < 3; ++b)
          if (it->second[r] & (4 >> b)) rect(cx + b * scale, y + r * scale, cx + (b + 1) * scale - 1, y + (r + 1) * scale - 1, c);
      cx += 4 * scale;
    }
    return cx - x;
  }
  Image8 img;
};

std::string tick(double v, double step) {
  const int decimals = step >= 1 ? 0 : std::min(4, static_cast<int>(std::ceil(-std::log10(step))));
  char b[32];
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  return b;
}

// "Nice" tick step (1, 2 or 5 x 10^k) giving about n ticks over span.
double nice_step(double span, int n) {
  const double raw = span / n, p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * p >= raw) return m * p;
  return 10 * p;
}

}  // namespace

Image8 line_chart(const std::vector<CurveSeries>& series, const std::string& x_label,
                  const std::string& y_label, int64_t width, int64_t height) {
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  for (const auto& s : series)
    for (size_t i = 0; i < s.x.size(); ++i) {
      x0 = std::min(x0, s.x[i]), x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i]), y1 = std::max(y1, s.y[i]);
    }
  if (x0 > x1) x0 = 0, x1 = 1, y0 = 0, y1 = 1;  // nothing to draw: empty axes
  if (x1 - x0 < 1e-12) x0 -= 0.5, x1 += 0.5;
  if (y1 - y0 < 1e-6) y0 -= 0.005, y1 += 0.005;
  const double pad = 0.05 * (y1 - y0);
  y0 -= pad, y1 += pad;
  Canvas cv(width, height);
  const int64_t L = 90, R = width - 20, T = 40, B = height - 50;
  auto px = [&](double x) { return L + (x - x0) / (x1 - x0) * static_cast<double>(R - L); };
  auto py = [&](double y) { return B - (y - y0) / (y1 - y0) * static_cast<double>(B - T); };
  const std::array<uint8_t, 3> grid{225, 225, 225}, black{0, 0, 0};
  const double ys = nice_step(y1 - y0, 6), xs = nice_step(x1 - x0, 6);
  for (double v = std::ceil(y0 / ys) * ys; v <= y1; v += ys) {
    cv.line(static_cast<double>(L), py(v), static_cast<double>(R), py(v), grid);
    const std::string t = tick(v, ys);
    cv.text(L - 8 - static_cast<int64_t>(t.size()) * 8, std::lround(py(v)) - 5, t);
  }
  for (double v = std::ceil(x0 / xs) * xs; v <= x1; v += xs) {
    cv.line(px(v), static_cast<double>(T), px(v), static_cast<double>(B), grid);
    const std::string t = tick(v, xs);
    cv.text(std::lround(px(v)) - static_cast<int64_t>(t.size()) * 4, B + 8, t);
  }
  cv.line(static_cast<double>(L), static_cast<double>(B), static_cast<double>(R), static_cast<double>(B), black);
  cv.line(static_cast<double>(L), static_cast<double>(T), static_cast<double>(L), static_cast<double>(B), black);
  cv.text((L + R) / 2 - static_cast<int64_t>(x_label.size()) * 4, height - 18, x_label);
  cv.text(8, 10, y_label);
  int64_t lx = L + 10;
  for (const auto& s : series) {
    if (s.x.empty()) continue;
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (i > 0) cv.line(px(s.x[i - 1]), py(s.y[i - 1]), px(s.x[i]), py(s.y[i]), s.rgb, 2);
      cv.rect(std::lround(px(s.x[i])) - 2, std::lround(py(s.y[i])) - 2, std::lround(px(s.x[i])) + 2, std::lround(py(s.y[i])) + 2, s.rgb);
    }
    cv.rect(lx, 14, lx + 14, 17, s.rgb);  // legend swatch
    lx += 20 + cv.text(lx + 20, 11, s.label) + 16;
  }
  return cv.img;
}

void write_line_chart(const std::filesystem::path& png, const std::vector<CurveSeries>& series,
                      const std::string& x_label, const std::string& y_label) {
  const Image8 img = line_chart(series, x_label, y_label);
  AtomicOutput out(png);
  write_png(out.tmp(), img);
  out.commit();
}

}  // namespace rb::ml
