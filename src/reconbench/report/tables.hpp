// The paper's tables as data (rendered by report.cpp), built from stored results only.
//
// Table III (per track, per finalist): mean SSIM over volumes and the "95% interval" of the
//   paper = [Q(0.025), Q(0.975)] of the per-volume SSIMs (numpy percentile, type 7; see
//   eval/stats.hpp), for all volumes (AVG) and per contrast T1 / T1POST / T2 / FLAIR.
// Table IV (per track, per finalist): mean +- SD (ddof 1) over all (case, reader) ratings of
//   the pathology-depiction rank (1 best) and of each Likert question (1 best .. 4 worst).
// Kendall's W with tie correction per case (readers x finalists), averaged over cases.
// Transfer analysis: mean SSIM per vendor with and without vendor normalisation per method.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "reconbench/report/results.hpp"

namespace rb::report {

struct IntervalCell {
  int64_t n = 0;       // volumes in the cell (0: empty, printed "—")
  double mean = 0;
  double lo = 0, hi = 0;  // 2.5% / 97.5% quantiles of the per-volume values
};
// Mean and quantile interval of the finite values.
IntervalCell interval_cell(const std::vector<double>& values);

struct Table3Row {
  std::string team, method;
  IntervalCell avg;
  std::map<std::string, IntervalCell> by_contrast;  // contrasts()
};
struct Table3 {
  std::string track;
  std::vector<Table3Row> rows;  // finalists in leaderboard order
};
// Finalists = the first `finalists` rows of the track's leaderboard (all if fewer).
Table3 build_table3(const Results& r, const std::string& track, size_t finalists = 3);

struct MeanSdCell {
  int64_t n = 0;
  double mean = 0, sd = 0;  // sd NaN for n < 2
};
MeanSdCell mean_sd_cell(const std::vector<double>& values);

struct Table4Row {
  std::string team;
  MeanSdCell rank;
  std::map<std::string, MeanSdCell> likert;  // question -> cell
};
struct Table4 {
  std::string track;
  std::vector<std::string> questions;
  std::vector<Table4Row> rows;  // finalists in SSIM order
  // Kendall's W_t per case (NaN where undefined), and the mean over defined cases.
  std::vector<double> kendall_per_case;
  int64_t kendall_defined_cases = 0;
  double kendall_mean = 0;
};
Table4 build_table4(const ReaderStudy& study);

// Fig. 5: mean reader rank per case and finalist (x = case index).
struct Fig5Data {
  std::vector<std::string> cases;             // "file:slice"
  std::vector<std::string> finalists;         // SSIM order (highest, middle, lowest)
  std::vector<std::vector<double>> mean_rank;  // [case][finalist]
  // Cases where the finalist with the best slice SSIM also got the best mean rank.
  int64_t best_ssim_best_rank = 0;
};
Fig5Data build_fig5(const ReaderStudy& study);

// Fig. 4: SSIM by team rank; for Transfer also per vendor (GE, Philips) and AVG.
struct Fig4Series {
  std::string label;
  std::vector<double> ssim;  // by team rank (1-based index = position + 1)
};
struct Fig4Data {
  std::string track;
  std::vector<std::string> teams;  // leaderboard order
  std::vector<Fig4Series> series;
};
Fig4Data build_fig4(const Results& r, const std::string& track);

// Transfer analysis: per method and vendor, SSIM with / without vendor normalisation.
struct TransferRow {
  std::string method;
  std::map<std::string, double> with_norm, without_norm;  // vendor ("all" too) -> mean SSIM
  std::map<std::string, int64_t> volumes;                 // vendor -> count
};
struct TransferAnalysis {
  std::vector<std::string> vendors;  // e.g. "ge", "philips", then "all"
  std::vector<TransferRow> rows;
};
TransferAnalysis build_transfer(const Results& r);

// Display names: "ge" -> "GE-like", "philips" -> "Philips-like", "siemens" -> "Siemens-like".
std::string vendor_title(const std::string& vendor);

}  // namespace rb::report
