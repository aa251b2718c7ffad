// Where training slices come from (ml/train.hpp), torch-free:
//
//   files  a directory of fully sampled fastMRI files: each epoch a seeded permutation of
//          all slices (fastMRI's shuffled SliceDataset);
//   sim    the simulator as an unlimited source (`--data sim:PROFILE[:SEED]`): fresh
//          subjects (anatomy warp, contrast, field, coils, noise, lesions, phase
//          resolution; vendors as asked) planned by the simulator's own train-split rules
//          (sim/dataset.hpp plan_dataset) in blocks of `block_volumes` volumes, block b
//          planned with seed stream_seed(seed, b). The slices of a block are visited in a
//          seeded permutation (so consecutive steps come from different subjects), each
//          volume `reuse` times (fresh masks each time).
//
// sample(epoch, i) is a pure function of its arguments (and the source's options) and is
// thread-safe, so any number of prefetch threads produce the same samples in any order and
// a resumed run sees the data the uninterrupted run would have seen.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "reconbench/core/array.hpp"
#include "reconbench/io/fastmri.hpp"

namespace rb::ml {

// One fully sampled training slice.
struct TrainSample {
  Array<cfloat> kspace;            // [coil read phase]
  Array<float> target;             // [y x] reconstruction_rss
  double max_value = 0;            // SSIM data range: attrs["max"] of the volume
  std::optional<IsmrmrdInfo> header;
  std::string name;                // file (or simulated volume) name
  int64_t slice = 0;
};

class SampleSource {
 public:
  virtual ~SampleSource() = default;
  virtual int64_t epoch_size() const = 0;                   // slices per epoch
  virtual TrainSample sample(int epoch, int64_t i) const = 0;  // i in [0, epoch_size)
  virtual std::string describe() const = 0;                  // for logs and model.json
};

// `max_slices` > 0: a fixed seeded subset of that many slices. UserError naming the folder
// if it holds no fully sampled file with a target.
std::unique_ptr<SampleSource> make_file_source(const std::filesystem::path& dir, uint32_t seed,
                                               int64_t max_slices = 0);

struct SimSourceOptions {
  std::string profile = "small";            // sim/dataset.hpp make_profile
  uint64_t seed = 0;
  std::vector<std::string> vendors{"siemens"};  // drawn per volume: siemens, philips, ge
  int64_t epoch_size = 0;                   // 0: the profile's train split size in slices
  int64_t block_volumes = 4;                // volumes held in memory per block
  int64_t reuse = 1;                        // visits of each simulated slice
};

// "sim:PROFILE[:SEED]" -> options (profile and seed set); nullopt for any other string;
// UserError on a malformed sim: spec.
std::optional<SimSourceOptions> parse_sim_data(const std::string& spec);

std::unique_ptr<SampleSource> make_sim_source(const SimSourceOptions& opts);

}  // namespace rb::ml
