#include "reconbench/recon/pics.hpp"

#include <algorithm>
#include <cmath>

#include "reconbench/fft/fft.hpp"
#include "reconbench/recon/ops.hpp"
#include "reconbench/recon/solvers.hpp"

namespace rb::recon {

float estimate_scaling(ArrayView<const cfloat> kspace) {
  RB_ASSERT(kspace.ndim() == 3, "kspace [coil read phase]");
  const int64_t nc = kspace.dim(0), H = kspace.dim(1), W = kspace.dim(2);
  // BART extract_calib2(cal_size 32, fixed = false): keep the whole readout and the central
  // min(32, W) phase lines (offset (W - w) / 2) ...
  const int64_t tw = std::min<int64_t>(W, 32), tx0 = (W - tw) / 2;
  auto at = [&](int64_t c, int64_t y, int64_t x) { return kspace[(c * H + y) * W + tx0 + x]; };
  std::vector<uint8_t> pat(static_cast<size_t>(H * tw), 0);  // estimate_pattern: any coil != 0
  for (int64_t c = 0; c < nc; ++c)
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < tw; ++x)
        if (at(c, y, x) != cfloat(0)) pat[y * tw + x] = 1;
  // ... calib_geom: from a 1 x 1 box, grow read then phase by one sample per round (box
  // offset (n - size) / 2) while every sample in it is sampled, each axis capped at 32 ...
  const int64_t n[2] = {H, tw};
  int64_t size[2] = {1, 1}, pos[2] = {(H - 1) / 2, (tw - 1) / 2};
  auto full = [&] {
    for (int64_t y = pos[0]; y < pos[0] + size[0]; ++y)
      for (int64_t x = pos[1]; x < pos[1] + size[1]; ++x)
        if (!pat[y * tw + x]) return false;
    return true;
  };
  bool stop[2] = {false, false};
  while (!(stop[0] && stop[1]))
    for (int d = 0; d < 2; ++d) {
      if (size[d] == n[d] || size[d] >= 32) stop[d] = true;
      if (stop[d]) continue;
      ++size[d];
      pos[d] = (n[d] - size[d]) / 2;
      if (!full()) {
        --size[d];
        pos[d] = (n[d] - size[d]) / 2;
        stop[d] = true;
      }
    }
  // ... calib_readout_pos: slide the box along the readout to the first position of maximal
  // energy. Energy per readout row first (all coils), then each box sums its rows: O(H) boxes
  // of size[0] rows instead of re-reading nc x size[0] x size[1] samples per box (that was
  // 8 M dependent double adds per 16-coil 640x320 slice: 609 boxes x 16 x 32 x 26).
  std::vector<double> row(static_cast<size_t>(H), 0.0);
  for (int64_t y = 0; y < H; ++y)
    for (int64_t c = 0; c < nc; ++c)
      for (int64_t x = pos[1]; x < pos[1] + size[1]; ++x) row[y] += std::norm(cdouble(at(c, y, x)));
  float best = 0;
  int64_t by = 0;
  for (int64_t y0 = 0; y0 + size[0] <= H; ++y0) {
    double e = 0;
    for (int64_t y = y0; y < y0 + size[0]; ++y) e += row[y];
    const float ef = static_cast<float>(std::sqrt(e));  // BART compares float norms
    if (ef > best) {
      best = ef;
      by = y0;
    }
  }
  // estimate_scaling_cal -> rss_combine: unitary inverse DFT of the calibration block per
  // coil (BART's uncentred ifft + fftscale; centring only permutes the magnitudes, which are
  // sorted), then coil-RSS of that low-resolution image (estimate_scaling_norm).
  Array<cfloat> cal({nc, size[0], size[1]});
  for (int64_t c = 0; c < nc; ++c)
    for (int64_t y = 0; y < size[0]; ++y)
      for (int64_t x = 0; x < size[1]; ++x) cal.at(c, y, x) = at(c, by + y, pos[1] + x);
  ifft2c(cal.view());
  std::vector<float> mag;
  mag.reserve(static_cast<size_t>(size[0] * size[1]));
  for (int64_t p = 0; p < size[0] * size[1]; ++p) {
    double s = 0;
    for (int64_t c = 0; c < nc; ++c) s += std::norm(cdouble(cal[c * size[0] * size[1] + p]));
    mag.push_back(static_cast<float>(std::sqrt(s)));
  }
  std::sort(mag.begin(), mag.end());
  const double rescale = std::sqrt(double(H) / double(size[0])) * std::sqrt(double(W) / double(size[1]));
  const size_t m = mag.size();
  const double median = mag[m / 2] / rescale;
  const double p90 = mag[static_cast<size_t>(std::trunc(m * 0.9))] / rescale;
  const double mx = mag[m - 1] / rescale;
  double scale = (mx - p90) < 2 * (p90 - median) ? p90 : mx;
  if (scale == 0) scale = 1;  // BART: "Estimated scale is zero. Set to one."
  return static_cast<float>(scale);
}

