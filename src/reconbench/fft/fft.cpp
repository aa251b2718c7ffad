#include "reconbench/fft/fft.hpp"

#include <fftw3.h>

#include <cmath>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

namespace rb {
namespace {

// Plans for one contiguous transform of shape (n0, n1) [or 1-D strided]; FFTW_UNALIGNED so
// one plan serves every buffer with fftwf_execute_dft.
struct PlanKey {
  int64_t n0, n1, howmany, stride, dist;
  int sign;
  auto tie() const { return std::tie(n0, n1, howmany, stride, dist, sign); }
  bool operator<(const PlanKey& o) const { return tie() < o.tie(); }
};

std::mutex g_plan_mutex;
std::map<PlanKey, fftwf_plan>& plan_cache() {
  static std::map<PlanKey, fftwf_plan> cache;
  return cache;
}

fftwf_plan get_plan(const PlanKey& k) {
  std::lock_guard lock(g_plan_mutex);
  auto& cache = plan_cache();
  auto it = cache.find(k);
  if (it != cache.end()) return it->second;
  // Plan on a scratch buffer; FFTW_ESTIMATE never touches the data.
  int64_t span = k.n1 == 0 ? (k.howmany - 1) * k.dist + (k.n0 - 1) * k.stride + 1
                           : k.n0 * k.n1;
  std::vector<fftwf_complex> scratch(static_cast<size_t>(std::max<int64_t>(span, 1)));
  fftwf_plan p;
  const unsigned flags = FFTW_ESTIMATE | FFTW_UNALIGNED;
  if (k.n1 != 0) {
    p = fftwf_plan_dft_2d(static_cast<int>(k.n0), static_cast<int>(k.n1), scratch.data(),
                          scratch.data(), k.sign, flags);
  } else {
    int n = static_cast<int>(k.n0);
    p = fftwf_plan_many_dft(1, &n, static_cast<int>(k.howmany), scratch.data(), nullptr,
                            static_cast<int>(k.stride), static_cast<int>(k.dist),
                            scratch.data(), nullptr, static_cast<int>(k.stride),
                            static_cast<int>(k.dist), k.sign, flags);
  }
  RB_ASSERT(p != nullptr, "FFTW planning failed");
  cache.emplace(k, p);
  return p;
}

// Roll the last two axes of one [H W] image by (s0, s1) (numpy.roll semantics).
void roll2(cfloat* x, int64_t h, int64_t w, int64_t s0, int64_t s1, std::vector<cfloat>& tmp) {
  tmp.assign(x, x + h * w);
  for (int64_t i = 0; i < h; ++i) {
    int64_t di = (i + s0) % h;
    for (int64_t j = 0; j < w; ++j) x[di * w + (j + s1) % w] = tmp[i * w + j];
  }
}

void centred2(ArrayView<cfloat> x, int sign) {
  RB_ASSERT(x.ndim() >= 2);
  const int64_t h = x.dim(-2), w = x.dim(-1);
  if (h == 0 || w == 0) return;
  const int64_t batch = x.size() / (h * w);
  fftwf_plan plan = get_plan({h, w, 1, 1, 0, sign});
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(h) * w));
  std::vector<cfloat> tmp;
  for (int64_t b = 0; b < batch; ++b) {
    cfloat* img = x.data() + b * h * w;
    auto* f = reinterpret_cast<fftwf_complex*>(img);
    if (h % 2 == 0 && w % 2 == 0) {
      // fftshift(F(ifftshift(x)))[k] = (-1)^(k + N/2) F((-1)^n x)[k] per even axis.
      for (int64_t i = 0; i < h; ++i)
        for (int64_t j = 1 - (i & 1); j < w; j += 2) img[i * w + j] = -img[i * w + j];
      fftwf_execute_dft(plan, f, f);
      const float g = (((h / 2) + (w / 2)) % 2 == 0) ? scale : -scale;
      for (int64_t i = 0; i < h; ++i)
        for (int64_t j = 0; j < w; ++j) img[i * w + j] *= ((i + j) & 1) ? -g : g;
    } else {
      roll2(img, h, w, (h + 1) / 2, (w + 1) / 2, tmp);  // ifftshift
      fftwf_execute_dft(plan, f, f);
      roll2(img, h, w, h / 2, w / 2, tmp);  // fftshift
      for (int64_t i = 0; i < h * w; ++i) img[i] *= scale;
    }
  }
}

