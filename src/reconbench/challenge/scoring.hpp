// Scoring a validated submission against the hidden ground truth with the eval library
// (fastMRI-exact SSIM/PSNR/NMSE, background-masked SSIM, quantile intervals of volumes and
// bootstrap CIs of the mean), grouped as the leaderboard shows it: all volumes of the track,
// per contrast (manifest "contrast") and per vendor.
//
// Result JSON (stored in scores.summary_json / volumes_json):
//   summary = {"all": GROUP, "by_contrast": {"AXT2": GROUP, ...}, "by_vendor": {...}}
//   volumes = [{"file", "contrast", "vendor", "slices", "ssim", "ssim_masked", "psnr",
//               "nmse", "ssim_per_slice": [...], ...}, ...]     (eval::to_json(VolumeResult))
// GROUP is eval::to_json(GroupSummary).
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "reconbench/challenge/tracks.hpp"
#include "reconbench/eval/evaluate.hpp"

namespace rb::challenge {

struct ScoreResult {
  nlohmann::json summary, volumes;
  double ssim = 0, ssim_masked = 0, psnr = 0, nmse = 0;  // track means (ranking columns)
  std::string spec_hash, evaluator, manifest_hash;
};

// Scoring options used by the server, workers, rescore and the demo (masked metrics; the
// one bootstrap configuration of eval::BootstrapOptions, so a score is reproducible).
eval::EvalOptions scoring_options();
std::string current_spec_hash();
std::string evaluator_version();  // "reconbench 0.1.0 / reconbench-eval-1"

// files: submission name -> path. UserError when a GT file is missing or a volume cannot be
// scored (the caller records a platform failure; validation happened before).
// on_volume(done, total) after each volume (progress; one volume in memory at a time).
ScoreResult score_submission(const std::map<std::string, std::filesystem::path>& files,
                             const Manifest& manifest, const std::string& phase,
                             const Track& track,
                             const std::function<void(int64_t, int64_t)>& on_volume = {});

}  // namespace rb::challenge
