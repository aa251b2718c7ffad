// reconbench mask: fastMRI undersampling masks, bit-identical to fastmri.data.subsample.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "reconbench/cli/command.hpp"
#include "reconbench/core/error.hpp"
#include "reconbench/core/fs.hpp"
#include "reconbench/sampling/masks.hpp"

namespace {

using nlohmann::json;

// One mask function and the draws made from it: for each seed, each width, `repeat` masks.
struct Request {
  rb::MaskFuncOptions func;
  std::vector<int64_t> widths;
  std::vector<std::optional<rb::MaskSeed>> seeds;  // {nullopt}: draw from the function's RNG
  std::optional<int64_t> offset;
  int64_t repeat = 1;
};

std::optional<rb::MaskSeed> file_seed(const std::string& f, const std::string& what) {
  const std::string base = std::filesystem::path(f).filename().string();
  RB_CHECK(!base.empty(), what, ": seed file '", f, "' has no file name");
  return rb::seed_from_filename(base);
}

json mask_json(const rb::Mask& m, int64_t width, const std::optional<rb::MaskSeed>& s,
               rb::MaskType t) {
  json j;
  j["type"] = rb::mask_type_name(t);
  j["width"] = width;
  j["mask"] = std::vector<int>(m.mask.begin(), m.mask.end());
  j["indices"] = m.indices();
  j["num_sampled"] = m.num_sampled();
  j["num_low_frequencies"] = m.num_low_frequencies;
  j["acceleration"] = m.acceleration;
  j["center_fraction"] = m.center_fraction;
  j["adjusted_acceleration"] = m.adjusted_acceleration;
  j["offset"] = m.offset >= 0 ? json(m.offset) : json(nullptr);
  j["seed"] = s ? json(rb::mask_seed_str(*s)) : json(nullptr);
  return j;
}

// Draws in the order seed, width, repeat; calls `emit` per mask.
template <class Emit>
void draw(const Request& r, Emit&& emit) {
  rb::MaskFunc func(r.func);
  for (const auto& s : r.seeds)
    for (int64_t w : r.widths)
      for (int64_t i = 0; i < r.repeat; ++i) emit(func(w, s, r.offset), w, s);
}

// A request object of a --requests file; keys as the command-line options.
Request parse_request(const json& j, const std::string& what) {
  RB_CHECK(j.is_object(), what, ": expected a JSON object");
  static const std::vector<std::string> keys{
      "type",    "width",  "center_fractions", "accelerations", "allow_any_combination",
      "seed",    "seed_file", "rng_seed",      "offset",        "repeat"};
  for (const auto& [k, v] : j.items())
    RB_CHECK(std::find(keys.begin(), keys.end(), k) != keys.end(), what, ": unknown key '", k,
             "'");
  auto list = [](const json& v) { return v.is_array() ? v : json::array({v}); };
  Request r;
  try {
    r.func.type = rb::parse_mask_type(j.value("type", std::string("equispaced_fraction")));
    RB_CHECK(j.contains("width"), what, ": 'width' is required");
    r.widths = list(j["width"]).get<std::vector<int64_t>>();
    if (j.contains("center_fractions"))
      r.func.center_fractions = list(j["center_fractions"]).get<std::vector<double>>();
    if (j.contains("accelerations"))
      r.func.accelerations = list(j["accelerations"]).get<std::vector<double>>();
    r.func.allow_any_combination = j.value("allow_any_combination", false);
    r.func.rng_seed = j.value("rng_seed", uint32_t{0});
    if (j.contains("seed"))
      for (uint32_t s : list(j["seed"]).get<std::vector<uint32_t>>())
        r.seeds.emplace_back(std::in_place, std::in_place_type<uint32_t>, s);
    if (j.contains("seed_file"))
      for (const auto& f : list(j["seed_file"]).get<std::vector<std::string>>())
        r.seeds.push_back(file_seed(f, what));
    if (j.contains("offset")) r.offset = j["offset"].get<int64_t>();
    r.repeat = j.value("repeat", int64_t{1});
  } catch (const json::exception& e) {
    throw rb::UserError(rb::cat(what, ": ", e.what()));
  }
  for (int64_t w : r.widths) RB_CHECK(w >= 1, what, ": width ", w, " must be >= 1");
  RB_CHECK(r.repeat >= 1, what, ": repeat must be >= 1");
  if (r.seeds.empty()) r.seeds.emplace_back(std::nullopt);
  return r;
}

struct MaskCmd final : rb::cli::Command {
  std::string type = "equispaced_fraction";
  std::vector<int64_t> widths;
  std::vector<double> center_fractions{0.08};
  std::vector<double> accelerations{4.0};
  bool any_combination = false;
  std::vector<uint32_t> seeds;
  std::vector<std::string> seed_files;
  uint32_t rng_seed = 0;
  std::string out, format = "text", requests;
  int64_t offset = 0, repeat = 1;
  CLI::Option *offset_opt = nullptr, *width_opt = nullptr;

