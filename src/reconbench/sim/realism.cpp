#include "reconbench/sim/realism.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "reconbench/core/error.hpp"
#include "reconbench/core/parallel.hpp"
#include "reconbench/eval/mask.hpp"
#include "reconbench/eval/metrics.hpp"
#include "reconbench/eval/stats.hpp"
#include "reconbench/fft/fft.hpp"
#include "reconbench/sampling/masks.hpp"
#include "reconbench/sampling/tracks.hpp"
#include "reconbench/sim/anatomy.hpp"
#include "reconbench/sim/volume.hpp"

namespace rb::sim {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kMarginFraction = 0.03;  // erosion / background margin, of the grid size
constexpr double kBrightFraction = 0.3;   // fine phase: r >= 0.3 Q95(r over F)

// Normalised k-space radius u of sample (a, b) of an [h w] grid (DC at (h/2, w/2)).
inline double kradius(int64_t a, int64_t b, int64_t h, int64_t w) {
  const double dy = (a - h / 2) / (0.5 * h), dx = (b - w / 2) / (0.5 * w);
  return std::sqrt(dy * dy + dx * dx);
}

// Centre crop of [n H W] to [n h w].
Array<cfloat> crop_images(ArrayView<const cfloat> x, int64_t h, int64_t w) {
  const int64_t n = x.dim(0), H = x.dim(1), W = x.dim(2), r0 = (H - h) / 2, c0 = (W - w) / 2;
  Array<cfloat> out({n, h, w});
  for (int64_t c = 0; c < n; ++c)
    for (int64_t a = 0; a < h; ++a)
      std::copy_n(x.data() + (c * H + a + r0) * W + c0, w, out.data() + (c * h + a) * w);
  return out;
}

Array<float> rss_of(ArrayView<const cfloat> x) {
  const int64_t n = x.dim(0), p = x.dim(1) * x.dim(2);
  Array<float> r({x.dim(1), x.dim(2)});
  for (int64_t q = 0; q < p; ++q) {
    double s = 0;
    for (int64_t c = 0; c < n; ++c) s += std::norm(x[c * p + q]);
    r[q] = static_cast<float>(std::sqrt(s));
  }
  return r;
}

Array<cfloat> as_complex(const Array<float>& r) {
  Array<cfloat> out({1, r.dim(0), r.dim(1)});
  for (int64_t q = 0; q < r.size(); ++q) out[q] = r[q];
  return out;
}

}  // namespace

const char* stat_name(int s) {
  static const char* names[kNumStats] = {
      "kspace_slope",   "fine_phase_rad", "coil_map_residual", "coil_highk_ratio",
      "background_fraction", "noise_spread", "noise_mean_rho", "noise_max_rho",
      "snr",            "zf_ssim_4x",     "zf_ssim_8x"};
  return (s >= 0 && s < kNumStats) ? names[s] : "?";
}

