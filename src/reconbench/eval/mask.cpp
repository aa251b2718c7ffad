#include "reconbench/eval/mask.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "reconbench/core/parallel.hpp"

namespace rb::eval {

namespace {

// numpy.median of a buffer (modified in place).
template <class T>
double median_inplace(std::vector<T>& v) {
  RB_ASSERT(!v.empty());
  const size_t n = v.size(), mid = n / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  double hi = v[mid];
  if (n % 2) return hi;
  const double lo = *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid));
  return 0.5 * (lo + hi);
}

// Binary dilation (grow = true) or erosion with a (2r+1)^2 square; pixels outside the image
// are ignored (an erosion never eats the mask at the image border). Separable: OR (AND) of
// the row-shifted images, then of the column-shifted ones, each clipped at the border; the
// byte loops vectorise.
template <bool kGrow>
void morph_pass(std::vector<uint8_t>& m, int64_t h, int64_t w, int64_t r) {
  std::vector<uint8_t> tmp(m.size());
  auto combine = [](uint8_t* __restrict dst, const uint8_t* __restrict src, int64_t n) {
    for (int64_t j = 0; j < n; ++j) dst[j] = kGrow ? (dst[j] | src[j]) : (dst[j] & src[j]);
  };
  // Horizontal: tmp[i][j] = op of m[i][j-r .. j+r] inside the row.
  for (int64_t i = 0; i < h; ++i) {
    const uint8_t* src = m.data() + i * w;
    uint8_t* dst = tmp.data() + i * w;
    std::copy(src, src + w, dst);
    for (int64_t t = 1; t <= r && t < w; ++t) {
      combine(dst + t, src, w - t);  // dst[j] op= src[j - t]
      combine(dst, src + t, w - t);  // dst[j] op= src[j + t]
    }
  }
  // Vertical: m[i][j] = op of tmp[i-r .. i+r][j] inside the image.
  for (int64_t i = 0; i < h; ++i) {
    uint8_t* dst = m.data() + i * w;
    std::copy(tmp.data() + i * w, tmp.data() + (i + 1) * w, dst);
    for (int64_t t = 1; t <= r; ++t) {
      if (i - t >= 0) combine(dst, tmp.data() + (i - t) * w, w);
      if (i + t < h) combine(dst, tmp.data() + (i + t) * w, w);
    }
  }
}

void morph(std::vector<uint8_t>& m, int64_t h, int64_t w, int64_t r, bool grow) {
  if (r <= 0) return;
  if (grow) morph_pass<true>(m, h, w, r);
  else morph_pass<false>(m, h, w, r);
}

// Connected components of the pixels equal to `value`, found on runs (row segments) with a
// union-find over runs. eight: 8-connectivity (else 4).
struct Run {
  int64_t row, begin, end;  // [begin, end)
  int64_t parent;
};

int64_t find_root(std::vector<Run>& runs, int64_t i) {
  while (runs[i].parent != i) {
    runs[i].parent = runs[runs[i].parent].parent;
    i = runs[i].parent;
  }
  return i;
}

std::vector<Run> label_runs(const std::vector<uint8_t>& m, int64_t h, int64_t w, uint8_t value,
                            bool eight) {
  std::vector<Run> runs;
  int64_t prev_begin = 0, prev_end = 0;  // run index range of the previous row
  for (int64_t i = 0; i < h; ++i) {
    const uint8_t* row = m.data() + i * w;
    const int64_t cur_begin = static_cast<int64_t>(runs.size());
    for (int64_t j = 0; j < w;) {
      if (row[j] != value) {
        ++j;
        continue;
      }
      int64_t k = j;
      while (k < w && row[k] == value) ++k;
      const int64_t id = static_cast<int64_t>(runs.size());
      runs.push_back({i, j, k, id});
      // Union with overlapping runs of the previous row. Runs of a row are sorted and
      // disjoint, so those ending before this run's touching range are skipped for good
      // (later runs of this row lie further right). The partition, and so every root (the
      // smallest run index of its component), does not depend on the order of the unions.
      const int64_t lo = eight ? j - 1 : j, hi = eight ? k + 1 : k;  // touching range
      while (prev_begin < prev_end && runs[prev_begin].end <= lo) ++prev_begin;
      for (int64_t p = prev_begin; p < prev_end && runs[p].begin < hi; ++p) {
        const int64_t a = find_root(runs, p), b = find_root(runs, id);
        if (a != b) runs[std::max(a, b)].parent = std::min(a, b);
      }
      j = k;
    }
    prev_begin = cur_begin;
    prev_end = static_cast<int64_t>(runs.size());
  }
  for (int64_t i = 0; i < static_cast<int64_t>(runs.size()); ++i) runs[i].parent = find_root(runs, i);
  return runs;
}

}  // namespace

std::string mask_recipe(const ForegroundMaskOptions& o) {
  return cat("rb-fg-1: t = max(", o.noise_factor, " * median of corner-square medians (side ",
             o.corner_fraction, " * min(h,w), >= 4 px), ", o.signal_floor,
             " * p99(volume)); per slice x > t, closing with a ", 2 * o.close_radius + 1, "x",
             2 * o.close_radius + 1,
             " square, keep the largest 8-connected component and those >= ", o.keep_fraction,
             " of it (none if the largest < ", o.min_area_fraction,
             " of the slice), fill holes; computed from the ground truth only");
}

