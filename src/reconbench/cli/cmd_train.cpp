// reconbench train: learned reconstruction training (ml/train.hpp, through the LibTorch module).
#include <cstdio>
#include <sstream>

#include "reconbench/cli/command.hpp"
#include "reconbench/core/error.hpp"
#include "reconbench/ml/loader.hpp"

namespace {

// "3600", "3600s", "90m", "2.5h" -> seconds; UserError naming the option otherwise.
double parse_duration(const std::string& s, const std::string& option) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  const std::string unit = end ? std::string(end) : "";
  double mult = 0;
  if (unit.empty() || unit == "s") mult = 1;
  if (unit == "m" || unit == "min") mult = 60;
  if (unit == "h") mult = 3600;
  RB_CHECK(!s.empty() && end != s.c_str() && mult > 0 && v >= 0, option, " ", s,
           ": expected a duration such as 3600, 90m or 2h");
  return v * mult;
}

struct TrainCmd final : rb::cli::Command {
  rb::ml::TrainOptions o;
  std::string val, out, dist_file, init_weights, time_limit = "0";
  int64_t seed = 42;

  void declare(CLI::App& app) override {
    std::vector<std::string> kinds;
    for (const auto& m : rb::ml::learned_methods()) kinds.push_back(m.name);
    app.add_option("--model", o.model,
                   "unet (fastMRI U-Net baseline), varnet (E2E-VarNet), unet-grappa or "
                   "varnet-grappa (started from the GRAPPA reconstruction), or a 2020 "
                   "finalist's design: dualnet, dualnet-grappa (dual-domain cascades, AIRS "
                   "style), recurrentvarnet (ConvGRU hidden state, ResoNNance's line; --chans = "
                   "hidden channels, --pools = GRU layers), jointicnet (joint sensitivity and "
                   "image refinement, ATB); see `recon --list-methods`")
        ->default_val("varnet")
        ->check(CLI::IsMember(kinds));
    app.add_flag("--dry-run", o.dry_run,
                 "build the model, print its parameter count and weights-file size, exit "
                 "(no --data/--out needed)");
    app.add_option("--data", o.data,
                   "sim:PROFILE[:SEED] (the simulator as an unlimited source of fresh "
                   "subjects, e.g. sim:small:7), a simulator root (uses multicoil_train/ and "
                   "multicoil_val/) or a directory of fully sampled fastMRI training files "
                   "(required unless --dry-run)");
    app.add_option("--val-data", val,
                   "validation directory (default: <data>/multicoil_val for a simulator root; "
                   "OUT/sim_val/multicoil_val, simulated once, for sim: data)");
    app.add_option("--out", out, "output directory: checkpoint.pt, model.pt + model.json, "
                                 "history.json, curve.png (required unless --dry-run)");
    app.add_option("--accelerations", o.accelerations, "accelerations drawn per slice")
        ->delimiter(',')
        ->default_val(std::vector<double>{4, 8});
    app.add_option("--center-fractions", o.center_fractions,
                   "centre fractions (paired with --accelerations)")
        ->delimiter(',')
        ->default_val(std::vector<double>{0.08, 0.04});
    app.add_option("--mask-type", o.mask_type,
                   "random, equispaced, equispaced_fraction (the 2020 challenge masks), "
                   "magic, magic_fraction")
        ->default_val("equispaced_fraction");
    app.add_option("--epochs", o.epochs, "training epochs")->default_val(50);
    app.add_option("--epoch-steps", o.epoch_steps,
                   "sim: data: steps per epoch (validation and StepLR cadence; 0: the "
                   "profile's train split in slices)")
        ->default_val(0);
    app.add_option("--lr", o.lr, "learning rate (0: U-Net 1e-3 RMSprop, others 3e-4 Adam)")
        ->default_val(0.0);
    app.add_option("--lr-step-size", o.lr_step_size, "StepLR: epochs between decays")
        ->default_val(40);
    app.add_option("--lr-gamma", o.lr_gamma, "StepLR: decay factor")->default_val(0.1);
    app.add_option("--weight-decay", o.weight_decay, "optimiser weight decay")->default_val(0.0);
    app.add_option("--loss", o.loss, "l1 or ssim (default: l1 for unet as fastMRI, ssim "
                                     "for the others)")
        ->check(CLI::IsMember({"l1", "ssim"}));
    app.add_option("--chans", o.chans, "U-Net channels (0: U-Net 32, VarNet cascades 18, dualnet 8, jointicnet 16; "
                                       "recurrentvarnet: ConvGRU hidden channels, 16)")
        ->default_val(0);
    app.add_option("--pools", o.pools, "U-Net pooling levels")->default_val(4);
    app.add_option("--cascades", o.cascades,
                   "cascades / iterations of the k-space models (0: VarNet 12, dualnet 6, "
                   "recurrentvarnet 8, jointicnet 8)")
        ->default_val(0);
    app.add_option("--sens-chans", o.sens_chans, "VarNet sensitivity U-Net channels")
        ->default_val(8);
    app.add_option("--sens-pools", o.sens_pools, "VarNet sensitivity U-Net levels")
        ->default_val(4);
    app.add_option("--drop-prob", o.drop_prob, "Dropout2d probability")->default_val(0.0);
    app.add_option("--coils", o.virtual_coils,
                   "SVD coil compression to K virtual coils before the network, also at "
                   "reconstruction (0: all coils; default: unet all, others 8)");
    app.add_option("--readout-oversampling", o.readout_oversampling,
                   "readout brought to 1x (oversampling removed: half the pixels) or 2x the "
                   "recon width before the network (default: unet 2, others 1)")
        ->check(CLI::IsMember({1, 2}));
    app.add_option("--intensity-norm", o.intensity,
                   "1: k-space scaled to a common intensity before the network (default: "
                   "unet 0, others 1)")
        ->check(CLI::IsMember({0, 1}));
    app.add_option("--init-weights", init_weights,
                   "start from these weights (same parameter names and shapes, e.g. a varnet "
                   "for a varnet-grappa)");
    app.add_option("--seed", seed, "seed of weights, data order, simulated subjects and masks")
        ->default_val(42);
    app.add_flag("--resume", o.resume, "continue the checkpoint in --out");
    app.add_option("--time-limit", time_limit,
                   "stop after this long (e.g. 90m, 2h): checkpoint and weights are written "
                   "and --resume continues (0: no limit)")
        ->default_val("0");
    app.add_option("--max-steps", o.max_steps,
                   "stop when this many steps are done in total (checkpoint and weights "
                   "written; --resume with a larger value continues; 0: no limit)")
        ->default_val(0);
    app.add_option("--checkpoint-every", o.checkpoint_every,
                   "steps between checkpoints (also every --checkpoint-minutes, at every epoch "
                   "end, at the time limit and on SIGINT/SIGTERM)")
        ->default_val(100);
    app.add_option("--checkpoint-minutes", o.checkpoint_minutes,
                   "wall-clock minutes between checkpoints (0: off)")
        ->default_val(10);
    app.add_option("--data-threads", o.data_threads,
                   "background threads preparing samples (simulation, masks, GRAPPA); 0: on "
                   "the training thread")
        ->default_val(1);
    app.add_option("--prefetch", o.prefetch, "samples prepared ahead")->default_val(4);
    app.add_option("--sim-vendors", o.sim_vendors,
                   "sim: data: vendors drawn per volume (siemens, philips, ge; the challenge "
                   "trains on the main, Siemens-like data only)")
        ->delimiter(',')
        ->default_val(std::vector<std::string>{"siemens"});
    app.add_option("--sim-block", o.sim_block,
                   "sim: data: volumes simulated per block (slices are shuffled within it)")
        ->default_val(4);
    app.add_option("--sim-reuse", o.sim_reuse,
                   "sim: data: visits of each simulated slice, with fresh masks")
        ->default_val(1);
    app.add_option("--device", o.device, "cpu, cuda or cuda:N")->default_val("cpu");
    app.add_option("--max-train-slices", o.max_train_slices,
                   "train on a fixed seeded subset of this many slices (files; 0: all)")
        ->default_val(0);
    app.add_option("--max-val-files", o.max_val_files, "validate on the first N files (0: all)")
        ->default_val(0);
    app.add_option("--world-size", o.dist.world_size, "data-parallel processes (c10d Gloo)")
        ->default_val(1);
    app.add_option("--rank", o.dist.rank, "rank of this process in [0, world-size)")->default_val(0);
    app.add_option("--master-addr", o.dist.master_addr, "TCPStore host (rank 0 serves it)")
        ->default_val("127.0.0.1");
    app.add_option("--master-port", o.dist.master_port, "TCPStore port")->default_val(29500);
    app.add_option("--dist-file", dist_file,
                   "rendezvous through a FileStore at this path instead of TCP (shared "
                   "filesystem)");
  }

