// The report's figures. Charts are drawn by gnuplot (Debian gnuplot-nox) from generated
// scripts that keep their data inline (datablocks), so each chart can be re-drawn or edited
// by hand: `gnuplot fig4_multicoil.gp` in the report folder rewrites fig4_multicoil.svg.
// MR images (Fig. 6) are PNG through libpng (io/png.hpp).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "reconbench/report/results.hpp"
#include "reconbench/report/tables.hpp"

namespace rb::report {

// The gnuplot executable: $RECONBENCH_GNUPLOT, else "gnuplot" on PATH. UserError with an
// install hint if it cannot be run.
std::string gnuplot_command();
void check_gnuplot();

// Writes `<out_dir>/<name>.gp` and runs gnuplot on it, which must write `<out_dir>/<name>.svg`
// (the script sets the terminal and output). UserError naming the script on failure.
std::filesystem::path run_gnuplot(const std::filesystem::path& out_dir, const std::string& name,
                                  const std::string& script);

// gnuplot single-quoted string literal ('' escapes a quote).
std::string gp_quote(const std::string& s);

struct Figure {
  std::string id;       // "fig4_multicoil"
  std::string title;    // caption title
  std::string caption;  // caption text (HTML-escaped by the writer)
  std::filesystem::path file;  // relative to the report folder
};

// Fig. 4 top (4X and 8X tracks) and bottom (Transfer: per vendor and AVG).
Figure fig4_multicoil(const std::filesystem::path& out, const std::vector<Fig4Data>& tracks);
Figure fig4_transfer(const std::filesystem::path& out, const Fig4Data& transfer);
// Fig. 5: mean simulated-reader rank per case for one track.
Figure fig5(const std::filesystem::path& out, const std::string& track, const Fig5Data& d);
// Fig. S1: masked vs unmasked SSIM per volume, one series per method, for one track.
Figure fig_s1(const std::filesystem::path& out, const std::string& track,
              const std::map<std::string, MethodEval>& evals);
// Transfer analysis: SSIM with / without vendor normalisation per vendor and method.
Figure fig_transfer(const std::filesystem::path& out, const TransferAnalysis& t);

// Fig. 6 for one track: one row per panel, columns ground truth | reconstruction |
// |reconstruction - ground truth| x 5 | SSIM map (0 black .. 1 white), all images windowed to
// [0, max of the ground-truth slice]. Returns the figure and each panel's slice SSIM
// (recomputed from the stored slices with the stored volume data range).
struct Fig6Result {
  Figure figure;
  std::vector<double> slice_ssim;  // per panel
};
Fig6Result fig6(const std::filesystem::path& out, const Fig6Spec& spec);

}  // namespace rb::report