void centred1(ArrayView<cfloat> x, int axis, int sign) {
  if (axis < 0) axis += x.ndim();
  RB_ASSERT(axis >= 0 && axis < x.ndim());
  const int64_t n = x.dim(axis);
  if (n == 0) return;
  int64_t inner = 1, outer = 1;
  for (int d = axis + 1; d < x.ndim(); ++d) inner *= x.dim(d);
  for (int d = 0; d < axis; ++d) outer *= x.dim(d);
  // One plan transforms all `inner` interleaved lines of one outer block.
  fftwf_plan plan = get_plan({n, 0, inner, inner, 1, sign});
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(n)));
  std::vector<cfloat> line(static_cast<size_t>(n));
  for (int64_t o = 0; o < outer; ++o) {
    cfloat* blk = x.data() + o * n * inner;
    auto shift = [&](int64_t s) {
      for (int64_t t = 0; t < inner; ++t) {
        for (int64_t i = 0; i < n; ++i) line[i] = blk[i * inner + t];
        for (int64_t i = 0; i < n; ++i) blk[((i + s) % n) * inner + t] = line[i];
      }
    };
    shift((n + 1) / 2);
    fftwf_execute_dft(plan, reinterpret_cast<fftwf_complex*>(blk),
                      reinterpret_cast<fftwf_complex*>(blk));
    shift(n / 2);
    for (int64_t i = 0; i < n * inner; ++i) blk[i] *= scale;
  }
}

}  // namespace

void fft2c(ArrayView<cfloat> x) { centred2(x, FFTW_FORWARD); }
void ifft2c(ArrayView<cfloat> x) { centred2(x, FFTW_BACKWARD); }

Array<cfloat> fft2c_copy(ArrayView<const cfloat> x) {
  auto y = Array<cfloat>::from_view(x);
  fft2c(y.view());
  return y;
}
Array<cfloat> ifft2c_copy(ArrayView<const cfloat> x) {
  auto y = Array<cfloat>::from_view(x);
  ifft2c(y.view());
  return y;
}

void fft_rows(cfloat* x, int64_t n, int64_t howmany, bool inverse) {
  if (n == 0 || howmany == 0) return;
  fftwf_plan plan = get_plan({n, 0, howmany, 1, n, inverse ? FFTW_BACKWARD : FFTW_FORWARD});
  auto* f = reinterpret_cast<fftwf_complex*>(x);
  fftwf_execute_dft(plan, f, f);
}

void fft1c(ArrayView<cfloat> x, int axis) { centred1(x, axis, FFTW_FORWARD); }
void ifft1c(ArrayView<cfloat> x, int axis) { centred1(x, axis, FFTW_BACKWARD); }

void fftshift2(ArrayView<cfloat> x) {
  const int64_t h = x.dim(-2), w = x.dim(-1);
  std::vector<cfloat> tmp;
  for (int64_t b = 0; b < x.size() / std::max<int64_t>(h * w, 1); ++b)
    roll2(x.data() + b * h * w, h, w, h / 2, w / 2, tmp);
}
void ifftshift2(ArrayView<cfloat> x) {
  const int64_t h = x.dim(-2), w = x.dim(-1);
  std::vector<cfloat> tmp;
  for (int64_t b = 0; b < x.size() / std::max<int64_t>(h * w, 1); ++b)
    roll2(x.data() + b * h * w, h, w, (h + 1) / 2, (w + 1) / 2, tmp);
}

}  // namespace rb