  void declare(CLI::App& app) override {
    app.add_option("--type", type, "mask function (fastMRI create_mask_for_mask_type name)")
        ->check(CLI::IsMember(rb::mask_type_names()))
        ->capture_default_str();
    width_opt = app.add_option("--width", widths,
                               "number of phase-encode columns W (kspace.shape[-1]); a "
                               "comma-separated list draws one mask per width (required "
                               "unless --requests)")
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
    app.add_option("--seed", seeds,
                   "seed the draw with this int (fastMRI mask_func(shape, seed=N)); a "
                   "comma-separated list draws one mask per seed")
        ->delimiter(',');
    app.add_option("--seed-file", seed_files,
                   "seed the draw from this file's base name, tuple(map(ord, name)), as "
                   "fastMRI's validation masks; repeat the option for several files (drawn "
                   "after the --seed ints)");
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
    app.add_option("--requests", requests,
                   "batch mode: a JSON file ('-' = stdin) holding an array of request objects "
                   "with the option names as keys (type, width, center_fractions, "
                   "accelerations, allow_any_combination, seed, seed_file, rng_seed, offset, "
                   "repeat); prints a JSON array with, per request, the array of masks or "
                   "{\"error\": message}")
        ->excludes(width_opt);
    app.add_option("--out", out, "write to this file instead of stdout");
  }

  std::string run_batch() const {
    std::string what = requests == "-" ? std::string("--requests (stdin)") : requests;
    json in;
    try {
      in = requests == "-" ? json::parse(std::cin) : json::parse(rb::read_file(requests));
    } catch (const json::exception& e) {
      throw rb::UserError(rb::cat(what, ": invalid JSON: ", e.what()));
    }
    RB_CHECK(in.is_array(), what, ": expected a JSON array of request objects");
    json all = json::array();
    for (size_t i = 0; i < in.size(); ++i) {
      const Request r = parse_request(in[i], rb::cat(what, ": request ", i));
      json masks = json::array();
      try {
        draw(r, [&](const rb::Mask& m, int64_t w, const std::optional<rb::MaskSeed>& s) {
          masks.push_back(mask_json(m, w, s, r.func.type));
        });
        all.push_back(std::move(masks));
      } catch (const rb::UserError& e) {  // fastMRI raises for this request
        all.push_back(json{{"error", e.what()}});
      }
    }
    return all.dump() + "\n";
  }

  int run() override {
    std::string text;
    if (!requests.empty()) {
      text = run_batch();
    } else {
      RB_CHECK(!widths.empty(), "--width is required (or --requests)");
      Request r;
      r.func.type = rb::parse_mask_type(type);
      r.func.center_fractions = center_fractions;
      r.func.accelerations = accelerations;
      r.func.allow_any_combination = any_combination;
      r.func.rng_seed = rng_seed;
      r.widths = widths;
      for (uint32_t v : seeds)
        r.seeds.emplace_back(std::in_place, std::in_place_type<uint32_t>, v);
      for (const auto& f : seed_files) r.seeds.push_back(file_seed(f, "--seed-file"));
      if (r.seeds.empty()) r.seeds.emplace_back(std::nullopt);
      if (offset_opt->count()) r.offset = offset;
      r.repeat = repeat;
      json all = json::array();
      draw(r, [&](const rb::Mask& m, int64_t w, const std::optional<rb::MaskSeed>& s) {
        if (format == "json") {
          all.push_back(mask_json(m, w, s, r.func.type));
          return;
        }
        const auto idx = m.indices();
        for (size_t i = 0; i < idx.size(); ++i) {
          if (i) text += ' ';
          text += std::to_string(idx[i]);
        }
        text += "\n";
      });
      if (format == "json") text = (all.size() == 1 ? all[0] : all).dump() + "\n";
    }
    if (out.empty()) std::cout << text;
    else rb::write_file_atomic(out, text);
    return 0;
  }
};

const rb::cli::Registrar reg(
    {"mask", "print a fastMRI undersampling mask (bit-identical to fastmri.data.subsample)",
     "Draws 1-D phase-encode masks with fastMRI's mask functions (random, equispaced, "
     "equispaced_fraction = the 2020 challenge's pseudo-equispaced mask, magic, "
     "magic_fraction) and numpy's RandomState, so the columns equal fastMRI's for the same "
     "seed. Prints the sampled column indices, or a JSON object with the mask and its "
     "parameters; --requests draws many masks of many functions in one run.",
     {"reconbench mask --width 320 --accelerations 4 --center-fractions 0.08 --seed 0",
      "reconbench mask --type equispaced_fraction --width 368 --accelerations 8 "
      "--center-fractions 0.04 --seed-file file_brain_AXT2_200_2000019.h5 --format json",
      "reconbench mask --type magic --width 320 --accelerations 4,8 --center-fractions "
      "0.08,0.04 --rng-seed 42 --repeat 5"},
     20},
    [] { return std::make_unique<MaskCmd>(); });

}  // namespace
