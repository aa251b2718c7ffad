// reconbench mask: one fastMRI undersampling mask, bit-identical to fastmri.data.subsample.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <iostream>

#include "reconbench/cli/command.hpp"
#include "reconbench/core/error.hpp"
#include "reconbench/core/fs.hpp"
#include "reconbench/sampling/masks.hpp"

namespace {

struct MaskCmd final : rb::cli::Command {
  std::string type = "equispaced_fraction";
  std::vector<int64_t> widths;
  std::vector<double> center_fractions{0.08};
  std::vector<double> accelerations{4.0};
  bool any_combination = false;
  std::vector<uint32_t> seeds;
  std::vector<std::string> seed_files;
  uint32_t rng_seed = 0;
  std::string out, format = "text";
  int64_t offset = 0, repeat = 1;
  CLI::Option *seed_opt = nullptr, *seed_file_opt = nullptr, *offset_opt = nullptr;

  void declare(CLI::App& app) override {
    app.add_option("--type", type, "mask function (fastMRI create_mask_for_mask_type name)")
        ->check(CLI::IsMember(rb::mask_type_names()))
        ->capture_default_str();
    app.add_option("--width", widths,
                   "number of phase-encode columns W (kspace.shape[-1]); a comma-separated "
                   "list draws one mask per width")
        ->required()
        ->delimiter(',')
        ->check(CLI::Range(int64_t{1}, int64_t{1} << 24));
    app.add_option("--center-fractions", center_fractions,
                   "fractions of low-frequency columns kept, comma separated; one is chosen "
                   "per mask (paired with --accelerations by index)")
        ->delimiter(',')
        ->default_str("0.08");
    app.add_option("--accelerations", accelerations,
                   "accelerations, comma separated (integers for equispaced and magic)")
        ->delimiter(',')
        ->default_str("4");
    app.add_flag("--allow-any-combination", any_combination,
                 "choose center fraction and acceleration independently (fastMRI "
                 "allow_any_combination)");
    seed_opt = app.add_option("--seed", seeds,
                              "seed the draw with this int (fastMRI mask_func(shape, seed=N)); "
                              "a comma-separated list draws one mask per seed")
                   ->delimiter(',');
    seed_file_opt = app.add_option("--seed-file", seed_files,
                                   "seed the draw from this file's base name, "
                                   "tuple(map(ord, name)), as fastMRI's validation masks; "
                                   "repeat the option for several files");
    seed_opt->excludes(seed_file_opt);
    app.add_option("--rng-seed", rng_seed,
                   "without --seed/--seed-file: seed of the mask function's own RandomState "
                   "(fastMRI MaskFunc(seed=N)), drawn from in sequence")
        ->capture_default_str();
    offset_opt = app.add_option("--offset", offset,
                                "fix the equispaced/magic offset instead of drawing it")
                     ->check(CLI::NonNegativeNumber);
    app.add_option("--repeat", repeat,
                   "draw this many masks in a row per seed and width (the loop order is seed, "
                   "width, repeat; one line or JSON object per mask)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--format", format,
                   "text: sampled column indices, space separated, one line per mask; json: "
                   "{mask, indices, num_low_frequencies, acceleration, center_fraction, ...} "
                   "(an array of them when several masks are drawn)")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    app.add_option("--out", out, "write to this file instead of stdout");
  }

  int run() override {
    rb::MaskFuncOptions o;
    o.type = rb::parse_mask_type(type);
    o.center_fractions = center_fractions;
    o.accelerations = accelerations;
    o.allow_any_combination = any_combination;
    o.rng_seed = rng_seed;
    rb::MaskFunc func(o);
    std::vector<std::optional<rb::MaskSeed>> draw_seeds;
    for (uint32_t v : seeds) draw_seeds.emplace_back(std::in_place, std::in_place_type<uint32_t>, v);
    for (const auto& f : seed_files) {
      const std::string base = std::filesystem::path(f).filename().string();
      RB_CHECK(!base.empty(), "--seed-file '", f, "' has no file name");
      draw_seeds.emplace_back(rb::seed_from_filename(base));
    }
    if (draw_seeds.empty()) draw_seeds.emplace_back(std::nullopt);
    std::optional<int64_t> off;
    if (offset_opt->count()) off = offset;

    std::string text;
    nlohmann::json all = nlohmann::json::array();
    for (const auto& s : draw_seeds) {
      for (int64_t width : widths) {
        for (int64_t r = 0; r < repeat; ++r) {
          const rb::Mask m = func(width, s, off);
          const auto idx = m.indices();
          if (format == "text") {
            for (size_t i = 0; i < idx.size(); ++i) {
              if (i) text += ' ';
              text += std::to_string(idx[i]);
            }
            text += "\n";
            continue;
          }
          nlohmann::json j;
          j["type"] = type;
          j["width"] = width;
          j["mask"] = std::vector<int>(m.mask.begin(), m.mask.end());
          j["indices"] = idx;
          j["num_sampled"] = m.num_sampled();
          j["num_low_frequencies"] = m.num_low_frequencies;
          j["acceleration"] = m.acceleration;
          j["center_fraction"] = m.center_fraction;
          j["adjusted_acceleration"] = m.adjusted_acceleration;
          j["offset"] = m.offset >= 0 ? nlohmann::json(m.offset) : nlohmann::json(nullptr);
          j["seed"] = s ? nlohmann::json(rb::mask_seed_str(*s)) : nlohmann::json(nullptr);
          all.push_back(std::move(j));
        }
      }
    }
    if (format == "json") text = (all.size() == 1 ? all[0] : all).dump() + "\n";
    if (out.empty()) std::cout << text;
    else rb::write_file_atomic(out, text);
    return 0;
  }
};

const rb::cli::Registrar reg(
    {"mask", "print a fastMRI undersampling mask (bit-identical to fastmri.data.subsample)",
     "Draws one 1-D phase-encode mask with fastMRI's mask functions (random, equispaced, "
     "equispaced_fraction = the 2020 challenge's pseudo-equispaced mask, magic, "
     "magic_fraction) and numpy's RandomState, so the columns equal fastMRI's for the same "
     "seed. Prints the sampled column indices, or a JSON object with the mask and its "
     "parameters.",
     {"reconbench mask --width 320 --accelerations 4 --center-fractions 0.08 --seed 0",
      "reconbench mask --type equispaced_fraction --width 368 --accelerations 8 "
      "--center-fractions 0.04 --seed-file file_brain_AXT2_200_2000019.h5 --format json",
      "reconbench mask --type magic --width 320 --accelerations 4,8 --center-fractions "
      "0.08,0.04 --rng-seed 42 --repeat 5"},
     20},
    [] { return std::make_unique<MaskCmd>(); });

}  // namespace
