// Linear operators over flat complex vectors (BART linops/linop.h, lintest.h).
//
// A LinOp maps C^n -> C^m with forward A, adjoint A^H and normal A^H A (the normal defaults
// to adjoint(forward(x)); operators with a cheaper fused normal, such as SENSE with 1-D
// sampling, provide it). Operators compose with chain (B A), stack ([A; B]) and sum
// (A + B). Every operator in recon/ has a dot-product adjoint test in tests/unit/recon.
//
// A LinOp may own scratch buffers (shared between copies) and is therefore not safe to call
// from several threads at once: build one per slice (methods do). Operators that use threads
// internally take the count from recon_threads() (recon/threads.hpp) and reduce in a fixed
// order, so results do not depend on it.
#pragma once

#include <complex>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "reconbench/core/array.hpp"

namespace rb::recon {

using CVec = std::vector<cfloat>;
using CSpan = std::span<cfloat>;
using CCSpan = std::span<const cfloat>;

class LinOp {
 public:
  using Fn = std::function<void(CCSpan x, CSpan y)>;

  LinOp() = default;
  // forward: x (in_size) -> y (out_size); adjoint: y (out_size) -> x (in_size); normal (optional):
  // x -> A^H A x. Each writes (not accumulates) its output.
  LinOp(std::string name, int64_t in_size, int64_t out_size, Fn forward, Fn adjoint,
        Fn normal = {});

  const std::string& name() const { return name_; }
  int64_t in_size() const { return in_; }
  int64_t out_size() const { return out_; }

  void forward(CCSpan x, CSpan y) const;  // y = A x
  void adjoint(CCSpan y, CSpan x) const;  // x = A^H y
  void normal(CCSpan x, CSpan z) const;   // z = A^H A x
  CVec forward(CCSpan x) const;
  CVec adjoint(CCSpan y) const;
  CVec normal(CCSpan x) const;

 private:
  std::string name_;
  int64_t in_ = 0, out_ = 0;
  Fn fwd_, adj_, nrm_;
};

LinOp identity_op(int64_t n);
LinOp scale_op(const LinOp& a, float s);      // s A
LinOp chain(const LinOp& a, const LinOp& b);  // B A: x -> B (A x)
LinOp stack(const LinOp& a, const LinOp& b);  // x -> [A x; B x]
LinOp sum(const LinOp& a, const LinOp& b);    // x -> A x + B x (same shapes)

// Dot-product test: |<A x, y> - <x, A^H y>| / (||A x|| ||y||) for random complex x, y
// (seeded). Double-precision accumulation; a correct float operator gives ~1e-6.
double adjoint_test(const LinOp& op, uint32_t seed = 1);
// Normal test: ||A^H A x - A^H (A x)|| / ||A^H A x|| (checks a fused normal).
double normal_test(const LinOp& op, uint32_t seed = 2);

// Vector helpers (double accumulation, index-order sums: thread-count independent).
cdouble dot(CCSpan a, CCSpan b);  // sum conj(a_i) b_i
double norm2(CCSpan a);           // sum |a_i|^2
void axpy(CSpan y, cfloat a, CCSpan x);  // y += a x
// f(i0, i1) over fixed blocks [i0, i1) of [0, n) on recon_threads() (element-wise kernels).
void for_blocks(size_t n, const std::function<void(size_t, size_t)>& f);
CVec random_cvec(int64_t n, uint32_t seed);

}  // namespace rb::recon
