// Iterative solvers over flat complex vectors with the maths in comments (BART iter/italgos.c,
// iter/admm.c). The data term is f(x) = 1/2 ||A x - y||^2, given through the normal operator
// N = A^H A and the back-projection b = A^H y.
#pragma once

#include <cstdint>
#include <functional>

#include "reconbench/recon/linop.hpp"

namespace rb::recon {

using NormalFn = std::function<void(CCSpan x, CSpan z)>;  // z = A^H A x

struct CgOptions {
  int max_iter = 30;      // BART pics default iterations
  float lambda = 0;       // Tikhonov: solves (A^H A + lambda I) x = b
  float tol = 0;          // stop when ||r|| <= tol ||b|| (0: run max_iter)
};
// Conjugate gradients on (N + lambda I) x = b; x holds the start value and the result.
// Returns the iterations done.
int conjugate_gradient(const NormalFn& normal, CCSpan b, CSpan x, const CgOptions& opt);

// prox(x, t, iter): x <- argmin_z t g(z) + 1/2 ||z - x||^2 (iteration index for cycle spinning).
using ProxFn = std::function<void(CSpan x, float t, int iter)>;

struct FistaOptions {
  int max_iter = 50;
  float step = 0.95f;  // BART pics default; assumes ||A|| <= 1 (normalised ESPIRiT maps)
};
// FISTA (Beck & Teboulle 2009) for min_x f(x) + g(x) in BART's order (iter/italgos.c):
// prox, momentum, then gradient step, so x holds the start value and returns the point
// after the last gradient step (what `bart pics` outputs); prox(x) is the minimiser estimate.
void fista(const NormalFn& normal, CCSpan b, const ProxFn& prox, CSpan x, const FistaOptions& opt);

struct AdmmOptions {
  int max_iter = 50;     // BART -i (see limit_cg_total)
  float rho = 0.5f;      // BART pics ADMM default penalty (-u)
  float alpha = 1.6f;    // BART iter_admm_defaults over-relaxation
  int cg_iter = 10;      // BART: at most 10 inner CG iterations (-C) ...
  float cg_tol = 1e-3f;  // ... with this relative tolerance
  bool limit_cg_total = true;  // BART: stop once the inner CG iterations total > max_iter
};
// z <- prox_{t R}(z) for the ADMM splitting variable (t = 1 / rho).
using ZProxFn = std::function<void(CSpan z, float t)>;
// ADMM as BART iter/admm.c for min_x 1/2 ||A x - y||^2 + R(D x), z = u = 0 at the start,
// over-relaxed z-update. x holds the start value and the result.
void admm(const NormalFn& normal, CCSpan b, const LinOp& d, const ZProxFn& zprox, CSpan x,
          const AdmmOptions& opt);
// R = lambda ||.||_1 (element-wise complex soft threshold).
void admm_l1(const NormalFn& normal, CCSpan b, const LinOp& d, float lambda, CSpan x,
             const AdmmOptions& opt);

// Joint soft threshold over `groups` components spaced `stride` apart, in consecutive blocks
// of groups * stride: v_k <- v_k max(0, 1 - t / ||v||_2) (BART md_zsoftthresh with jflags).
void joint_soft_threshold(CSpan x, int64_t groups, int64_t stride, float t);

// Complex soft threshold: x <- x max(0, 1 - t / |x|).
void soft_threshold(CSpan x, float t);

}  // namespace rb::recon
