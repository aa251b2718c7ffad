#include "reconbench/report/reader_panel.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "reconbench/core/error.hpp"
#include "reconbench/io/fastmri.hpp"

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

std::vector<challenge::Service::SlotRead> slot_reads(const ReaderStudy& study, size_t reader) {
  std::vector<challenge::Service::SlotRead> out;
  for (const auto& c : study.cases) {
    challenge::Service::SlotRead r;
    for (double v : c.ranks.at(reader)) r.rank.push_back(static_cast<int64_t>(v));
    for (const auto& [q, m] : c.likert)
      for (double v : m.at(reader)) r.likert[q].push_back(static_cast<int64_t>(v));
    out.push_back(std::move(r));
  }
  return out;
}

void store_simulated_reads(challenge::Service& service, int64_t study_id, const ReaderStudy& study) {
  for (size_t j = 0; j < study.readers.size(); ++j)
    service.save_reads(study_id, "simulated-reader-" + std::to_string(j + 1), slot_reads(study, j),
                       "SIMULATED reader (reconbench demo), not a radiologist");
}

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Centre crop of [slice h w] to [slice ch cw] (start (size - c) / 2, as the images).
Array<uint8_t> crop_labels(const Array<uint8_t>& m, int64_t ch, int64_t cw) {
  const int64_t s = m.dim(0), h = m.dim(1), w = m.dim(2), y0 = (h - ch) / 2, x0 = (w - cw) / 2;
  Array<uint8_t> out({s, ch, cw});
  for (int64_t k = 0; k < s; ++k)
    for (int64_t y = 0; y < ch; ++y)
      for (int64_t x = 0; x < cw; ++x) {
        const int64_t yy = y + y0, xx = x + x0;
        out.at(k, y, x) = yy >= 0 && yy < h && xx >= 0 && xx < w && m.at(k, yy, xx) ? 1 : 0;
      }
  return out;
}

Array<float> slice_copy(ArrayView<const float> v) {
  Array<float> a({1, v.dim(0), v.dim(1)});
  std::copy(v.data(), v.data() + v.size(), a.data());
  return a;
}

}  // namespace

std::vector<CaseRef> reader_cases(const std::vector<sim::ManifestFile>& files, int64_t want) {
  std::vector<CaseRef> out;
  for (const auto& c : challenge::study_cases(files, want))
    for (const auto& f : files)
      if (f.name == c.volume) out.push_back({f, c.slice});
  return out;
}

CaseScores::CaseScores(std::vector<CaseRef> cases, std::filesystem::path data_dir)
    : cases_(std::move(cases)), data_dir_(std::move(data_dir)) {
  for (const auto& c : cases_)
    if (c.volume.lesions > 0 && !c.volume.truth.empty() && std::filesystem::exists(data_dir_ / c.volume.truth))
      lesion_masks_[c.volume.name] = read_label_volume(data_dir_ / c.volume.truth, "lesion_mask");
}

CaseScores::OnVolume CaseScores::collector(const std::string& method) {
  return [this, method](const std::string& file, ArrayView<const float> target,
                        ArrayView<const float> pred, const eval::VolumeMetrics& vm) {
    auto c = std::find_if(cases_.begin(), cases_.end(), [&](const CaseRef& r) { return r.volume.name == file; });
    if (c == cases_.end()) return;
    const int64_t s = std::min<int64_t>(c->slice, target.dim(0) - 1);
    Score sc{vm.ssim_per_slice.at(s), kNaN};
    if (auto m = lesion_masks_.find(file); m != lesion_masks_.end()) {
      const auto labels = crop_labels(m->second, target.dim(1), target.dim(2));
      const auto map = eval::ssim_map(target(s), pred(s), vm.data_range);
      sc.lesion = eval::masked_map_mean(map.view(), labels(s)).mean;
    }
    if (!std::isfinite(sc.lesion) && s < static_cast<int64_t>(vm.ssim_masked_per_slice.size()))
      sc.lesion = vm.ssim_masked_per_slice[s];
    if (!std::isfinite(sc.lesion)) sc.lesion = sc.ssim;
    std::lock_guard lock(mutex_);
    scores_[method][file] = sc;
    if (c == cases_.begin()) {
      first_.gt = slice_copy(target(s));
      first_.recon[method] = slice_copy(pred(s));
      first_.data_range = vm.data_range;
    }
  };
}

void CaseScores::write_fig6(const std::filesystem::path& results, const std::string& track,
                            const std::vector<std::string>& methods) const {
  std::lock_guard lock(mutex_);
  if (cases_.empty() || first_.gt.empty()) return;
  report::write_fig6(results, track, cases_.front().volume.name, cases_.front().slice,
                     first_.data_range, first_.gt, first_.recon, methods);
}

std::vector<PanelCase> CaseScores::panel_cases(const std::vector<std::string>& finalists) const {
  std::lock_guard lock(mutex_);
  std::vector<PanelCase> out;
  for (const auto& c : cases_) {
    PanelCase pc{c.volume.name, contrast_of(c.volume.contrast), c.volume.vendor, c.slice, {}, {}};
    bool all = true;
    for (const auto& m : finalists) {
      auto bm = scores_.find(m);
      if (bm == scores_.end() || !bm->second.count(c.volume.name)) {
        all = false;
        break;
      }
      pc.ssim.push_back(bm->second.at(c.volume.name).ssim);
      pc.lesion_ssim.push_back(bm->second.at(c.volume.name).lesion);
    }
    if (all) out.push_back(std::move(pc));
  }
  return out;
}

}  // namespace rb::report