MaskThreshold mask_threshold(ArrayView<const float> v, const ForegroundMaskOptions& o) {
  RB_CHECK(v.ndim() == 3 && v.size() > 0, "foreground mask needs a [slice y x] volume, got ",
           shape_str(v.shape()));
  const int64_t S = v.dim(0), h = v.dim(1), w = v.dim(2);
  int64_t side = std::max<int64_t>(4, std::llround(o.corner_fraction * std::min(h, w)));
  side = std::max<int64_t>(1, std::min(side, std::min(h, w) / 2));
  std::vector<double> medians;
  std::vector<float> patch(static_cast<size_t>(side * side));
  for (int64_t s = 0; s < S; ++s) {
    for (int corner = 0; corner < 4; ++corner) {
      const int64_t y0 = corner < 2 ? 0 : h - side, x0 = corner % 2 == 0 ? 0 : w - side;
      size_t k = 0;
      for (int64_t i = 0; i < side; ++i)
        for (int64_t j = 0; j < side; ++j) patch[k++] = v.at(s, y0 + i, x0 + j);
      medians.push_back(median_inplace(patch));
    }
  }
  MaskThreshold t;
  t.noise_floor = median_inplace(medians);
  // 99th percentile (numpy linear) of a regular subsample of at most 2^16 voxels.
  const int64_t n = v.size(), stride = std::max<int64_t>(1, n / 65536);
  std::vector<float> sample;
  sample.reserve(static_cast<size_t>(n / stride + 1));
  for (int64_t i = 0; i < n; i += stride) sample.push_back(v[i]);
  const double hpos = 0.99 * static_cast<double>(sample.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(hpos));
  const size_t hi = std::min(lo + 1, sample.size() - 1);
  // Order statistics lo and lo + 1 (= the minimum of what follows lo) without a full sort.
  std::nth_element(sample.begin(), sample.begin() + static_cast<std::ptrdiff_t>(lo), sample.end());
  const double v_lo = sample[lo];
  const double v_hi =
      hi == lo ? v_lo
               : *std::min_element(sample.begin() + static_cast<std::ptrdiff_t>(hi), sample.end());
  t.signal_level = v_lo + (hpos - std::floor(hpos)) * (v_hi - v_lo);
  t.threshold = std::max(o.noise_factor * t.noise_floor, o.signal_floor * t.signal_level);
  return t;
}

Array<uint8_t> foreground_mask_slice(ArrayView<const float> x, double threshold,
                                     const ForegroundMaskOptions& o) {
  RB_CHECK(x.ndim() == 2, "foreground mask slice must be [y x], got ", shape_str(x.shape()));
  const int64_t h = x.dim(0), w = x.dim(1);
  std::vector<uint8_t> m(static_cast<size_t>(h * w));
  {
    const float* __restrict src = x.data();
    uint8_t* __restrict dst = m.data();
    for (int64_t i = 0; i < h * w; ++i) dst[i] = static_cast<double>(src[i]) > threshold ? 1 : 0;
  }
  // Closing: dilate, then erode.
  morph(m, h, w, o.close_radius, true);
  morph(m, h, w, o.close_radius, false);

  // Components of the foreground; keep the largest and those >= keep_fraction of it.
  std::vector<Run> runs = label_runs(m, h, w, 1, true);
  std::vector<int64_t> area(runs.size(), 0);
  for (const Run& r : runs) area[r.parent] += r.end - r.begin;
  const int64_t largest = area.empty() ? 0 : *std::max_element(area.begin(), area.end());
  std::fill(m.begin(), m.end(), 0);
  if (largest > 0 && static_cast<double>(largest) >= o.min_area_fraction * double(h * w)) {
    const double keep = o.keep_fraction * static_cast<double>(largest);
    for (const Run& r : runs)
      if (static_cast<double>(area[r.parent]) >= keep)
        std::fill(m.begin() + r.row * w + r.begin, m.begin() + r.row * w + r.end, 1);
    // Fill holes: background components (4-connected) that do not touch the border.
    std::vector<Run> bg = label_runs(m, h, w, 0, false);
    std::vector<uint8_t> touches(bg.size(), 0);
    for (const Run& r : bg)
      if (r.row == 0 || r.row == h - 1 || r.begin == 0 || r.end == w) touches[r.parent] = 1;
    for (const Run& r : bg)
      if (!touches[r.parent])
        std::fill(m.begin() + r.row * w + r.begin, m.begin() + r.row * w + r.end, 1);
  }
  return Array<uint8_t>({h, w}, std::move(m));
}

Array<uint8_t> foreground_mask(ArrayView<const float> v, const ForegroundMaskOptions& o) {
  const MaskThreshold t = mask_threshold(v, o);
  const int64_t S = v.dim(0), h = v.dim(1), w = v.dim(2);
  Array<uint8_t> out({S, h, w});
  parallel_for(
      S,
      [&](int64_t s) {
        Array<uint8_t> ms = foreground_mask_slice(v(s), t.threshold, o);
        std::copy(ms.vec().begin(), ms.vec().end(), out.data() + s * h * w);
      },
      o.threads);
  return out;
}

}  // namespace rb::eval
