#include "reconbench/recon/linop.hpp"

#include <cmath>
#include <memory>
#include <random>

#include "reconbench/core/parallel.hpp"
#include "reconbench/recon/threads.hpp"

namespace rb::recon {

namespace {
thread_local int t_recon_threads = 0;
}

int recon_threads() { return t_recon_threads > 0 ? t_recon_threads : rb::num_threads(); }
ScopedReconThreads::ScopedReconThreads(int n) : saved_(t_recon_threads) { t_recon_threads = n; }
ScopedReconThreads::~ScopedReconThreads() { t_recon_threads = saved_; }

LinOp::LinOp(std::string name, int64_t in_size, int64_t out_size, Fn forward, Fn adjoint,
             Fn normal)
    : name_(std::move(name)), in_(in_size), out_(out_size), fwd_(std::move(forward)),
      adj_(std::move(adjoint)), nrm_(std::move(normal)) {
  RB_ASSERT(fwd_ && adj_, "operator ", name_, " needs forward and adjoint");
}

void LinOp::forward(CCSpan x, CSpan y) const {
  RB_ASSERT(static_cast<int64_t>(x.size()) == in_ && static_cast<int64_t>(y.size()) == out_,
            name_, ": forward sizes ", x.size(), " -> ", y.size());
  fwd_(x, y);
}
void LinOp::adjoint(CCSpan y, CSpan x) const {
  RB_ASSERT(static_cast<int64_t>(y.size()) == out_ && static_cast<int64_t>(x.size()) == in_,
            name_, ": adjoint sizes ", y.size(), " -> ", x.size());
  adj_(y, x);
}
void LinOp::normal(CCSpan x, CSpan z) const {
  RB_ASSERT(static_cast<int64_t>(x.size()) == in_ && static_cast<int64_t>(z.size()) == in_);
  if (nrm_) {
    nrm_(x, z);
    return;
  }
  CVec tmp(static_cast<size_t>(out_));
  fwd_(x, tmp);
  adj_(tmp, z);
}
CVec LinOp::forward(CCSpan x) const {
  CVec y(static_cast<size_t>(out_));
  forward(x, y);
  return y;
}
CVec LinOp::adjoint(CCSpan y) const {
  CVec x(static_cast<size_t>(in_));
  adjoint(y, x);
  return x;
}
CVec LinOp::normal(CCSpan x) const {
  CVec z(static_cast<size_t>(in_));
  normal(x, z);
  return z;
}

LinOp identity_op(int64_t n) {
  auto copy = [](CCSpan x, CSpan y) { std::copy(x.begin(), x.end(), y.begin()); };
  return LinOp("identity", n, n, copy, copy, copy);
}

LinOp scale_op(const LinOp& a, float s) {
  auto fw = [a, s](CCSpan x, CSpan y) {
    a.forward(x, y);
    for (auto& v : y) v *= s;
  };
  auto ad = [a, s](CCSpan y, CSpan x) {
    a.adjoint(y, x);
    for (auto& v : x) v *= s;
  };
  auto nr = [a, s](CCSpan x, CSpan z) {
    a.normal(x, z);
    for (auto& v : z) v *= s * s;
  };
  return LinOp(cat(s, "*", a.name()), a.in_size(), a.out_size(), fw, ad, nr);
}

LinOp chain(const LinOp& a, const LinOp& b) {
  RB_ASSERT(a.out_size() == b.in_size(), "chain ", a.name(), " -> ", b.name(), ": ",
            a.out_size(), " vs ", b.in_size());
  auto tmp = std::make_shared<CVec>(static_cast<size_t>(a.out_size()));
  auto fw = [a, b, tmp](CCSpan x, CSpan y) {
    a.forward(x, *tmp);
    b.forward(*tmp, y);
  };
  auto ad = [a, b, tmp](CCSpan y, CSpan x) {
    b.adjoint(y, *tmp);
    a.adjoint(*tmp, x);
  };
  // A^H B^H B A x: B's (possibly fused) normal in the middle.
  auto tmp2 = std::make_shared<CVec>(static_cast<size_t>(a.out_size()));
  auto nr = [a, b, tmp, tmp2](CCSpan x, CSpan z) {
    a.forward(x, *tmp);
    b.normal(*tmp, *tmp2);
    a.adjoint(*tmp2, z);
  };
  return LinOp(b.name() + "*" + a.name(), a.in_size(), b.out_size(), fw, ad, nr);
}

LinOp stack(const LinOp& a, const LinOp& b) {
  RB_ASSERT(a.in_size() == b.in_size(), "stack ", a.name(), ", ", b.name());
  const int64_t ma = a.out_size();
  auto tmp = std::make_shared<CVec>(static_cast<size_t>(a.in_size()));
  auto fw = [a, b, ma](CCSpan x, CSpan y) {
    a.forward(x, y.subspan(0, ma));
    b.forward(x, y.subspan(ma));
  };
  auto ad = [a, b, ma, tmp](CCSpan y, CSpan x) {
    a.adjoint(y.subspan(0, ma), x);
    b.adjoint(y.subspan(ma), *tmp);
    for (size_t i = 0; i < x.size(); ++i) x[i] += (*tmp)[i];
  };
  auto nr = [a, b, tmp](CCSpan x, CSpan z) {
    a.normal(x, z);
    b.normal(x, *tmp);
    for (size_t i = 0; i < z.size(); ++i) z[i] += (*tmp)[i];
  };
  return LinOp("[" + a.name() + ";" + b.name() + "]", a.in_size(), ma + b.out_size(), fw, ad,
               nr);
}

LinOp sum(const LinOp& a, const LinOp& b) {
  RB_ASSERT(a.in_size() == b.in_size() && a.out_size() == b.out_size(), "sum ", a.name(), " + ",
            b.name());
  auto tin = std::make_shared<CVec>(static_cast<size_t>(a.in_size()));
  auto tout = std::make_shared<CVec>(static_cast<size_t>(a.out_size()));
  auto fw = [a, b, tout](CCSpan x, CSpan y) {
    a.forward(x, y);
    b.forward(x, *tout);
    for (size_t i = 0; i < y.size(); ++i) y[i] += (*tout)[i];
  };
  auto ad = [a, b, tin](CCSpan y, CSpan x) {
    a.adjoint(y, x);
    b.adjoint(y, *tin);
    for (size_t i = 0; i < x.size(); ++i) x[i] += (*tin)[i];
  };
  return LinOp(a.name() + "+" + b.name(), a.in_size(), a.out_size(), fw, ad);
}

namespace {

// Element-wise vector kernels run in fixed blocks of kBlock elements on recon_threads();
// reductions sum per block, then the block sums in index order, so results depend on the
// block size only, never on the thread count.
constexpr size_t kBlock = 8192;

template <class F>
void blocks(size_t n, F&& f) {
  const int64_t nb = static_cast<int64_t>((n + kBlock - 1) / kBlock);
  parallel_for(
      nb, [&](int64_t b) { f(static_cast<size_t>(b) * kBlock, std::min(n, (static_cast<size_t>(b) + 1) * kBlock)); },
      n >= 4 * kBlock ? recon_threads() : 1);
}

}  // namespace

cdouble dot(CCSpan a, CCSpan b) {
  RB_ASSERT(a.size() == b.size());
  std::vector<cdouble> part((a.size() + kBlock - 1) / kBlock);
  blocks(a.size(), [&](size_t i0, size_t i1) {
    double re = 0, im = 0;
    for (size_t i = i0; i < i1; ++i) {
      const double ar = a[i].real(), ai = a[i].imag(), br = b[i].real(), bi = b[i].imag();
      re += ar * br + ai * bi;
      im += ar * bi - ai * br;
    }
    part[i0 / kBlock] = {re, im};
  });
  cdouble s = 0;
  for (const auto& v : part) s += v;
  return s;
}

double norm2(CCSpan a) {
  std::vector<double> part((a.size() + kBlock - 1) / kBlock);
  blocks(a.size(), [&](size_t i0, size_t i1) {
    double s = 0;
    for (size_t i = i0; i < i1; ++i) s += double(a[i].real()) * a[i].real() + double(a[i].imag()) * a[i].imag();
    part[i0 / kBlock] = s;
  });
  double s = 0;
  for (double v : part) s += v;
  return s;
}

void axpy(CSpan y, cfloat a, CCSpan x) {
  RB_ASSERT(x.size() == y.size());
  const float ar = a.real(), ai = a.imag();
  blocks(y.size(), [&](size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; ++i) {
      const float xr = x[i].real(), xi = x[i].imag();
      y[i] = {y[i].real() + ar * xr - ai * xi, y[i].imag() + ar * xi + ai * xr};
    }
  });
}

