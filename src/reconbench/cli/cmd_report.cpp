// `reconbench report`: the paper's tables and figures from a results directory.
#include <chrono>
#include <cstdio>

#include "reconbench/cli/command.hpp"
#include "reconbench/report/report.hpp"
#include "reconbench/report/results.hpp"

namespace {

struct ReportCmd final : rb::cli::Command {
  std::string results, out;
  size_t finalists = 3;
  void declare(CLI::App& app) override {
    app.add_option("--results", results,
                   "results directory written by `reconbench demo` (DIR/results): run.json, "
                   "dataset.json, eval/<track>/<method>.json, leaderboard/, reader_study.json, "
                   "fig6/")
        ->required();
    app.add_option("--out", out, "output folder for index.html, report.json and the figures")
        ->required();
    app.add_option("--finalists", finalists, "finalists per track (top N by SSIM)")
        ->default_val(3)
        ->check(CLI::Range(1, 20));
  }
  int run() override {
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = rb::report::load_results(results);
    rb::report::ReportOptions opts;
    opts.finalists = finalists;
    const auto ro = rb::report::write_report(r, out, opts);
    for (const auto& n : ro.notes) std::fprintf(stderr, "note: %s\n", n.c_str());
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("report: %s (%zu figures, %.1f s)\n", ro.index.string().c_str(), ro.files.size(), s);
    return 0;
  }
};

const rb::cli::Registrar reg(
    {"report", "regenerate the paper's tables and figures (HTML + SVG/PNG) from stored results",
     "Reads a results directory (as `reconbench demo` writes under DIR/results) and writes an "
     "HTML report: per-track leaderboards, Table III (SSIM per contrast with 2.5%/97.5% "
     "quantile intervals of the finalists), Table IV (reader rank and Likert mean +- SD, "
     "Kendall's W; the demo's reader panel is SIMULATED and labelled so), Fig. 4 (SSIM by team "
     "rank; Transfer per vendor), Fig. 5 (reader rank per case), Fig. 6 (ground truth | "
     "reconstruction | residual x5 | SSIM map, PNG), Fig. S1 (masked vs unmasked SSIM) and the "
     "Transfer analysis (SSIM with and without vendor normalisation per vendor). Charts are "
     "SVG drawn by gnuplot from the .gp scripts left beside them. report.json holds every "
     "number shown.",
     {"reconbench report --results demo-out/results --out demo-out/report",
      "reconbench report --results demo-out/results --out /tmp/report --finalists 4"},
     95},
    [] { return std::make_unique<ReportCmd>(); });

}  // namespace
