// Training checkpoints (ml/train.hpp): model + optimiser state + progress in one LibTorch
// archive, written atomically, and the run identity (the options that define a run) that a
// --resume must match. Includes torch: ml/ only.
#pragma once

#include <filesystem>
#include <vector>

#include <nlohmann/json.hpp>

#include "reconbench/ml/pipeline.hpp"
#include "reconbench/ml/train.hpp"

namespace rb::ml {

struct Progression {
  int epoch = 0;              // completed epochs
  int64_t step = 0;           // steps done in the current epoch (== steps per epoch: the
                              // epoch's steps are done, its validation is not)
  double loss_sum = 0;        // of the current epoch
  double epoch_seconds = 0;   // of the current epoch before the last checkpoint
  std::vector<EpochRecord> history;
};

nlohmann::json to_json(const EpochRecord& r);
EpochRecord record_from_json(const nlohmann::json& j);

void save_checkpoint(const std::filesystem::path& path, Model& model,
                     torch::optim::Optimizer& opt, const Progression& prog,
                     const nlohmann::json& identity);
// UserError naming the file if it cannot be read, was made by a run with another identity,
// or does not fit the model.
Progression load_checkpoint(const std::filesystem::path& path, Model& model,
                            torch::optim::Optimizer& opt, const nlohmann::json& identity);

}  // namespace rb::ml
