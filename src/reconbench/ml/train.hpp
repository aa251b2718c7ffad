// Training of the learned models (ml/spec.hpp ModelKind: unet, varnet, unet-grappa,
// varnet-grappa, the finalist kinds) on fastMRI-format files or on the simulator as an unlimited source
// (`data` = "sim:PROFILE[:SEED]", ml/sample_source.hpp), batch 1 as fastMRI's modules.
// Torch-free interface (the CLI includes it).
//
// Policy (fastmri-reference.md §1b, §1e): a fresh random mask per training step from a
// MaskFunc seeded by (seed, epoch, step, rank) (training masks are use_seed=False in
// fastMRI), per-file seeded validation masks (seed = tuple(map(ord, basename))), padding
// columns of the ISMRMRD header zeroed. Every slice goes through the model's input format
// (spec.hpp InputFormat; ml/model_input.hpp), the same code as at reconstruction.
//   unet:                 L1 on the normalised image (fastMRI), RMSprop(lr 1e-3)
//   varnet, *-grappa:     SSIM loss (data range = attrs["max"]) on the output crop,
//                         Adam(lr 3e-4)
//   all: StepLR(lr_step_size epochs, lr_gamma)
// Samples are prepared (read or simulated, masked, normalised, GRAPPA) on `data_threads`
// background threads, `prefetch` steps ahead; each step's input is a pure function of
// (seed, epoch, step), so a run is the same for any number of data threads and a resumed
// run continues bit-identically (same torch thread count).
//
// Validation at each epoch end: SSIM as fastMRI's evaluate.py (ml/validate.hpp) of the
// model, beside zero-filled and GRAPPA on the same masks.
//
// Outputs under `out`: checkpoint.pt (model + optimiser + progress; written atomically every
// `checkpoint_every` steps, every `checkpoint_minutes`, at each epoch end, at the time limit
// and on SIGINT/SIGTERM; --resume continues exactly), model.pt + model.json (weights and
// description, rewritten at each epoch end), history.json (per-epoch metrics), curve.png
// (validation SSIM versus step). For sim data without --val-data, the profile's validation
// split (same seed) is simulated once into out/sim_val/.
//
// Data parallel (ml/dist.hpp): each rank takes every world_size-th slice of an epoch; rank 0
// validates and writes the files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>


namespace rb::ml {

// Data-parallel processes (ml/dist.hpp).
struct DistOptions {
  int world_size = 1, rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::filesystem::path dist_file;  // FileStore rendezvous instead of TCP
};

struct TrainOptions {
  std::string model = "varnet";  // a ModelKind name (spec.hpp)
  std::string data;              // simulator root, a split dir, or "sim:PROFILE[:SEED]"
  std::filesystem::path val_data;  // validation split dir (default: <data>/multicoil_val)
  std::filesystem::path out;
  std::vector<double> accelerations{4, 8};
  std::vector<double> center_fractions{0.08, 0.04};
  std::string mask_type = "equispaced_fraction";
  int epochs = 50;
  double lr = 0;               // 0: fastMRI default (U-Net 1e-3, others 3e-4)
  int lr_step_size = 40;       // StepLR step in epochs
  double lr_gamma = 0.1;
  double weight_decay = 0;
  std::string loss;            // "l1" | "ssim"; "": l1 for unet, ssim otherwise
  int64_t chans = 0;           // 0: fastMRI default (U-Net 32, VarNet 18)
  int64_t pools = 4;
  int64_t cascades = 0;        // 0: the kind's default (ModelSpec::defaults)
  int64_t sens_chans = 8, sens_pools = 4;
  double drop_prob = 0;
  // Input format (spec.hpp InputFormat); negative: the kind's default (unet: 2x readout,
  // all coils, no intensity step = fastMRI's; the others: oversampling removed, 8 virtual
  // coils, intensity normalised).
  int64_t readout_oversampling = -1;
  int64_t virtual_coils = -1;
  int intensity = -1;
  std::filesystem::path init_weights;  // start from these weights (same parameter shapes)
  uint32_t seed = 42;
  bool resume = false;
  std::string device = "cpu";
  int64_t max_train_slices = 0;  // files: a fixed subset (0: all)
  int64_t max_val_files = 0;     // 0: all
  int64_t checkpoint_every = 100;   // steps
  double checkpoint_minutes = 10;   // wall-clock minutes between checkpoints (0: off)
  double time_limit_s = 0;          // stop (checkpoint, weights) after this long; 0: none
  int64_t max_steps = 0;            // stop (checkpoint, weights) at this many steps; 0: none
  int data_threads = 1;             // background sample preparation (0: on the training thread)
  int prefetch = 4;                 // steps prepared ahead
  // sim data: steps per epoch (0: the profile's train split in slices), vendors drawn,
  // volumes per block and visits per simulated slice (sample_source.hpp)
  int64_t epoch_steps = 0;
  std::vector<std::string> sim_vendors{"siemens"};
  int64_t sim_block = 4;
  int64_t sim_reuse = 1;
  DistOptions dist;
  std::string command_line;         // recorded in model.json
  // Build the model, report its parameters and weights-file size, train nothing (--data and
  // --out are not needed).
  bool dry_run = false;
};

struct EpochRecord {
  int epoch = 0;              // 1-based
  int64_t step = 0;           // training steps done (all epochs, per rank)
  double train_loss = 0;      // mean over the epoch's steps (this rank)
  double val_ssim = -1;       // -1: no validation data
  double val_ssim_zero_filled = -1;
  double val_ssim_grappa = -1;
  double lr = 0;
  double seconds = 0;
  double slices_per_second = 0;
};

struct TrainResult {
  std::filesystem::path weights;
  std::vector<EpochRecord> history;
  double parameter_checksum = 0;  // sum of all parameters (for distributed tests)
  bool finished = false;          // all epochs done (false: stopped at the time limit)
  int64_t steps = 0;              // steps done in total
  double last_loss = 0;           // loss of the last step (this rank)
  int64_t parameters = 0;         // scalar parameters of the model
  int64_t weights_bytes = 0;      // dry run: size of its weights file (model.pt)
};

// UserError naming the option or file on bad input; rb::Interrupted after writing a
// checkpoint when SIGINT/SIGTERM arrives.
TrainResult train_model(const TrainOptions& opts);

}  // namespace rb::ml