  int run() override {
    RB_CHECK(seed >= 0 && seed <= 0xffffffffLL, "--seed must be in [0, 2^32)");
    o.seed = static_cast<uint32_t>(seed);
    o.val_data = val;
    o.out = out;
    o.dist.dist_file = dist_file;
    o.init_weights = init_weights;
    o.time_limit_s = parse_duration(time_limit, "--time-limit");
    std::ostringstream cmd;
    cmd << "reconbench train --model " << o.model << " --data " << o.data << " --out " << out
        << " --epochs " << o.epochs << " --seed " << o.seed;
    if (o.epoch_steps) cmd << " --epoch-steps " << o.epoch_steps;
    if (o.chans) cmd << " --chans " << o.chans;
    if (o.model.rfind("unet", 0) != 0) {
      if (o.cascades) cmd << " --cascades " << o.cascades;
      cmd << " --sens-chans " << o.sens_chans;
    }
    if (o.pools != 4) cmd << " --pools " << o.pools;
    if (o.lr > 0) cmd << " --lr " << o.lr;
    if (o.lr_step_size != 40) cmd << " --lr-step-size " << o.lr_step_size;
    if (!o.loss.empty()) cmd << " --loss " << o.loss;
    if (o.virtual_coils >= 0) cmd << " --coils " << o.virtual_coils;
    if (o.readout_oversampling >= 0) cmd << " --readout-oversampling " << o.readout_oversampling;
    if (o.intensity >= 0) cmd << " --intensity-norm " << o.intensity;
    if (!init_weights.empty()) cmd << " --init-weights " << init_weights;
    if (o.sim_reuse != 1) cmd << " --sim-reuse " << o.sim_reuse;
    if (o.max_train_slices) cmd << " --max-train-slices " << o.max_train_slices;
    if (o.max_val_files) cmd << " --max-val-files " << o.max_val_files;
    o.command_line = cmd.str();
    auto r = rb::ml::module().train(o);
    if (o.dry_run) {
      std::printf("%s: %lld parameters, weights file %lld bytes (%.2f MB)\n", o.model.c_str(),
                  static_cast<long long>(r.parameters), static_cast<long long>(r.weights_bytes),
                  static_cast<double>(r.weights_bytes) / 1e6);
      return 0;
    }
    if (o.dist.rank == 0) {
      std::printf("weights: %s\n", r.weights.string().c_str());
      for (const auto& e : r.history)
        std::printf("epoch %d (step %lld): train loss %.5f, val SSIM %.4f (zero-filled %.4f, "
                    "GRAPPA %.4f), %.1f s\n", e.epoch, static_cast<long long>(e.step),
                    e.train_loss, e.val_ssim, e.val_ssim_zero_filled, e.val_ssim_grappa,
                    e.seconds);
      std::printf("%s after %lld steps (last loss %.6f)\n", r.finished ? "finished" : "stopped",
                  static_cast<long long>(r.steps), r.last_loss);
    }
    std::printf("parameter checksum (rank %d): %.9g\n", o.dist.rank, r.parameter_checksum);
    return 0;
  }
};

