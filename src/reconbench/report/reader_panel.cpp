#include "reconbench/report/reader_panel.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "reconbench/core/error.hpp"

namespace rb::report {

namespace {

// N(0, 1) by Box-Muller from 53-bit uniforms (platform independent, unlike
// std::normal_distribution).
class Normal {
 public:
  explicit Normal(uint64_t seed) : rng_(seed) {}
  double operator()() {
    if (have_) {
      have_ = false;
      return spare_;
    }
    double u1 = 0;
    while (u1 <= 0) u1 = uniform();
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(2.0 * M_PI * u2);
    have_ = true;
    return r * std::cos(2.0 * M_PI * u2);
  }

 private:
  double uniform() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }
  std::mt19937_64 rng_;
  bool have_ = false;
  double spare_ = 0;
};

}  // namespace

Json reader_model_json(const ReaderPanelOptions& o) {
  return {{"simulated", true},
          {"readers", o.readers},
          {"rank_noise", o.rank_noise},
          {"likert_slope", o.likert_slope},
          {"likert_noise", o.likert_noise},
          {"seed", o.seed},
          {"questions", o.questions},
          {"rank", "rank of q + rank_noise * N(0,1) among finalists (1 = best); q = lesion SSIM"},
          {"likert",
           "clamp(round(1 + likert_slope * (1 - q) + likert_noise * N(0,1)), 1, 4), 1 = best"}};
}

ReaderStudy simulate_reader_panel(const std::string& track,
                                  const std::vector<std::string>& finalists,
                                  const std::vector<PanelCase>& cases,
                                  const ReaderPanelOptions& o) {
  RB_CHECK(o.readers >= 1, "reader panel: at least one simulated reader is needed");
  const size_t nf = finalists.size();
  ReaderStudy st;
  st.track = track;
  st.finalists = finalists;
  st.questions = o.questions;
  for (int64_t j = 0; j < o.readers; ++j)
    st.readers.push_back("simulated reader " + std::to_string(j + 1));
  // A different stream per track, so adding a track does not change the others.
  uint64_t track_hash = 1469598103934665603ull;
  for (char ch : track) track_hash = (track_hash ^ static_cast<unsigned char>(ch)) * 1099511628211ull;
  Normal normal(o.seed ^ track_hash);
  for (const auto& pc : cases) {
    RB_ASSERT(pc.ssim.size() == nf && pc.lesion_ssim.size() == nf);
    ReaderCase rc;
    rc.file = pc.file;
    rc.slice = pc.slice;
    rc.contrast = pc.contrast;
    rc.vendor = pc.vendor;
    rc.ssim = pc.ssim;
    rc.lesion_ssim = pc.lesion_ssim;
    for (const auto& q : o.questions) rc.likert[q].assign(o.readers, std::vector<double>(nf));
    for (int64_t j = 0; j < o.readers; ++j) {
      std::vector<double> u(nf);
      for (size_t i = 0; i < nf; ++i) u[i] = pc.lesion_ssim[i] + o.rank_noise * normal();
      std::vector<size_t> order(nf);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return u[a] > u[b]; });
      std::vector<double> ranks(nf);
      for (size_t k = 0; k < nf; ++k) ranks[order[k]] = static_cast<double>(k + 1);
      rc.ranks.push_back(std::move(ranks));
      for (const auto& q : o.questions)
        for (size_t i = 0; i < nf; ++i) {
          const double l = 1.0 + o.likert_slope * (1.0 - pc.lesion_ssim[i]) + o.likert_noise * normal();
          rc.likert[q][j][i] = std::clamp(std::round(l), 1.0, 4.0);
        }
    }
    st.cases.push_back(std::move(rc));
  }
  return st;
}

}  // namespace rb::report