namespace {

struct Problem {
  SenseOperator op;
  CVec b;  // A^H y / s
  float scale = 1;
  Problem(ArrayView<const cfloat> kspace, ArrayView<const cfloat> maps,
          std::span<const float> pattern, bool scale_data)
      : op(maps, pattern) {
    RB_CHECK(kspace.ndim() == 3 && kspace.dim(0) == maps.dim(1) && kspace.dim(1) == maps.dim(2) &&
                 kspace.dim(2) == maps.dim(3),
             "k-space ", shape_str(kspace.shape()), " does not match maps ",
             shape_str(maps.shape()));
    scale = scale_data ? estimate_scaling(kspace) : 1.f;
    b.resize(static_cast<size_t>(op.image_size()));
    op.adjoint(kspace.data(), b.data());
    const float inv = 1.f / scale;
    for (auto& v : b) v *= inv;
  }
  NormalFn normal() const {
    return [this](CCSpan x, CSpan z) { op.normal(x.data(), z.data()); };
  }
  Array<cfloat> result(const CVec& x) const {
    Array<cfloat> img({op.maps(), op.h(), op.w()});
    for (size_t i = 0; i < x.size(); ++i) img[i] = x[i] * scale;
    return img;
  }
};

}  // namespace

Array<cfloat> sense_recon(ArrayView<const cfloat> kspace, ArrayView<const cfloat> maps,
                          std::span<const float> pattern, const SenseOptions& opt) {
  RB_CHECK(opt.max_iter >= 0, "sense: iterations must be >= 0");
  RB_CHECK(opt.lambda >= 0, "sense: lambda must be >= 0");
  Problem pb(kspace, maps, pattern, opt.scale_data);
  CVec x(pb.b.size(), cfloat(0));
  CgOptions cg;
  cg.max_iter = opt.max_iter;
  cg.lambda = opt.lambda;
  cg.tol = opt.tol;
  conjugate_gradient(pb.normal(), pb.b, x, cg);
  return pb.result(x);
}

Array<cfloat> cs_recon(ArrayView<const cfloat> kspace, ArrayView<const cfloat> maps,
                       std::span<const float> pattern, const CsOptions& opt) {
  RB_CHECK(opt.lambda >= 0, "cs: lambda must be >= 0");
  RB_CHECK(opt.max_iter >= 0, "cs: iterations must be >= 0");
  Problem pb(kspace, maps, pattern, opt.scale_data);
  const int64_t nm = pb.op.maps(), h = pb.op.h(), w = pb.op.w(), np = h * w;
  CVec x(pb.b.size(), cfloat(0));
  if (opt.reg == CsOptions::Reg::L1Wavelet) {
    const BartWaveletPlan plan = make_bart_wavelet_plan(h, w, opt.wavelet_min_size);
    // BART wavthresh.c: rand_state starts at 1 (here 1 + seed); every prox call draws a shift
    // per split axis (y, then x) uniformly in [0, 2^levels(axis)].
    unsigned int state = 1u + opt.seed;
    BartWaveletWork work;
    // prox of t lambda ||W x||_1, BART-style: x <- W^-1 soft(W shift(x), t lambda), shifted back
    ProxFn prox = [&](CSpan v, float t, int) {
      int64_t sy = 0, sx = 0;
      if (opt.cycle_spin) {
        if (plan.shift_levels_y > 0) sy = bart_rand_lim(&state, 1 << plan.shift_levels_y);
        if (plan.shift_levels_x > 0) sx = bart_rand_lim(&state, 1 << plan.shift_levels_x);
      }
      for (int64_t m = 0; m < nm; ++m)
        bart_wavelet_thresh(plan, v.data() + m * np, t * opt.lambda, sy, sx, &work);
    };
    FistaOptions fo;
    fo.max_iter = opt.max_iter;
    fo.step = opt.step;
    fista(pb.normal(), pb.b, prox, x, fo);
  } else {
    // G over each map: [map y x] -> [map 2 y x], isotropic: the two differences of a pixel
    // are thresholded jointly (BART prox_thresh with jflags | MD_BIT(DIMS)).
    auto fw = [nm, h, w, np](CCSpan v, CSpan d) {
      for (int64_t m = 0; m < nm; ++m) bart_grad_forward(v.data() + m * np, d.data() + 2 * m * np, h, w);
    };
    auto ad = [nm, h, w, np](CCSpan d, CSpan v) {
      for (int64_t m = 0; m < nm; ++m) bart_grad_adjoint(d.data() + 2 * m * np, v.data() + m * np, h, w);
    };
    LinOp D("tv", nm * np, 2 * nm * np, fw, ad);
    AdmmOptions ao;
    ao.max_iter = opt.max_iter;
    ao.rho = opt.rho;
    ao.cg_iter = opt.cg_iter;
    ao.cg_tol = opt.cg_tol;
    const float lambda = opt.lambda;
    admm(pb.normal(), pb.b, D,
         [lambda, np](CSpan z, float t) { joint_soft_threshold(z, 2, np, lambda * t); }, x, ao);
  }
  return pb.result(x);
}

Array<float> combine_maps(ArrayView<const cfloat> image) {
  RB_ASSERT(image.ndim() == 3);
  const int64_t nm = image.dim(0), np = image.dim(1) * image.dim(2);
  Array<float> out({image.dim(1), image.dim(2)});
  for (int64_t p = 0; p < np; ++p) {
    double s = 0;
    for (int64_t m = 0; m < nm; ++m) s += std::norm(cdouble(image[m * np + p]));
    out[p] = static_cast<float>(std::sqrt(s));
  }
  return out;
}

}  // namespace rb::recon