const rb::cli::Registrar reg(
    {"train", "train the U-Net, E2E-VarNet, their GRAPPA-initialised variants or the 2020 "
              "finalists' designs (LibTorch)",
     "Trains fastMRI's U-Net baseline (L1 on normalised zero-filled images, RMSprop), the "
     "End-to-End VarNet (SSIM loss, Adam) or the GRAPPA-initialised unet-grappa / "
     "varnet-grappa (SSIM loss) or a 2020 finalist's design (dualnet, dualnet-grappa, "
     "recurrentvarnet, jointicnet: SSIM loss, the VarNet's input format) with batch 1, drawing a fresh undersampling mask per step "
     "(fastMRI's training policy) and validating each epoch with per-file seeded masks "
     "(SSIM as evaluate.py, beside zero-filled and GRAPPA). Data: fully sampled files, or "
     "--data sim:PROFILE[:SEED], the simulator as an unlimited source of fresh subjects "
     "prepared on background threads. Every slice is brought to the model's input format "
     "(readout oversampling, virtual coils, intensity) exactly as `recon` does. "
     "Deterministic for a --seed; checkpoints are written atomically (every N steps or "
     "minutes, at --time-limit and on SIGINT/SIGTERM) and --resume continues bit-"
     "identically. The weights are OUT/model.pt with OUT/model.json describing the model for "
     "`recon --method KIND --weights OUT/model.pt`; OUT/curve.png plots validation SSIM "
     "against steps. Data parallel over processes with --world-size/--rank (c10d Gloo; rank "
     "0 serves a TCPStore at --master-addr).",
     {"reconbench train --model varnet-grappa --data sim:small:7 --cascades 4 --chans 12 "
      "--time-limit 2h --out runs/vg",
      "reconbench train --model varnet-grappa --data sim:small:7 --cascades 4 --chans 12 "
      "--time-limit 2h --out runs/vg --resume",
      "reconbench train --model unet --data sim --chans 16 --epochs 10 --out runs/unet",
      "reconbench train --model dualnet --dry-run",
      "reconbench train --model unet --data sim --world-size 2 --rank 1 --out runs/ddp"},
     60},
    [] { return std::make_unique<TrainCmd>(); });

}  // namespace
