// A SIMULATED reader panel for the demo's reader study. These are not radiologists and
// their scores are not clinical judgements: each simulated reader is a noisy function of an
// image metric, so the study's statistics (Table IV, Kendall's W, Fig. 5) can be computed and
// shown end to end. Every output carries simulated = true and the label below.
//
// Model (per case c, simulated reader j, finalist i), with q_ci the lesion-region SSIM of
// finalist i on the case's slice (SSIM map averaged over the simulator's lesion mask; the
// foreground-masked slice SSIM where a case has no lesion):
//   rank:   u_cij = q_ci + rank_noise * e_cij,  e ~ N(0, 1);  r_cij = rank of u_cij among the
//           finalists, 1 = highest u (no ties: u is continuous)
//   Likert: L_cijk = clamp(round(1 + likert_slope * (1 - q_ci) + likert_noise * e'_cijk), 1, 4)
//           for each question k (artifacts, sharpness, CNR), 1 = best, 4 = worst
// Noise is drawn from std::mt19937_64(seed) via Box-Muller in a fixed order
// (case, reader, finalist, then question), so a seed gives the same panel everywhere.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "reconbench/challenge/service.hpp"
#include "reconbench/core/array.hpp"
#include "reconbench/eval/metrics.hpp"
#include "reconbench/report/results.hpp"
#include "reconbench/sim/manifest.hpp"

namespace rb::report {

inline constexpr const char* kSimulatedPanelLabel =
    "SIMULATED reader panel: ranks and Likert scores are generated from lesion-region SSIM "
    "plus seeded noise; no radiologist read these images";

struct ReaderPanelOptions {
  int64_t readers = 5;
  double rank_noise = 0.01;    // SD of the noise added to q before ranking (SSIM units)
  double likert_slope = 10.0;  // Likert points per unit of (1 - q)
  double likert_noise = 0.5;   // SD of the Likert noise (Likert points)
  uint64_t seed = 0;
  std::vector<std::string> questions{"artifacts", "sharpness", "cnr"};
};

Json reader_model_json(const ReaderPanelOptions& opts);

// One case to read: its slice SSIM and lesion SSIM per finalist.
struct PanelCase {
  std::string file, contrast, vendor;
  int64_t slice = 0;
  std::vector<double> ssim;         // per finalist
  std::vector<double> lesion_ssim;  // per finalist (q above)
};

ReaderStudy simulate_reader_panel(const std::string& track,
                                  const std::vector<std::string>& finalists,
                                  const std::vector<PanelCase>& cases,
                                  const ReaderPanelOptions& opts);

// One reader's reads of a study in candidate-slot terms (slot k = finalist k), for
// challenge::Service::save_reads.
std::vector<challenge::Service::SlotRead> slot_reads(const ReaderStudy& study, size_t reader);
// Every simulated reader's reads stored in the challenge's study `study_id` (readers
// "simulated-reader-<j>"), as the web reading UI stores a radiologist's.
void store_simulated_reads(challenge::Service& service, int64_t study_id, const ReaderStudy& study);

// A reader-study case as the demo evaluates it: the volume (manifest entry, with its truth
// file holding the simulator's lesion_mask) and the slice shown.
struct CaseRef {
  sim::ManifestFile volume;
  int64_t slice = 0;
};

// The reader-study cases of a track's volumes under the challenge's case policy
// (challenge::study_cases).
std::vector<CaseRef> reader_cases(const std::vector<sim::ManifestFile>& files, int64_t want);

// The images the simulated readers see, collected while a track's methods are evaluated
// (eval::EvalOptions::on_volume): per method and case the slice SSIM and q, the lesion-region
// SSIM (SSIM map averaged over the lesion mask centre-cropped as the images; the slice's
// foreground-masked SSIM where it has no lesion; else the slice SSIM); and the slices of the
// first case for Fig. 6. Thread-safe.
class CaseScores {
 public:
  using OnVolume = std::function<void(const std::string& file, ArrayView<const float> target,
                                      ArrayView<const float> prediction,
                                      const eval::VolumeMetrics& metrics)>;
  // data_dir: where the manifest's truth paths are relative to.
  CaseScores(std::vector<CaseRef> cases, std::filesystem::path data_dir);
  OnVolume collector(const std::string& method);
  // The cases every finalist was scored on, as simulate_reader_panel reads them.
  std::vector<PanelCase> panel_cases(const std::vector<std::string>& finalists) const;
  const std::vector<CaseRef>& cases() const { return cases_; }

  struct Slices {
    Array<float> gt;                         // [1 c c]
    std::map<std::string, Array<float>> recon;  // method -> [1 c c]
    double data_range = 0;
  };
  const Slices& first_case_slices() const { return first_; }
  // Fig. 6 of `track` from the first case's slices (write_fig6) for `methods`; nothing when
  // no case was evaluated.
  void write_fig6(const std::filesystem::path& results, const std::string& track,
                  const std::vector<std::string>& methods) const;

 private:
  struct Score {
    double ssim, lesion;
  };
  std::vector<CaseRef> cases_;
  std::filesystem::path data_dir_;
  std::map<std::string, std::map<std::string, Score>> scores_;  // method -> file -> score
  std::map<std::string, Array<uint8_t>> lesion_masks_;          // file -> [slice y x]
  Slices first_;
  mutable std::mutex mutex_;
};

}  // namespace rb::report
