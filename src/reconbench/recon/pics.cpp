#include "reconbench/recon/pics.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "reconbench/recon/ops.hpp"
#include "reconbench/recon/solvers.hpp"

namespace rb::recon {

float estimate_scaling(ArrayView<const cfloat> kspace) {
  RB_ASSERT(kspace.ndim() == 3, "kspace [coil read phase]");
  const int64_t nc = kspace.dim(0), H = kspace.dim(1), W = kspace.dim(2);
  const int64_t h = std::min<int64_t>(H, 32), w = std::min<int64_t>(W, 32);
  // BART md_resize_center: offset N/2 - n/2
  const int64_t y0 = H / 2 - h / 2, x0 = W / 2 - w / 2;
  std::vector<float> mag;
  mag.reserve(static_cast<size_t>(h * w));
  for (int64_t i = 0; i < h; ++i)
    for (int64_t j = 0; j < w; ++j) {
      double s = 0;
      for (int64_t c = 0; c < nc; ++c) s += std::norm(cdouble(kspace[(c * H + y0 + i) * W + x0 + j]));
      mag.push_back(static_cast<float>(std::sqrt(s)));
    }
  std::sort(mag.begin(), mag.end());
  const double rescale = std::sqrt(double(H) / h) * std::sqrt(double(W) / w);
  const size_t n = mag.size();
  const double median = mag[n / 2] / rescale;
  const double p90 = mag[static_cast<size_t>(std::trunc(n * 0.9))] / rescale;
  const double mx = mag[n - 1] / rescale;
  double scale = (mx - p90) < 2 * (p90 - median) ? p90 : mx;
  if (scale == 0) scale = 1;
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
    const WaveletPlan plan = make_wavelet_plan(h, w, opt.wavelet_min_size);
    std::mt19937 rng(opt.seed);
    CVec tmp(static_cast<size_t>(np));
    // prox of t lambda ||W_shift x||_1 for orthogonal W: x <- W^H soft(W x, t lambda);
    // detail coefficients only (the coarse approximation is not thresholded).
    ProxFn prox = [&](CSpan v, float t, int) {
      int64_t sy = 0, sx = 0;
      if (opt.cycle_spin) {
        sy = static_cast<int64_t>(rng() % static_cast<uint32_t>(h));
        sx = static_cast<int64_t>(rng() % static_cast<uint32_t>(w));
      }
      const float thr = t * opt.lambda;
      for (int64_t m = 0; m < nm; ++m) {
        cfloat* xm = v.data() + m * np;
        circshift2(xm, tmp.data(), h, w, sy, sx);
        dwt2(plan, tmp.data());
        for (int64_t i = 0; i < h; ++i)
          for (int64_t j = 0; j < w; ++j) {
            if (i < plan.coarse_h && j < plan.coarse_w) continue;
            cfloat& c = tmp[i * w + j];
            const float a = std::hypot(c.real(), c.imag());
            c = a > thr ? c * ((a - thr) / a) : cfloat(0);
          }
        idwt2(plan, tmp.data());
        circshift2(tmp.data(), xm, h, w, -sy, -sx);
      }
    };
    FistaOptions fo;
    fo.max_iter = opt.max_iter;
    fo.step = opt.step;
    fista(pb.normal(), pb.b, prox, x, fo);
  } else {
    // D over each map: [map y x] -> [map 2 y x]
    auto fw = [nm, h, w, np](CCSpan v, CSpan d) {
      for (int64_t m = 0; m < nm; ++m) fdiff_forward(v.data() + m * np, d.data() + 2 * m * np, h, w);
    };
    auto ad = [nm, h, w, np](CCSpan d, CSpan v) {
      for (int64_t m = 0; m < nm; ++m) fdiff_adjoint(d.data() + 2 * m * np, v.data() + m * np, h, w);
    };
    LinOp D("tv", nm * np, 2 * nm * np, fw, ad);
    AdmmOptions ao;
    ao.max_iter = opt.max_iter;
    ao.rho = opt.rho;
    ao.cg_iter = opt.cg_iter;
    ao.cg_tol = opt.cg_tol;
    admm_l1(pb.normal(), pb.b, D, opt.lambda, x, ao);
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
