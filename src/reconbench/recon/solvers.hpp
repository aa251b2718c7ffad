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
// FISTA (Beck & Teboulle 2009) for min_x f(x) + g(x); x holds the start value and the result.
void fista(const NormalFn& normal, CCSpan b, const ProxFn& prox, CSpan x, const FistaOptions& opt);

struct AdmmOptions {
  int max_iter = 50;
  float rho = 0.5f;     // BART pics ADMM default penalty
  int cg_iter = 10;     // BART: at most 10 inner CG iterations ...
  float cg_tol = 1e-3f; // ... with this relative tolerance
};
// ADMM for min_x 1/2 ||A x - y||^2 + lambda ||D x||_1 (anisotropic l1 over D's outputs, as
// BART -R T:7:0:lambda). x holds the start value and the result.
void admm_l1(const NormalFn& normal, CCSpan b, const LinOp& d, float lambda, CSpan x,
             const AdmmOptions& opt);

// Complex soft threshold: x <- x max(0, 1 - t / |x|).
void soft_threshold(CSpan x, float t);

}  // namespace rb::recon
