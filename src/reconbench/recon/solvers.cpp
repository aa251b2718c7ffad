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
    for (size_t i = 0; i < n; ++i) p[i] = r[i] + beta * p[i];
    rr = rr_new;
  }
  return it;
}

void fista(const NormalFn& normal, CCSpan b, const ProxFn& prox, CSpan x,
           const FistaOptions& opt) {
  const size_t n = b.size();
  RB_ASSERT(x.size() == n);
  CVec z(x.begin(), x.end()), x_old(n), g(n);
  double t = 1;
  for (int it = 0; it < opt.max_iter; ++it) {
    check_interrupted();
    std::copy(x.begin(), x.end(), x_old.begin());
    // x = prox_{step g}(z - step (A^H A z - A^H y))
    normal(z, g);
    for (size_t i = 0; i < n; ++i) x[i] = z[i] - opt.step * (g[i] - b[i]);
    prox(x, opt.step, it);
    // t' = (1 + sqrt(1 + 4 t^2)) / 2;  z = x + (t - 1) / t' (x - x_old)
    const double t_new = 0.5 * (1 + std::sqrt(1 + 4 * t * t));
    const float mom = static_cast<float>((t - 1) / t_new);
    for (size_t i = 0; i < n; ++i) z[i] = x[i] + mom * (x[i] - x_old[i]);
    t = t_new;
  }
}

void admm_l1(const NormalFn& normal, CCSpan b, const LinOp& d, float lambda, CSpan x,
             const AdmmOptions& opt) {
  const size_t n = b.size();
  const size_t m = static_cast<size_t>(d.out_size());
  RB_ASSERT(x.size() == n && d.in_size() == static_cast<int64_t>(n));
  CVec z(m), u(m), dx(m), rhs(n), tmp(n), zu(m);
  const float rho = opt.rho;
  // z = D x, u = 0
  d.forward(x, z);
  // x-update normal operator: A^H A + rho D^H D
  NormalFn nrm = [&](CCSpan v, CSpan out) {
    normal(v, out);
    d.normal(v, tmp);
    axpy(out, rho, tmp);
  };
  CgOptions cg;
  cg.max_iter = opt.cg_iter;
  cg.tol = opt.cg_tol;
  for (int it = 0; it < opt.max_iter; ++it) {
    check_interrupted();
    // x = argmin 1/2||Ax - y||^2 + rho/2 ||Dx - z + u||^2:
    //     (A^H A + rho D^H D) x = A^H y + rho D^H (z - u)   (CG, warm start)
    for (size_t i = 0; i < m; ++i) zu[i] = z[i] - u[i];
    d.adjoint(zu, rhs);
    for (size_t i = 0; i < n; ++i) rhs[i] = b[i] + rho * rhs[i];
    conjugate_gradient(nrm, rhs, x, cg);
    // z = soft(D x + u, lambda / rho);  u = u + D x - z
    d.forward(x, dx);
    for (size_t i = 0; i < m; ++i) z[i] = dx[i] + u[i];
    soft_threshold(z, lambda / rho);
    for (size_t i = 0; i < m; ++i) u[i] += dx[i] - z[i];
  }
}

}  // namespace rb::recon
