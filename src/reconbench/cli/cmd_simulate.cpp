// reconbench simulate: write the built-in challenge dataset (design/simulator.md).
#include <cstdio>
#include <iostream>

#include "reconbench/cli/command.hpp"
#include "reconbench/core/error.hpp"
#include "reconbench/core/parallel.hpp"
#include "reconbench/core/fs.hpp"
#include "reconbench/sim/dataset.hpp"
#include "reconbench/sim/realism_report.hpp"

namespace {

struct SimulateCmd final : rb::cli::Command {
  std::string profile = "small";
  uint64_t seed = 0;
  std::string out;
  std::vector<std::string> splits;
  std::string template_dir;
  bool procedural = false;
  bool no_truth = false;
  std::string stats, stats_json;

  void declare(CLI::App& app) override {
    app.add_option("--profile", profile,
                   "dataset size: ci (tiny, < 1 min), small (the demo default, a few minutes), "
                   "full (640x320 readout x phase, 8-24 coils (Philips, GE up to 32), 12-16 slices)")
        ->default_val("small")
        ->check(CLI::IsMember({"ci", "small", "full"}));
    app.add_option("--seed", seed, "global seed; the same seed gives identical files")
        ->default_val(0);
    app.add_option("--out", out, "output directory (created; existing files are replaced)");
    app.add_option("--splits", splits,
                   "only these splits: train, val, test, challenge, transfer (default: all)")
        ->delimiter(',');
    app.add_option("--template-dir", template_dir,
                   "directory of the Colin27 template (ch2.nii.gz, ch2bet.nii.gz, aal.nii.gz; "
                   "default /usr/share/mricron/templates or $RECONBENCH_TEMPLATE_DIR)");
    app.add_flag("--procedural", procedural,
                 "use the procedural phantom instead of the Colin27 anatomy (tests only)");
    app.add_flag("--no-truth", no_truth, "do not write the truth/ side files");
    app.add_option("--stats", stats,
                   "instead of simulating: print the realism statistics (k-space power slope, "
                   "fine phase, coil-map residual, coil high-k ratio, background fraction, noise, "
                   "SNR, zero-filled 4X/8X SSIM) of the fully sampled fastMRI files under this "
                   "directory, per contrast and vendor, beside the ranges measured on real data");
    app.add_option("--stats-json", stats_json,
                   "with --stats: also write the statistics (per file and slice) as JSON here");
  }

  int run_stats() {
    const auto scan = rb::sim::scan_realism(stats);
    std::cout << rb::sim::realism_table(scan);
    if (!stats_json.empty())
      rb::write_file_atomic(stats_json, rb::sim::realism_json(scan).dump(1) + "\n");
    return 0;
  }

  int run() override {
    if (!stats.empty()) return run_stats();
    RB_CHECK(!out.empty(), "simulate: --out is required (or --stats DIR)");
    rb::sim::DatasetOptions o;
    o.profile = rb::sim::make_profile(profile);
    o.seed = seed;
    o.out = out;
    o.splits = splits;
    o.template_dir = template_dir;
    o.procedural = procedural;
    o.write_truth = !no_truth;
    const auto sum = rb::sim::simulate_dataset(o);
    std::cout << "simulated " << sum.files.size() << " volumes (profile " << profile << ", seed "
              << seed << ", anatomy " << sum.anatomy << ", " << rb::num_threads()
              << " threads) in " << sum.seconds << " s -> " << out << "\n\n"
              << rb::sim::summary_table(sum.files);
    return 0;
  }
};

const rb::cli::Registrar reg(
    {"simulate", "write the built-in simulated challenge dataset (fastMRI layout)",
     "Simulates multi-coil brain k-space from the Colin27 anatomy (per-subject warps, fuzzy "
     "tissues, lesions), T1/T1PRE/T1POST/T2/FLAIR signal equations at 1.5/3 T, smooth and "
     "random phase, Biot-Savart coil sensitivities, correlated noise, fine-grid synthesis "
     "(no inverse crime) and Siemens/Philips (2x readout oversampling) or GE (decimated) "
     "encodings. Writes multicoil_train/val (fully sampled), multicoil_test/challenge "
     "(4X/8X masked), transfer_challenge (GE/Philips 4X), ground_truth/, truth/ side files "
     "and manifest.json, then prints a Table-I-style summary. Deterministic for a seed "
     "whatever the thread count.",
     {"reconbench simulate --profile ci --seed 1 --out data/ci",
      "reconbench simulate --profile small --out data/small",
      "reconbench --threads 8 simulate --profile full --seed 7 --out data/full --splits test,challenge",
      "reconbench simulate --stats data/small --stats-json data/small/realism.json"},
     10},
    [] { return std::make_unique<SimulateCmd>(); });

}  // namespace
