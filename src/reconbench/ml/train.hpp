// Training of the U-Net and the E2E-VarNet on fastMRI-format data (fastMRI's UnetModule /
// VarNetModule + data module, batch 1). Torch-free interface (the CLI includes it).
//
// Policy (fastmri-reference.md §1b, §1e): a fresh random mask per training draw from a
// MaskFunc with its own RandomState (seeded from --seed, the epoch and the rank; training
// masks are use_seed=False in fastMRI), per-file seeded validation masks
// (seed = tuple(map(ord, basename))), padding columns of the ISMRMRD header zeroed.
//   U-Net:  L1 loss on the normalised zero-filled image, RMSprop(lr 1e-3), StepLR(40, 0.1)
//   VarNet: SSIM loss (data_range = attrs["max"]) on the centre crop, Adam(lr 3e-4),
//           StepLR(40, 0.1)
// Validation per epoch: SSIM as fastMRI's evaluate.py (per slice, data range = max of the
// ground-truth volume, mean over slices, then over volumes) of the model and of zero-filled
// on the same masks.
//
// Outputs under `out`: checkpoint.pt (model + optimiser + progress; written atomically every
// `checkpoint_every` steps and at each epoch end; --resume continues exactly), model.pt +
// model.json (final weights + description), history.json (per-epoch metrics).
//
// Data parallel (c10d ProcessGroupGloo): world_size processes, rendezvous through a
// TCPStore at master_addr:master_port (or a FileStore at dist_file); rank 0 broadcasts the
// initial weights, gradients are all-reduced (averaged) every step, each rank takes every
// world_size-th slice of the epoch's order; rank 0 validates and writes the files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace rb::ml {

struct TrainOptions {
  std::string model = "varnet";  // unet | varnet
  std::filesystem::path data;     // simulator root (with multicoil_train/, multicoil_val/) or a split dir
  std::filesystem::path val_data;  // validation split dir (default: <data>/multicoil_val if present)
  std::filesystem::path out;
  std::vector<double> accelerations{4, 8};
  std::vector<double> center_fractions{0.08, 0.04};
  std::string mask_type = "equispaced_fraction";
  int epochs = 50;
  double lr = 0;               // 0: fastMRI default (U-Net 1e-3, VarNet 3e-4)
  int lr_step_size = 40;       // StepLR step in epochs
  double lr_gamma = 0.1;
  double weight_decay = 0;
  int64_t chans = 0;           // 0: fastMRI default (U-Net 32, VarNet 18)
  int64_t pools = 4;
  int64_t cascades = 12;
  int64_t sens_chans = 8, sens_pools = 4;
  double drop_prob = 0;
  uint32_t seed = 42;
  bool resume = false;
  std::string device = "cpu";
  int64_t max_train_slices = 0;  // 0: all
  int64_t max_val_files = 0;     // 0: all
  int64_t checkpoint_every = 100;  // steps (plus each epoch end)
  // distributed
  int world_size = 1, rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::filesystem::path dist_file;  // FileStore rendezvous instead of TCP
  std::string command_line;         // recorded in model.json
};

struct EpochRecord {
  int epoch = 0;              // 1-based
  double train_loss = 0;      // mean over the epoch's steps (this rank)
  double val_ssim = -1;       // -1: no validation data
  double val_ssim_zero_filled = -1;
  double lr = 0;
  double seconds = 0;
  double slices_per_second = 0;
};

struct TrainResult {
  std::filesystem::path weights;
  std::vector<EpochRecord> history;
  double parameter_checksum = 0;  // sum of all parameters (for distributed tests)
};

// UserError naming the option or file on bad input.
TrainResult train_model(const TrainOptions& opts);

}  // namespace rb::ml
