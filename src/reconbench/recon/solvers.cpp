#include "reconbench/recon/solvers.hpp"

#include <cmath>

#include "reconbench/core/parallel.hpp"

namespace rb::recon {

void soft_threshold(CSpan x, float t) {
  for (auto& v : x) {
    const float a = std::hypot(v.real(), v.imag());
    v = a > t ? v * ((a - t) / a) : cfloat(0);
  }
}

int conjugate_gradient(const NormalFn& normal, CCSpan b, CSpan x, const CgOptions& opt) {
  const size_t n = b.size();
  RB_ASSERT(x.size() == n);
  CVec r(n), p(n), ap(n);
  // r = b - (N + lambda I) x
  normal(x, ap);
  for (size_t i = 0; i < n; ++i) r[i] = b[i] - ap[i] - opt.lambda * x[i];
  p = r;
  double rr = norm2(r);
  const double bb = norm2(b);
  if (bb == 0) {
    std::fill(x.begin(), x.end(), cfloat(0));
    return 0;
  }
  const double stop = double(opt.tol) * opt.tol * bb;
  int it = 0;
  for (; it < opt.max_iter; ++it) {
    if (rr <= stop || rr == 0) break;
    check_interrupted();
    // alpha = r^H r / p^H (N + lambda I) p
    normal(p, ap);
    if (opt.lambda != 0) axpy(ap, opt.lambda, p);
    const double pap = dot(p, ap).real();
    if (!(pap > 0)) break;
    const float alpha = static_cast<float>(rr / pap);
    // x += alpha p;  r -= alpha A p
    axpy(x, alpha, p);
    axpy(r, -alpha, ap);
    const double rr_new = norm2(r);
    // p = r + (r_new^H r_new / r^H r) p
    const float beta = static_cast<float>(rr_new / rr);
    for_blocks(n, [&](size_t i0, size_t i1) {
      for (size_t i = i0; i < i1; ++i) p[i] = r[i] + beta * p[i];
    });
    rr = rr_new;
  }
  return it;
}

void fista(const NormalFn& normal, CCSpan b, const ProxFn& prox, CSpan x,
           const FistaOptions& opt) {
  const size_t n = b.size();
  RB_ASSERT(x.size() == n);
  // BART italgos.c fista(): with o the previous prox output (o = x at the start), t = 1,
  //   o'  = prox_{step g}(x)
  //   t'  = (1 + sqrt(1 + 4 t^2)) / 2
  //   x   = o' + (t - 1) / t' (o' - o)          (ravine / Nesterov momentum)
  //   x   = x + step (A^H y - A^H A x)           (gradient step)
  // The returned x is the last gradient-step point; the minimiser estimate is prox(x).
  CVec o(x.begin(), x.end()), g(n);
  float t = 1;  // BART keeps the momentum in float
  for (int it = 0; it < opt.max_iter; ++it) {
    check_interrupted();
    prox(x, opt.step, it);
    const float t_new = (1.f + std::sqrt(1.f + 4.f * t * t)) / 2.f;
    const float mom = (t - 1.f) / t_new;
    for_blocks(n, [&](size_t i0, size_t i1) {
      for (size_t i = i0; i < i1; ++i) {
        const cfloat xi = x[i];
        x[i] = xi + mom * (xi - o[i]);
        o[i] = xi;
      }
    });
    t = t_new;
    normal(x, g);
    for_blocks(n, [&](size_t i0, size_t i1) {
      for (size_t i = i0; i < i1; ++i) x[i] += opt.step * (b[i] - g[i]);
    });
  }
}

void admm(const NormalFn& normal, CCSpan b, const LinOp& d, const ZProxFn& zprox, CSpan x,
          const AdmmOptions& opt) {
  const size_t n = b.size();
  const size_t m = static_cast<size_t>(d.out_size());
  RB_ASSERT(x.size() == n && d.in_size() == static_cast<int64_t>(n));
  // BART iter/admm.c (ADMM-2 of Afonso et al. with over-relaxation), z = u = 0 at the start.
  CVec z(m, cfloat(0)), u(m, cfloat(0)), v(m), rhs(n), tmp(n);
  const float rho = opt.rho, alpha = opt.alpha;
  // x-update normal operator: A^H A + rho D^H D
  NormalFn nrm = [&](CCSpan w, CSpan out) {
    normal(w, out);
    d.normal(w, tmp);
    axpy(out, rho, tmp);
  };
  CgOptions cg;
  cg.max_iter = opt.cg_iter;
  cg.tol = opt.cg_tol;
  int64_t cg_total = 0;
  for (int it = 0; it < opt.max_iter; ++it) {
    check_interrupted();
    // x = argmin 1/2||Ax - y||^2 + rho/2 ||Dx - z + u||^2:
    //     (A^H A + rho D^H D) x = A^H y + rho D^H (z - u)   (CG, warm start, stops at
    //     ||r|| <= cg_tol ||rhs||; BART skips it when the right-hand side is zero)
    for (size_t i = 0; i < m; ++i) v[i] = z[i] - u[i];
    d.adjoint(v, rhs);
    for (size_t i = 0; i < n; ++i) rhs[i] = b[i] + rho * rhs[i];
    if (norm2(rhs) > 0) cg_total += conjugate_gradient(nrm, rhs, x, cg);
    // over-relaxation: h = alpha D x + (1 - alpha) z
    // z = prox_{R / rho}(h + u);  u = h + u - z
    d.forward(x, v);
    for (size_t i = 0; i < m; ++i) v[i] = alpha * v[i] + (1 - alpha) * z[i] + u[i];
    std::copy(v.begin(), v.end(), z.begin());
    zprox(z, 1 / rho);
    for (size_t i = 0; i < m; ++i) u[i] = v[i] - z[i];
    // BART counts the normal-operator applications of the inner CG and stops once their
    // total exceeds the iteration limit (so `pics -i N` bounds the CG work, not ADMM steps).
    if (opt.limit_cg_total && cg_total > opt.max_iter) break;
  }
}

void admm_l1(const NormalFn& normal, CCSpan b, const LinOp& d, float lambda, CSpan x,
             const AdmmOptions& opt) {
  admm(normal, b, d, [lambda](CSpan z, float t) { soft_threshold(z, lambda * t); }, x, opt);
}

void joint_soft_threshold(CSpan x, int64_t groups, int64_t stride, float t) {
  RB_ASSERT(groups > 0 && stride > 0 && x.size() % static_cast<size_t>(groups * stride) == 0);
  const int64_t blocks = static_cast<int64_t>(x.size()) / (groups * stride);
  for (int64_t bl = 0; bl < blocks; ++bl) {
    cfloat* base = x.data() + bl * groups * stride;
    for (int64_t p = 0; p < stride; ++p) {
      float s = 0;
      for (int64_t k = 0; k < groups; ++k) s += std::norm(base[k * stride + p]);
      const float a = std::sqrt(s);
      const float f = a > t ? (a - t) / a : 0.f;
      for (int64_t k = 0; k < groups; ++k) base[k * stride + p] *= f;
    }
  }
}

}  // namespace rb::recon
