// fastMRI's undersampling masks, bit-exact (fastmri/data/subsample.py; design note
// fastmri-reference.md §1b): RandomMaskFunc, EquiSpacedMaskFunc, EquispacedMaskFractionFunc
// (the 2020 challenge's "pseudo-equispaced" mask), MagicMaskFunc, MagicMaskFractionFunc,
// seeded exactly as fastMRI seeds them (numpy RandomState = MT19937; a per-file seed is
// tuple(map(ord, basename)) fed to init_by_array).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "reconbench/core/array.hpp"

namespace rb {

// numpy.random.RandomState (legacy MT19937) with the draws fastMRI uses.
class RandomState {
 public:
  explicit RandomState(uint32_t seed = 0);
  explicit RandomState(std::span<const uint32_t> key);  // numpy seed(tuple): init_by_array
  void seed(uint32_t s);                                // init_genrand
  void seed(std::span<const uint32_t> key);             // init_by_array
  uint32_t next32();
  double uniform();                        // random_sample(): 53-bit double in [0, 1)
  int64_t randint(int64_t low, int64_t high);  // [low, high), numpy's masked rejection
  struct State {
    std::vector<uint32_t> mt;
    int pos = 0;
  };
  State state() const;
  void set_state(const State& s);

 private:
  void reload();
  uint32_t mt_[624];
  int pos_ = 624;
};

// A fastMRI seed: an int (RandomState(int)) or a tuple of ints (e.g. a file name's ords).
using MaskSeed = std::variant<uint32_t, std::vector<uint32_t>>;
// tuple(map(ord, fname)) for the file's base name, as fastMRI's transforms do (use_seed=True).
// The name is decoded as UTF-8 to code points (invalid bytes b -> U+DC00 + b, Python's
// surrogateescape file-name decoding); a directory part, if any, is dropped.
MaskSeed seed_from_filename(const std::string& basename);
std::string mask_seed_str(const MaskSeed& seed);  // "123" or "(102, 105, ...)"
void seed_rng(RandomState& rng, const MaskSeed& seed);  // numpy rng.seed(seed)

enum class MaskType { Random, Equispaced, EquispacedFraction, Magic, MagicFraction };
// "random", "equispaced", "equispaced_fraction", "magic", "magic_fraction"
MaskType parse_mask_type(const std::string& name);  // UserError on unknown names
std::string mask_type_name(MaskType t);
const std::vector<std::string>& mask_type_names();  // the five names above, in that order

struct MaskFuncOptions {
  MaskType type = MaskType::EquispacedFraction;
  std::vector<double> center_fractions{0.08};
  std::vector<double> accelerations{4.0};
  bool allow_any_combination = false;
  uint32_t rng_seed = 0;  // seed of the function's own RandomState (fastMRI `seed` ctor arg)
};

struct Mask {
  std::vector<float> mask;  // [phase], 0/1
  int64_t num_low_frequencies = 0;
  double acceleration = 0, center_fraction = 0;  // the (chosen) nominal pair
  // Spacing actually used for the outer lines: EquispacedMaskFraction's adjusted acceleration
  // acc (nlf - W) / (nlf acc - W), MagicMaskFraction's round(W / (round(W/acc) - nlf)), else
  // the acceleration itself. offset: the equispaced/magic offset used (-1 for random).
  double adjusted_acceleration = 0;
  int64_t offset = -1;
  int64_t num_sampled() const;
  std::vector<int64_t> indices() const;  // sampled columns, ascending
};

class MaskFunc {
 public:
  explicit MaskFunc(MaskFuncOptions opts);  // UserError on inconsistent options
  // mask for `width` phase-encode columns; with `seed`, the RNG state is saved, reseeded,
  // drawn from and restored (fastMRI temp_seed). `offset` fixes the equispaced offset.
  Mask operator()(int64_t width, const std::optional<MaskSeed>& seed = std::nullopt,
                  std::optional<int64_t> offset = std::nullopt);
  const MaskFuncOptions& options() const { return opts_; }

 private:
  MaskFuncOptions opts_;
  RandomState rng_;
};

// fastMRI apply_mask: masked = kspace * mask + 0.0 (no -0.0 survives), with mask columns
// outside [pad_left, pad_right) zeroed first. kspace [... read phase], mask [phase].
// Returns the mask actually applied.
std::vector<float> apply_mask_inplace(ArrayView<cfloat> kspace, std::span<const float> mask,
                                      int64_t pad_left = 0, int64_t pad_right = -1);

}  // namespace rb
