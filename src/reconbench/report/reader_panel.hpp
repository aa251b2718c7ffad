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
#include <string>
#include <vector>

#include "reconbench/report/results.hpp"

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

}  // namespace rb::report