double kspace_power_slope(ArrayView<const cfloat> k, int64_t pad_left, int64_t pad_right) {
  RB_ASSERT(k.ndim() == 3);
  const int64_t C = k.dim(0), H = k.dim(1), W = k.dim(2);
  pad_left = std::clamp<int64_t>(pad_left, 0, W);
  pad_right = std::clamp<int64_t>(pad_right, pad_left, W);
  std::array<double, kSlopeBins> sum{}, cnt{};
  const double llo = std::log(kSlopeLo), lstep = (std::log(kSlopeHi) - llo) / kSlopeBins;
  for (int64_t a = 0; a < H; ++a)
    for (int64_t b = pad_left; b < pad_right; ++b) {
      const double u = kradius(a, b, H, W);
      if (u < kSlopeLo || u >= kSlopeHi) continue;
      const int bin = std::min(kSlopeBins - 1, static_cast<int>((std::log(u) - llo) / lstep));
      double p = 0;
      for (int64_t c = 0; c < C; ++c) p += std::norm(k[(c * H + a) * W + b]);
      sum[bin] += p;
      cnt[bin] += 1;
    }
  // Least squares of log P on log u (bin centres in log u).
  double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (int i = 0; i < kSlopeBins; ++i) {
    if (cnt[i] == 0 || sum[i] <= 0) continue;
    const double x = llo + (i + 0.5) * lstep, y = std::log(sum[i] / cnt[i]);
    n += 1;
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  if (n < 3) return kNaN;
  return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

void hann_lowpass(ArrayView<cfloat> images, double cycles) {
  const int64_t h = images.dim(-2), w = images.dim(-1), n = images.size() / (h * w);
  Array<float> win({h, w});
  for (int64_t a = 0; a < h; ++a)
    for (int64_t b = 0; b < w; ++b) {
      const double dy = a - h / 2, dx = b - w / 2, rho = std::sqrt(dy * dy + dx * dx);
      const double t = (rho - (cycles - kTaperHalfWidth)) / (2 * kTaperHalfWidth);
      const double c = std::cos(0.5 * std::numbers::pi * std::clamp(t, 0.0, 1.0));
      win[a * w + b] = static_cast<float>(t >= 1 ? 0.0 : c * c);
    }
  ArrayView<cfloat> all(images.data(), {n, h, w});
  fft2c(all);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t q = 0; q < h * w; ++q) all[i * h * w + q] *= win[q];
  ifft2c(all);
}

double fine_phase_rms(ArrayView<const cfloat> x, ArrayView<const uint8_t> mask) {
  const int64_t C = x.dim(0), p = x.dim(1) * x.dim(2);
  Array<cfloat> low(x.shape(), std::vector<cfloat>(x.data(), x.data() + x.size()));
  hann_lowpass(low.view(), kFinePhaseCycles);
  double s = 0;
  int64_t n = 0;
  for (int64_t q = 0; q < p; ++q) {
    if (!mask[q]) continue;
    std::complex<double> acc = 0;
    for (int64_t c = 0; c < C; ++c) acc += cdouble(x[c * p + q]) * std::conj(cdouble(low[c * p + q]));
    const double ph = std::arg(acc);
    s += ph * ph;
    ++n;
  }
  return n ? std::sqrt(s / n) : kNaN;
}

double coil_map_residual(ArrayView<const cfloat> x, ArrayView<const uint8_t> mask) {
  const int64_t C = x.dim(0), h = x.dim(1), w = x.dim(2), p = h * w;
  Array<cfloat> low(x.shape(), std::vector<cfloat>(x.data(), x.data() + x.size()));
  hann_lowpass(low.view(), kMapCycles);
  std::vector<int64_t> pix;
  for (int64_t q = 0; q < p; ++q)
    if (mask[q]) pix.push_back(q);
  constexpr int kTerms = (kMapDegree + 1) * (kMapDegree + 2) / 2;
  if (static_cast<int64_t>(pix.size()) < 4 * kTerms) return kNaN;
  // Virtual body coil: phases aligned by each coil's mean over the region.
  std::vector<cdouble> g(C, 0.0);
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t q : pix) g[c] += cdouble(low[c * p + q]);
    g[c] = std::abs(g[c]) > 0 ? std::conj(g[c]) / std::abs(g[c]) : cdouble(1);
  }
  const int64_t N = static_cast<int64_t>(pix.size());
  Eigen::MatrixXd A(N, kTerms);
  Eigen::MatrixXcd S(N, C);
  for (int64_t i = 0; i < N; ++i) {
    const int64_t q = pix[i];
    const double yy = (q / w - h / 2) / (0.5 * h), xx = (q % w - w / 2) / (0.5 * w);
    int t = 0;
    for (int a = 0; a <= kMapDegree; ++a)
      for (int b = 0; a + b <= kMapDegree; ++b) A(i, t++) = std::pow(xx, a) * std::pow(yy, b);
    cdouble v = 0;
    double r2 = 0;
    for (int64_t c = 0; c < C; ++c) {
      v += g[c] * cdouble(low[c * p + q]);
      r2 += std::norm(low[c * p + q]);
    }
    const cdouble ref = (std::abs(v) > 0 ? std::conj(v) / std::abs(v) : cdouble(1)) /
                        std::max(std::sqrt(r2), 1e-300);
    for (int64_t c = 0; c < C; ++c) S(i, c) = cdouble(low[c * p + q]) * ref;
  }
  const Eigen::MatrixXd AtA = A.transpose() * A;
  const Eigen::LDLT<Eigen::MatrixXd> ldlt(AtA);
  const Eigen::MatrixXcd AtS = A.transpose().cast<cdouble>() * S;
  const Eigen::MatrixXd cre = ldlt.solve(AtS.real()), cim = ldlt.solve(AtS.imag());
  Eigen::MatrixXcd coef(cre.rows(), cre.cols());
  coef.real() = cre;
  coef.imag() = cim;
  const Eigen::MatrixXcd res = S - A.cast<cdouble>() * coef;
  const double den = S.squaredNorm();
  return den > 0 ? std::sqrt(res.squaredNorm() / den) : kNaN;
}

