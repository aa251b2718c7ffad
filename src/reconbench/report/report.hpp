// `reconbench report`: the paper's tables and figures (fastMRI 2020 challenge results, Tables
// III and IV, Figs. 4, 5, 6 and S1) and a Transfer analysis, regenerated from a results
// directory (results.hpp) into
//
//   OUT/index.html    self-contained page (inline CSS) referencing the figure files
//   OUT/report.json   every number the page shows, machine-readable
//   OUT/*.svg + *.gp  gnuplot charts and the scripts that drew them
//   OUT/fig6_*.png    MR image panels (libpng)
//
// Numbers in the page's tables carry their full-precision value in a data-v attribute, so
// tests can compare the page with the evaluation files.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "reconbench/report/results.hpp"

namespace rb::report {

struct ReportOptions {
  size_t finalists = 3;  // top-N per track by SSIM (paper: 3)
};

struct ReportOutput {
  std::filesystem::path index;              // OUT/index.html
  std::vector<std::filesystem::path> files;  // every figure written
  std::vector<std::string> notes;            // sections left out and why
};

ReportOutput write_report(const Results& results, const std::filesystem::path& out,
                          const ReportOptions& opts = {});

// A run's summary for the terminal: each leaderboard (rank, team, SSIM, masked SSIM, PSNR,
// NMSE; the top `finalists` marked), the skipped methods, the reader panel's nature, where
// the results and the report are, and the run's total time.
std::string run_summary_text(const Results& results, const ReportOutput& report, size_t finalists,
                             double total_seconds);

// HTML-escape text (&, <, >, ", ').
std::string html_escape(const std::string& s);

}  // namespace rb::report
