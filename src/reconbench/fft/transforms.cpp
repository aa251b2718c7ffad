#include "reconbench/fft/transforms.hpp"

#include <cmath>

#include "reconbench/fft/fft.hpp"

namespace rb {

Array<float> rss(ArrayView<const cfloat> x) {
  RB_ASSERT(x.ndim() >= 1);
  const int64_t coils = x.dim(0), n = x.size() / std::max<int64_t>(coils, 1);
  Shape out_shape(x.shape().begin() + 1, x.shape().end());
  Array<float> out(out_shape);
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (int64_t c = 0; c < coils; ++c) s += std::norm(cdouble(x[c * n + i]));
    out[i] = static_cast<float>(std::sqrt(s));
  }
  return out;
}

Array<float> rss(ArrayView<const float> x) {
  RB_ASSERT(x.ndim() >= 1);
  const int64_t coils = x.dim(0), n = x.size() / std::max<int64_t>(coils, 1);
  Array<float> out(Shape(x.shape().begin() + 1, x.shape().end()));
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (int64_t c = 0; c < coils; ++c) s += double(x[c * n + i]) * x[c * n + i];
    out[i] = static_cast<float>(std::sqrt(s));
  }
  return out;
}

Array<float> complex_abs(ArrayView<const cfloat> x) {
  Array<float> out(x.shape());
  for (int64_t i = 0; i < x.size(); ++i) out[i] = std::abs(x[i]);
  return out;
}

template <class T>
Array<T> center_crop(ArrayView<const T> x, int64_t h, int64_t w) {
  RB_ASSERT(x.ndim() >= 2);
  const int64_t H = x.dim(-2), W = x.dim(-1);
  RB_CHECK(h <= H && w <= W, "cannot centre-crop ", shape_str(x.shape()), " to (", h, ", ", w,
           "): target larger than input");
  Shape s = x.shape();
  s[s.size() - 2] = h;
  s[s.size() - 1] = w;
  Array<T> out(s);
  const int64_t i0 = (H - h) / 2, j0 = (W - w) / 2, batch = x.size() / std::max<int64_t>(H * W, 1);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t i = 0; i < h; ++i)
      for (int64_t j = 0; j < w; ++j)
        out[(b * h + i) * w + j] = x[(b * H + i + i0) * W + j + j0];
  return out;
}

template <class T>
Array<T> center_pad(ArrayView<const T> x, int64_t h, int64_t w) {
  const int64_t H = x.dim(-2), W = x.dim(-1);
  Shape s = x.shape();
  s[s.size() - 2] = h;
  s[s.size() - 1] = w;
  Array<T> out(s);
  const int64_t batch = x.size() / std::max<int64_t>(H * W, 1);
  // Source index i maps to destination i + (h - H) // 2 (inverse of the crop's start rule).
  const int64_t di = (h >= H) ? (h - H) / 2 : -((H - h) / 2);
  const int64_t dj = (w >= W) ? (w - W) / 2 : -((W - w) / 2);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t i = 0; i < H; ++i) {
      int64_t oi = i + di;
      if (oi < 0 || oi >= h) continue;
      for (int64_t j = 0; j < W; ++j) {
        int64_t oj = j + dj;
        if (oj < 0 || oj >= w) continue;
        out[(b * h + oi) * w + oj] = x[(b * H + i) * W + j];
      }
    }
  return out;
}

template Array<float> center_crop(ArrayView<const float>, int64_t, int64_t);
template Array<cfloat> center_crop(ArrayView<const cfloat>, int64_t, int64_t);
template Array<float> center_pad(ArrayView<const float>, int64_t, int64_t);
template Array<cfloat> center_pad(ArrayView<const cfloat>, int64_t, int64_t);

Array<float> zero_filled_rss(ArrayView<const cfloat> kspace_slice, int64_t h, int64_t w) {
  auto img = ifft2c_copy(kspace_slice);
  auto r = rss(img.view());
  const int64_t H = r.dim(-2), W = r.dim(-1);
  // FLAIR-203 rule (fastMRI): images narrower than the crop are cropped to (W, W).
  if (W < w) { h = std::min(h, W); w = W; }
  return center_crop<float>(r.view(), std::min(h, H), std::min(w, W));
}

Array<cfloat> remove_readout_oversampling(ArrayView<const cfloat> kspace) {
  RB_ASSERT(kspace.ndim() >= 2);
  auto img = Array<cfloat>::from_view(kspace);
  ifft1c(img.view(), img.ndim() - 2);
  const int64_t H = img.dim(-2);
  auto cropped = center_crop<cfloat>(img.view(), H / 2, img.dim(-1));
  fft1c(cropped.view(), cropped.ndim() - 2);
  return cropped;
}

}  // namespace rb
