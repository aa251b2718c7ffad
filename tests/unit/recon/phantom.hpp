// Test data for recon/: a smooth brain-like complex phantom times synthetic smooth coil maps,
// plus noise, as multi-coil k-space [coil read phase] (fastMRI layout and centring).
#pragma once

#include <cmath>
#include <complex>
#include <random>
#include <vector>

#include "reconbench/core/array.hpp"
#include "reconbench/fft/fft.hpp"
#include "reconbench/fft/transforms.hpp"

namespace rb::test {

struct Phantom {
  Array<cfloat> image;    // [y x] complex object
  Array<cfloat> maps;     // [coil y x] true sensitivities
  Array<cfloat> kspace;   // [coil read phase] fully sampled
  Array<float> rss;       // [y x] RSS of the fully sampled coil images
};

inline Phantom make_phantom(int64_t nc = 8, int64_t h = 128, int64_t w = 96, float noise = 0.002f,
                            uint32_t seed = 7) {
  Phantom p;
  p.image = Array<cfloat>({h, w});
  p.maps = Array<cfloat>({nc, h, w});
  std::mt19937 gen(seed);
  std::normal_distribution<float> nd(0, 1);
  // Ellipses (centre y, centre x, semi-axes, value), in units of the half-size.
  struct E { double cy, cx, ay, ax, v; };
  const E ell[] = {{0, 0, 0.80, 0.62, 1.0},  {0, 0, 0.74, 0.56, -0.6}, {-0.2, -0.18, 0.25, 0.12, 0.35},
                   {-0.2, 0.2, 0.28, 0.14, 0.25}, {0.35, 0, 0.12, 0.2, 0.3}, {0.1, 0.05, 0.06, 0.06, 0.5}};
  for (int64_t i = 0; i < h; ++i)
    for (int64_t j = 0; j < w; ++j) {
      const double y = (i - h / 2.0) / (h / 2.0), x = (j - w / 2.0) / (w / 2.0);
      double v = 0;
      for (const auto& e : ell) {
        const double dy = (y - e.cy) / e.ay, dx = (x - e.cx) / e.ax;
        if (dy * dy + dx * dx <= 1) v += e.v;
      }
      const double ph = 0.4 * x + 0.2 * y * y;
      p.image.at(i, j) = std::polar<float>(static_cast<float>(v), static_cast<float>(ph));
    }
  // Coils on a circle, Gaussian magnitude, smooth phase.
  for (int64_t c = 0; c < nc; ++c) {
    const double a = 2 * M_PI * c / nc;
    const double py = 1.1 * std::sin(a), px = 1.1 * std::cos(a);
    for (int64_t i = 0; i < h; ++i)
      for (int64_t j = 0; j < w; ++j) {
        const double y = (i - h / 2.0) / (h / 2.0), x = (j - w / 2.0) / (w / 2.0);
        const double d2 = (y - py) * (y - py) + (x - px) * (x - px);
        const double mag = std::exp(-d2 / 0.5);
        const double ph = a + 0.5 * (x * std::cos(a) + y * std::sin(a));
        p.maps.at(c, i, j) = std::polar<float>(static_cast<float>(mag), static_cast<float>(ph));
      }
  }
  Array<cfloat> coil({nc, h, w});
  for (int64_t c = 0; c < nc; ++c)
    for (int64_t q = 0; q < h * w; ++q) coil[c * h * w + q] = p.maps[c * h * w + q] * p.image[q];
  p.kspace = fft2c_copy(coil.view());
  for (auto& v : p.kspace.vec()) v += cfloat(noise * nd(gen), noise * nd(gen));
  auto img = ifft2c_copy(p.kspace.view());
  p.rss = rb::rss(img.view());
  return p;
}

// 1-D Cartesian mask: `centre` fully sampled centre lines plus every R-th line (offset 0).
inline std::vector<float> equispaced_mask(int64_t w, int64_t r, int64_t centre) {
  std::vector<float> m(static_cast<size_t>(w), 0.f);
  for (int64_t j = 0; j < w; j += r) m[j] = 1;
  for (int64_t j = (w - centre + 1) / 2; j < (w - centre + 1) / 2 + centre; ++j) m[j] = 1;
  return m;
}

inline Array<cfloat> apply_mask(const Array<cfloat>& k, const std::vector<float>& m) {
  Array<cfloat> out = k;
  const int64_t w = k.dim(-1);
  for (int64_t i = 0; i < out.size(); ++i) out[i] = m[i % w] != 0 ? out[i] : cfloat(0);
  return out;
}

inline double nmse(const Array<float>& gt, const Array<float>& x) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < gt.size(); ++i) {
    num += double(gt[i] - x[i]) * (gt[i] - x[i]);
    den += double(gt[i]) * gt[i];
  }
  return num / den;
}

// skimage-default SSIM (7x7 uniform window, sample covariance, valid windows), one slice.
inline double ssim(const Array<float>& x, const Array<float>& y, double range) {
  const int64_t h = x.dim(0), w = x.dim(1), win = 7;
  const double c1 = std::pow(0.01 * range, 2), c2 = std::pow(0.03 * range, 2), n = win * win;
  double total = 0;
  int64_t count = 0;
  for (int64_t i = 0; i + win <= h; ++i)
    for (int64_t j = 0; j + win <= w; ++j) {
      double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
      for (int64_t a = 0; a < win; ++a)
        for (int64_t b = 0; b < win; ++b) {
          const double u = x.at(i + a, j + b), v = y.at(i + a, j + b);
          sx += u; sy += v; sxx += u * u; syy += v * v; sxy += u * v;
        }
      const double mx = sx / n, my = sy / n, cn = n / (n - 1);
      const double vx = cn * (sxx / n - mx * mx), vy = cn * (syy / n - my * my),
                   vxy = cn * (sxy / n - mx * my);
      total += ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
      ++count;
    }
  return total / count;
}

}  // namespace rb::test
