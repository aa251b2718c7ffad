// reconbench undersample: fully sampled fastMRI files -> challenge-style test files (+ targets).
#include <cstdio>
#include <filesystem>

#include "reconbench/cli/command.hpp"
#include "reconbench/core/error.hpp"
#include "reconbench/core/fs.hpp"
#include "reconbench/core/parallel.hpp"
#include "reconbench/core/progress.hpp"
#include "reconbench/sampling/undersample.hpp"

namespace fs = std::filesystem;

namespace {

struct UndersampleCmd final : rb::cli::Command {
  std::vector<std::string> inputs;
  std::string out, targets, type = "equispaced_fraction", seed_mode = "file";
  std::vector<double> center_fractions{0.08};
  std::vector<double> accelerations{4.0};
  bool any_combination = false;
  uint32_t seed = 0;

  void declare(CLI::App& app) override {
    app.add_option("inputs", inputs, "fully sampled fastMRI .h5 files, or directories of them")
        ->required();
    app.add_option("--out", out, "directory for the undersampled test files (same names)")
        ->required();
    app.add_option("--targets", targets,
                   "also write the ground-truth files here (same names): reconstruction_rss "
                   "with attrs acquisition, max, norm, acceleration, num_low_frequency");
    app.add_option("--mask-type", type, "mask function (see `reconbench mask`)")
        ->check(CLI::IsMember(rb::mask_type_names()))
        ->capture_default_str();
    app.add_option("--accelerations", accelerations,
                   "accelerations (integers), comma separated; one is chosen per file")
        ->delimiter(',')
        ->default_str("4");
    app.add_option("--center-fractions", center_fractions,
                   "center fractions, comma separated, paired with --accelerations")
        ->delimiter(',')
        ->default_str("0.08");
    app.add_flag("--allow-any-combination", any_combination,
                 "choose center fraction and acceleration independently");
    app.add_option("--seed-mode", seed_mode,
                   "file: seed each mask from the file's base name, tuple(map(ord, name)), as "
                   "fastMRI's validation masks (reproducible per file); fixed: --seed for "
                   "every file")
        ->check(CLI::IsMember({"file", "fixed"}))
        ->capture_default_str();
    app.add_option("--seed", seed, "the seed of --seed-mode fixed")->capture_default_str();
  }

  int run() override {
    rb::UndersampleOptions opts;
    opts.mask.type = rb::parse_mask_type(type);
    opts.mask.center_fractions = center_fractions;
    opts.mask.accelerations = accelerations;
    opts.mask.allow_any_combination = any_combination;
    for (double a : accelerations)
      RB_CHECK(a == static_cast<double>(static_cast<int64_t>(a)) && a >= 1,
               "--accelerations: ", a, " is not an integer >= 1 (test files store an int)");
    opts.seed_mode = seed_mode == "fixed" ? rb::SeedMode::Fixed : rb::SeedMode::File;
    opts.seed = seed;
    rb::MaskFunc func(opts.mask);

    const auto files = rb::list_inputs(inputs, ".h5");
    fs::create_directories(out);
    if (!targets.empty()) fs::create_directories(targets);
    rb::Progress progress("undersample", static_cast<int64_t>(files.size()), "file");
    std::printf("file\tacceleration\tnum_low_frequency\tsampled\twidth\n");
    for (const auto& in : files) {
      rb::check_interrupted();
      const fs::path name = in.filename();
      std::optional<fs::path> tgt;
      if (!targets.empty()) tgt = fs::path(targets) / name;
      const rb::Mask m = rb::undersample_file(in, fs::path(out) / name, tgt, func, opts);
      std::printf("%s\t%lld\t%lld\t%lld\t%zu\n", name.string().c_str(),
                  static_cast<long long>(m.acceleration),
                  static_cast<long long>(m.num_low_frequencies),
                  static_cast<long long>(m.num_sampled()), m.mask.size());
      progress.tick(1, name.string());
    }
    progress.done();
    return 0;
  }
};

const rb::cli::Registrar reg(
    {"undersample", "fully sampled fastMRI files -> challenge-style undersampled test files",
     "Masks each file's k-space with a fastMRI mask (kspace * mask + 0.0, so unsampled "
     "entries are exactly +0.0), zeroes the mask outside the acquired phase-encode range "
     "[padding_left, padding_right) of the ISMRMRD header, and writes a test file with "
     "`mask`, attrs `acceleration` and `num_low_frequency`, the header, `acquisition` and "
     "`patient_id`, and without `reconstruction_rss`, `max` and `norm`. Masks are seeded "
     "per file from the file name by default, so they are reproducible. --targets also "
     "writes the ground truth for evaluation.",
     {"reconbench undersample data/val --out data/test_4x --targets data/test_4x_gt "
      "--accelerations 4 --center-fractions 0.08",
      "reconbench undersample data/val --out data/test_8x --accelerations 8 "
      "--center-fractions 0.04 --mask-type equispaced_fraction",
      "reconbench undersample a.h5 b.h5 --out test --accelerations 4,8 --center-fractions "
      "0.08,0.04 --seed-mode fixed --seed 42"},
     25},
    [] { return std::make_unique<UndersampleCmd>(); });

}  // namespace
