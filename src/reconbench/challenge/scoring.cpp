#include "reconbench/challenge/scoring.hpp"

#include <cmath>

#include "reconbench/core/error.hpp"

namespace rb::challenge {

namespace fs = std::filesystem;

eval::EvalOptions scoring_options() {
  eval::EvalOptions o;
  o.progress = false;
  o.metrics.masked = true;  // bootstrap: the one configuration (eval::BootstrapOptions)
  return o;
}

std::string current_spec_hash() { return eval::spec_hash(scoring_options()); }

std::string evaluator_version() {
  return std::string("reconbench 0.1.0 / ") + eval::kEvalVersion;
}

namespace {
double finite_or_nan(double v) { return std::isfinite(v) ? v : std::nan(""); }
}  // namespace

ScoreResult score_submission(const std::map<std::string, fs::path>& files,
                             const Manifest& manifest, const std::string& phase,
                             const Track& track,
                             const std::function<void(int64_t, int64_t)>& on_volume) {
  const auto expected = track_files(manifest, phase, track);
  RB_CHECK(!expected.empty(), "track ", track.name, " has no files in phase ", phase);
  const auto opts = scoring_options();
  std::vector<eval::VolumeResult> results;
  results.reserve(expected.size());
  for (const auto& e : expected) {
    auto it = files.find(e.name);
    RB_CHECK(it != files.end(), "submission has no file ", e.name);
    RB_CHECK(!e.ground_truth.empty(), "manifest names no ground truth for ", e.file);
    auto v = eval::evaluate_files(manifest.root / e.ground_truth, it->second, opts);
    v.file = e.name;
    if (!e.contrast.empty()) v.acquisition = e.contrast;
    if (!e.vendor.empty()) v.vendor = e.vendor;
    results.push_back(std::move(v));
    if (on_volume) on_volume(static_cast<int64_t>(results.size()), static_cast<int64_t>(expected.size()));
  }
  auto group = [&](auto&& key) {
    std::map<std::string, std::vector<const eval::VolumeResult*>> g;
    for (const auto& v : results) g[key(v)].push_back(&v);
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [k, vs] : g) j[k] = eval::to_json(eval::summarize_volumes(vs, opts.bootstrap));
    return j;
  };
  std::vector<const eval::VolumeResult*> all;
  for (const auto& v : results) all.push_back(&v);
  const auto sum_all = eval::summarize_volumes(all, opts.bootstrap);
  ScoreResult r;
  r.summary = {{"all", eval::to_json(sum_all)},
               {"by_contrast", group([](const eval::VolumeResult& v) { return v.acquisition; })},
               {"by_vendor", group([](const eval::VolumeResult& v) { return v.vendor; })}};
  r.volumes = nlohmann::json::array();
  for (const auto& v : results) {
    auto j = eval::to_json(v);
    j["contrast"] = v.acquisition;
    r.volumes.push_back(std::move(j));
  }
  r.ssim = finite_or_nan(sum_all.ssim.mean);
  r.ssim_masked = finite_or_nan(sum_all.ssim_masked.mean);
  r.psnr = finite_or_nan(sum_all.psnr.mean);
  r.nmse = finite_or_nan(sum_all.nmse.mean);
  r.spec_hash = current_spec_hash();
  r.evaluator = evaluator_version();
  r.manifest_hash = manifest.hash;
  return r;
}

}  // namespace rb::challenge