double highk_energy_fraction(ArrayView<const cfloat> images) {
  const int64_t h = images.dim(-2), w = images.dim(-1), n = images.size() / (h * w);
  Array<cfloat> k({n, h, w}, std::vector<cfloat>(images.data(), images.data() + images.size()));
  fft2c(k.view());
  double hi = 0, all = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t a = 0; a < h; ++a)
      for (int64_t b = 0; b < w; ++b) {
        const double e = std::norm(k[(i * h + a) * w + b]);
        all += e;
        if (kradius(a, b, h, w) >= kHighK) hi += e;
      }
  return all > 0 ? hi / all : kNaN;
}

NoiseEstimate background_noise(ArrayView<const cfloat> x, ArrayView<const uint8_t> bg) {
  const int64_t C = x.dim(0), p = x.dim(1) * x.dim(2);
  NoiseEstimate est;
  Eigen::MatrixXcd psi = Eigen::MatrixXcd::Zero(C, C);
  Eigen::VectorXcd v(C);
  for (int64_t q = 0; q < p; ++q) {
    if (!bg[q]) continue;
    for (int64_t c = 0; c < C; ++c) v(c) = cdouble(x[c * p + q]);
    psi.noalias() += v * v.adjoint();
    ++est.pixels;
  }
  if (est.pixels < kMinNoisePixels) {
    est.spread = est.mean_rho = est.max_rho = est.sigma_rms = kNaN;
    return est;
  }
  psi /= static_cast<double>(est.pixels);
  double lo = 1e300, hi = 0, ms = 0, sum = 0;
  int pairs = 0;
  for (int64_t i = 0; i < C; ++i) {
    const double si = std::sqrt(psi(i, i).real());
    lo = std::min(lo, si);
    hi = std::max(hi, si);
    ms += si * si;
    for (int64_t j = i + 1; j < C; ++j) {
      const double r = std::abs(psi(i, j)) / std::sqrt(psi(i, i).real() * psi(j, j).real());
      sum += r;
      est.max_rho = std::max(est.max_rho, r);
      ++pairs;
    }
  }
  est.spread = lo > 0 ? hi / lo : kNaN;
  est.mean_rho = pairs ? sum / pairs : kNaN;
  if (!pairs) est.max_rho = kNaN;
  est.sigma_rms = std::sqrt(ms / C);
  return est;
}

Array<uint8_t> far_from(ArrayView<const uint8_t> mask, uint8_t value, double r) {
  const int64_t h = mask.dim(0), w = mask.dim(1);
  std::vector<uint8_t> site(static_cast<size_t>(h * w));
  for (int64_t q = 0; q < h * w; ++q) site[q] = (mask[q] != 0) == (value != 0);
  const std::vector<float> d = distance_transform(site, w, h, 1);
  Array<uint8_t> out({h, w});
  for (int64_t q = 0; q < h * w; ++q) out[q] = d[q] > r;
  return out;
}

namespace {

struct VolumeImages {
  Array<float> rss_full, rss_crop;  // [slice H W], [slice h w]
};

// Zero-filled SSIM of every slice under fastMRI's equispaced-fraction mask, both images
// centre-cropped to evaluate.py's (c, c), c = eval::crop_side(target).
std::vector<double> zero_filled_ssim(ArrayView<const cfloat> kspace, const IsmrmrdInfo& hd,
                                     const Array<float>& target, const std::string& file_name,
                                     int acceleration) {
  const int64_t S = kspace.dim(0), W = kspace.dim(3), th = target.dim(1), tw = target.dim(2);
  const int64_t c = eval::crop_side(target.shape());
  MaskFunc mf(track_mask_options(find_track(acceleration == 8 ? "multicoil_8x" : "multicoil_4x")));
  const Mask m = mf(W, seed_from_filename(file_name));
  auto crop = [&](const float* x) {
    Array<float> o({c, c});
    const int64_t r0 = (th - c) / 2, c0 = (tw - c) / 2;
    for (int64_t a = 0; a < c; ++a) std::copy_n(x + (a + r0) * tw + c0, c, o.data() + a * c);
    return o;
  };
  double range = 0;  // max of the cropped target volume (evaluate.py)
  for (int64_t s = 0; s < S; ++s) {
    const Array<float> t = crop(target.data() + s * th * tw);  // named: a range-for over
    for (float v : t.flat()) range = std::max(range, static_cast<double>(v));  // crop(..).flat() dangles
  }
  std::vector<double> out(S, kNaN);
  if (range <= 0) return out;
  parallel_for(S, [&](int64_t s) {
    const ArrayView<const cfloat> ks = kspace(s);
    Array<cfloat> k(ks.shape(), std::vector<cfloat>(ks.data(), ks.data() + ks.size()));
    const auto [pl, pr] = acquired_columns(&hd, W);
    apply_mask_inplace(k.view(), m.mask, pl, pr);
    const Array<float> zf = rss_crop(k.view(), th, tw);
    out[s] = eval::ssim_2d(crop(target.data() + s * th * tw).view(), crop(zf.data()).view(), range);
  });
  return out;
}

}  // namespace