void for_blocks(size_t n, const std::function<void(size_t, size_t)>& f) { blocks(n, f); }

CVec random_cvec(int64_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  CVec v(static_cast<size_t>(n));
  for (auto& x : v) {
    const float re = nd(gen);
    x = {re, nd(gen)};
  }
  return v;
}

double adjoint_test(const LinOp& op, uint32_t seed) {
  const CVec x = random_cvec(op.in_size(), seed);
  const CVec y = random_cvec(op.out_size(), seed + 1000);
  const CVec ax = op.forward(x);
  const CVec ahy = op.adjoint(y);
  const cdouble lhs = dot(ax, y), rhs = dot(x, ahy);
  const double denom = std::sqrt(norm2(ax) * norm2(y));
  return denom > 0 ? std::abs(lhs - rhs) / denom : std::abs(lhs - rhs);
}

double normal_test(const LinOp& op, uint32_t seed) {
  const CVec x = random_cvec(op.in_size(), seed);
  const CVec n1 = op.normal(x);
  const CVec n2 = op.adjoint(op.forward(x));
  double diff = 0;
  for (size_t i = 0; i < n1.size(); ++i) diff += std::norm(std::complex<double>(n1[i] - n2[i]));
  const double den = norm2(n2);
  return den > 0 ? std::sqrt(diff / den) : std::sqrt(diff);
}

}  // namespace rb::recon
