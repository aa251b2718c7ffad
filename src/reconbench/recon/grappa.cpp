#include "reconbench/recon/grappa.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <map>
#include <tuple>

#include "reconbench/core/parallel.hpp"
#include "reconbench/recon/threads.hpp"

namespace rb::recon {

namespace {

using Geometry = std::vector<int64_t>;  // sorted source column offsets relative to the target

// Source matrix rows for target column t and read rows [r0, r1): columns ordered
// (offset, read offset, coil).
void gather_sources(ArrayView<const cfloat> k, const Geometry& g, int64_t kr, int64_t t,
                    int64_t r0, int64_t r1, Eigen::MatrixXcf& S, int64_t row0) {
  const int64_t nc = k.dim(0), H = k.dim(1), W = k.dim(2), half = kr / 2;
  for (int64_t x = r0; x < r1; ++x) {
    int64_t col = 0;
    for (int64_t o : g)
      for (int64_t a = -half; a <= half; ++a) {
        const int64_t xx = x + a;
        for (int64_t c = 0; c < nc; ++c, ++col)
          S(row0 + x - r0, col) = (xx >= 0 && xx < H) ? k[(c * H + xx) * W + t + o] : cfloat(0);
      }
  }
}

}  // namespace

void fill_acquired_range_only(GrappaOptions& opt, const IsmrmrdInfo* header, int64_t phase) {
  if (header)
    if (auto cols = header->acquired_columns(phase)) std::tie(opt.fill_begin, opt.fill_end) = *cols;
}

Array<cfloat> grappa(ArrayView<const cfloat> kspace, std::span<const float> mask,
                     const GrappaOptions& opt, GrappaStats* stats) {
  RB_ASSERT(kspace.ndim() == 3, "kspace [coil read phase]");
  const int64_t nc = kspace.dim(0), H = kspace.dim(1), W = kspace.dim(2);
  RB_CHECK(static_cast<int64_t>(mask.size()) == W, "grappa: mask length ", mask.size(),
           " does not match the phase size ", W);
  RB_CHECK(opt.kernel_read >= 1 && opt.kernel_read % 2 == 1,
           "grappa: kernel_read must be odd and >= 1 (got ", opt.kernel_read, ")");
  RB_CHECK(opt.sources_per_side >= 1, "grappa: sources_per_side must be >= 1");
  RB_CHECK(opt.lambda >= 0, "grappa: lambda must be >= 0");
  std::vector<bool> sampled(static_cast<size_t>(W));
  for (int64_t j = 0; j < W; ++j) sampled[j] = mask[j] != 0;
  // ACS: contiguous sampled run containing (or nearest to) the centre.
  int64_t a0 = W / 2, a1 = W / 2;
  RB_CHECK(sampled[W / 2], "grappa: the k-space centre column is not sampled (no ACS)");
  while (a0 > 0 && sampled[a0 - 1]) --a0;
  while (a1 + 1 < W && sampled[a1 + 1]) ++a1;
  const int64_t acs_w = a1 - a0 + 1;
  RB_CHECK(acs_w >= opt.min_acs, "grappa: only ", acs_w,
           " fully sampled centre columns (ACS); need at least ", opt.min_acs);
  std::vector<int64_t> samp_cols;
  for (int64_t j = 0; j < W; ++j)
    if (sampled[j]) samp_cols.push_back(j);

  // Geometry of every missing column (sources must lie in the ACS-trainable span).
  std::map<Geometry, std::vector<int64_t>> groups;
  const int64_t f0 = opt.fill_begin >= 0 ? opt.fill_begin : samp_cols.front();
  const int64_t f1 = opt.fill_end >= 0 ? std::min(opt.fill_end, W) : samp_cols.back() + 1;
  for (int64_t j = std::max<int64_t>(f0, 0); j < f1; ++j) {
    if (sampled[j]) continue;
    Geometry g;
    auto it = std::lower_bound(samp_cols.begin(), samp_cols.end(), j);
    for (int64_t s = 1; s <= opt.sources_per_side; ++s)
      if (it - samp_cols.begin() >= s) g.push_back(*(it - s) - j);
    for (int64_t s = 0; s < opt.sources_per_side; ++s)
      if (it + s < samp_cols.end()) g.push_back(*(it + s) - j);
    std::sort(g.begin(), g.end());
    // Drop the farthest sources while the geometry is wider than the ACS can train.
    while (!g.empty() && (std::max<int64_t>(g.back(), 0) - std::min<int64_t>(g.front(), 0) + 1) > acs_w) {
      if (std::abs(g.front()) >= std::abs(g.back())) g.erase(g.begin());
      else g.pop_back();
    }
    if (g.empty()) continue;  // nothing to interpolate from: stays zero
    groups[g].push_back(j);
  }

  Array<cfloat> out = Array<cfloat>::from_view(kspace);
  const int64_t kr = opt.kernel_read;
  int64_t r0 = 0, r1 = H;
  if (opt.train_rows > 0 && opt.train_rows < H) {
    r0 = (H - opt.train_rows) / 2;
    r1 = r0 + opt.train_rows;
  }
  std::vector<std::pair<Geometry, std::vector<int64_t>>> work(groups.begin(), groups.end());
  parallel_for(
      static_cast<int64_t>(work.size()),
      [&](int64_t gi) {
        const Geometry& g = work[gi].first;
        const int64_t lo = std::min<int64_t>(g.front(), 0), hi = std::max<int64_t>(g.back(), 0);
        // Training targets t with [t + lo, t + hi] inside the ACS.
        std::vector<int64_t> targets;
        for (int64_t t = a0 - lo; t + hi <= a1; ++t) targets.push_back(t);
        RB_ASSERT(!targets.empty());
        const int64_t nsrc = static_cast<int64_t>(g.size()) * kr * nc;
        const int64_t rows = static_cast<int64_t>(targets.size()) * (r1 - r0);
        Eigen::MatrixXcf S(rows, nsrc), T(rows, nc);
        for (size_t ti = 0; ti < targets.size(); ++ti) {
          const int64_t t = targets[ti];
          gather_sources(kspace, g, kr, t, r0, r1, S, static_cast<int64_t>(ti) * (r1 - r0));
          for (int64_t x = r0; x < r1; ++x)
            for (int64_t c = 0; c < nc; ++c)
              T(static_cast<int64_t>(ti) * (r1 - r0) + x - r0, c) = kspace[(c * H + x) * W + t];
        }
        // W = (S^H S + lambda' I)^-1 S^H T
        Eigen::MatrixXcf shs = Eigen::MatrixXcf::Zero(nsrc, nsrc);
        shs.selfadjointView<Eigen::Lower>().rankUpdate(S.adjoint());
        shs.triangularView<Eigen::StrictlyUpper>() = shs.adjoint();
        const float lam = opt.lambda * (opt.trace_reg ? shs.trace().real() : shs.norm()) / static_cast<float>(nsrc);
        shs.diagonal().array() += lam;
        Eigen::MatrixXcf sht = S.adjoint() * T;
        Eigen::MatrixXcf kernel = shs.ldlt().solve(sht);
        // Fill every missing column of this geometry.
        Eigen::MatrixXcf A(H, nsrc);
        for (int64_t j : work[gi].second) {
          gather_sources(kspace, g, kr, j, 0, H, A, 0);
          Eigen::MatrixXcf filled = A * kernel;  // [H nc]
          for (int64_t x = 0; x < H; ++x)
            for (int64_t c = 0; c < nc; ++c) out[(c * H + x) * W + j] = filled(x, c);
        }
      },
      recon_threads());
  if (stats) {
    stats->acs_begin = a0;
    stats->acs_width = acs_w;
    stats->geometries = static_cast<int64_t>(work.size());
    int64_t filled = 0;
    for (const auto& [g, cols] : work) filled += static_cast<int64_t>(cols.size());
    stats->filled_columns = filled;
  }
  return out;
}

}  // namespace rb::recon