std::vector<SliceRealism> volume_realism(ArrayView<const cfloat> kspace, const IsmrmrdInfo& hd,
                                         const Array<float>& target_in,
                                         const std::string& file_name) {
  RB_ASSERT(kspace.ndim() == 4);
  const int64_t S = kspace.dim(0), H = kspace.dim(2), W = kspace.dim(3);
  const auto [pl, pr] = acquired_columns(&hd, W);
  // Target and crop size: reconstruction_rss, else the RSS cropped to the recon matrix.
  Array<float> target = target_in;
  if (target.empty()) {
    const int64_t h = std::min(hd.recon_x > 0 ? hd.recon_x : H, H),
                  w = std::min(hd.recon_y > 0 ? hd.recon_y : W, W);
    target = Array<float>({S, h, w});
    parallel_for(S, [&](int64_t s) {
      const Array<float> r = rss_crop(kspace(s), h, w);
      std::copy(r.data(), r.data() + h * w, target.data() + s * h * w);
    });
  }
  const int64_t h = target.dim(1), w = target.dim(2);
  RB_CHECK(target.dim(0) == S && h <= H && w <= W, "realism: target ", shape_str(target.shape()),
           " does not fit k-space ", shape_str(kspace.shape()));
  // Pass 1: RSS images for the volume-level foreground masks.
  VolumeImages vi{Array<float>({S, H, W}), Array<float>({S, h, w})};
  parallel_for(S, [&](int64_t s) {
    const Array<cfloat> x = ifft2c_copy(kspace(s));
    const Array<float> rf = rss_of(x.view());
    const Array<float> rc = rss_of(crop_images(x.view(), h, w).view());
    std::copy(rf.data(), rf.data() + H * W, vi.rss_full.data() + s * H * W);
    std::copy(rc.data(), rc.data() + h * w, vi.rss_crop.data() + s * h * w);
  });
  const Array<uint8_t> fg_full = eval::foreground_mask(vi.rss_full.view());
  const Array<uint8_t> fg = eval::foreground_mask(vi.rss_crop.view());
  const std::vector<double> zf4 = zero_filled_ssim(kspace, hd, target, file_name, 4);
  const std::vector<double> zf8 = zero_filled_ssim(kspace, hd, target, file_name, 8);
  std::vector<SliceRealism> out(S);
  parallel_for(S, [&](int64_t s) {
    SliceRealism& st = out[s];
    st.v[kStatSlope] = kspace_power_slope(kspace(s), pl, pr);
    st.v[kStatZf4] = zf4[s];
    st.v[kStatZf8] = zf8[s];
    const Array<cfloat> x = ifft2c_copy(kspace(s));
    const Array<uint8_t> bg =
        far_from(fg_full(s), 1, kMarginFraction * static_cast<double>(std::max(H, W)));
    const NoiseEstimate ne = background_noise(x.view(), bg.view());
    st.v[kStatNoiseSpread] = ne.spread;
    st.v[kStatNoiseMeanRho] = ne.mean_rho;
    st.v[kStatNoiseMaxRho] = ne.max_rho;
    const Array<cfloat> xc = crop_images(x.view(), h, w);
    const ArrayView<const uint8_t> f = fg(s);
    const ArrayView<const float> r = vi.rss_crop(s);
    std::vector<double> inside;
    for (int64_t q = 0; q < h * w; ++q)
      if (f[q]) inside.push_back(r[q]);
    st.v[kStatBackground] = 1.0 - static_cast<double>(inside.size()) / static_cast<double>(h * w);
    if (inside.empty()) return;
    double mean = 0;
    for (double v : inside) mean += v;
    mean /= static_cast<double>(inside.size());
    st.v[kStatSnr] = mean / ne.sigma_rms;
    const double bright = kBrightFraction * eval::quantile(inside, 0.95);
    Array<uint8_t> fb({h, w});
    for (int64_t q = 0; q < h * w; ++q) fb[q] = f[q] && r[q] >= bright;
    st.v[kStatFinePhase] = fine_phase_rms(xc.view(), fb.view());
    const Array<uint8_t> core = far_from(f, 0, kMarginFraction * static_cast<double>(std::max(h, w)));
    st.v[kStatCoilResidual] = coil_map_residual(xc.view(), core.view());
    const Array<float> rc(Shape{h, w}, std::vector<float>(r.data(), r.data() + h * w));
    st.v[kStatHighK] = highk_energy_fraction(as_complex(rc).view()) / highk_energy_fraction(xc.view());
  });
  return out;
}

}  // namespace rb::sim
