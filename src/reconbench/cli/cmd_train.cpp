// reconbench train: U-Net / E2E-VarNet training through LibTorch (ml/train.hpp).
#include <cstdio>
#include <sstream>

#include "reconbench/cli/command.hpp"
#include "reconbench/core/error.hpp"
#include "reconbench/ml/train.hpp"

namespace {

struct TrainCmd final : rb::cli::Command {
  rb::ml::TrainOptions o;
  std::string data, val, out, dist_file;
  int64_t seed = 42;

  void declare(CLI::App& app) override {
    app.add_option("--model", o.model, "unet (fastMRI U-Net baseline) or varnet (E2E-VarNet)")
        ->default_val("varnet")
        ->check(CLI::IsMember({"unet", "varnet"}));
    app.add_option("--data", data,
                   "simulator root (uses multicoil_train/ and multicoil_val/) or a directory "
                   "of fully sampled fastMRI training files")
        ->required();
    app.add_option("--val-data", val,
                   "validation directory (default: <data>/multicoil_val when --data is a "
                   "simulator root; none otherwise)");
    app.add_option("--out", out, "output directory: checkpoint.pt, model.pt + model.json, "
                                 "history.json")
        ->required();
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
    app.add_option("--lr", o.lr, "learning rate (0: U-Net 1e-3 RMSprop, VarNet 3e-4 Adam)")
        ->default_val(0.0);
    app.add_option("--lr-step-size", o.lr_step_size, "StepLR: epochs between decays")
        ->default_val(40);
    app.add_option("--lr-gamma", o.lr_gamma, "StepLR: decay factor")->default_val(0.1);
    app.add_option("--weight-decay", o.weight_decay, "optimiser weight decay")->default_val(0.0);
    app.add_option("--chans", o.chans, "U-Net channels (0: U-Net 32, VarNet cascades 18)")
        ->default_val(0);
    app.add_option("--pools", o.pools, "U-Net pooling levels")->default_val(4);
    app.add_option("--cascades", o.cascades, "VarNet cascades")->default_val(12);
    app.add_option("--sens-chans", o.sens_chans, "VarNet sensitivity U-Net channels")
        ->default_val(8);
    app.add_option("--sens-pools", o.sens_pools, "VarNet sensitivity U-Net levels")
        ->default_val(4);
    app.add_option("--drop-prob", o.drop_prob, "Dropout2d probability")->default_val(0.0);
    app.add_option("--seed", seed, "seed of weights, data order and training masks")
        ->default_val(42);
    app.add_flag("--resume", o.resume, "continue the checkpoint in --out");
    app.add_option("--device", o.device, "cpu, cuda or cuda:N")->default_val("cpu");
    app.add_option("--max-train-slices", o.max_train_slices,
                   "train on a fixed seeded subset of this many slices (0: all)")
        ->default_val(0);
    app.add_option("--max-val-files", o.max_val_files, "validate on the first N files (0: all)")
        ->default_val(0);
    app.add_option("--checkpoint-every", o.checkpoint_every,
                   "steps between checkpoints (also at every epoch end)")
        ->default_val(100);
    app.add_option("--world-size", o.world_size, "data-parallel processes (c10d Gloo)")
        ->default_val(1);
    app.add_option("--rank", o.rank, "rank of this process in [0, world-size)")->default_val(0);
    app.add_option("--master-addr", o.master_addr, "TCPStore host (rank 0 serves it)")
        ->default_val("127.0.0.1");
    app.add_option("--master-port", o.master_port, "TCPStore port")->default_val(29500);
    app.add_option("--dist-file", dist_file,
                   "rendezvous through a FileStore at this path instead of TCP (shared "
                   "filesystem)");
  }

  int run() override {
    RB_CHECK(seed >= 0 && seed <= 0xffffffffLL, "--seed must be in [0, 2^32)");
    o.seed = static_cast<uint32_t>(seed);
    o.data = data;
    o.val_data = val;
    o.out = out;
    o.dist_file = dist_file;
    std::ostringstream cmd;
    cmd << "reconbench train --model " << o.model << " --data " << data << " --out " << out
        << " --epochs " << o.epochs << " --seed " << o.seed;
    if (o.chans) cmd << " --chans " << o.chans;
    if (o.model == "varnet")
      cmd << " --cascades " << o.cascades << " --sens-chans " << o.sens_chans;
    if (o.pools != 4) cmd << " --pools " << o.pools;
    if (o.lr > 0) cmd << " --lr " << o.lr;
    if (o.max_train_slices) cmd << " --max-train-slices " << o.max_train_slices;
    if (o.max_val_files) cmd << " --max-val-files " << o.max_val_files;
    o.command_line = cmd.str();
    auto r = rb::ml::train_model(o);
    if (o.rank == 0) {
      std::printf("weights: %s\n", r.weights.string().c_str());
      for (const auto& e : r.history)
        std::printf("epoch %d: train loss %.5f, val SSIM %.4f (zero-filled %.4f), %.1f s\n",
                    e.epoch, e.train_loss, e.val_ssim, e.val_ssim_zero_filled, e.seconds);
    }
    std::printf("parameter checksum (rank %d): %.9g\n", o.rank, r.parameter_checksum);
    return 0;
  }
};

const rb::cli::Registrar reg(
    {"train", "train the U-Net or E2E-VarNet on fastMRI-format data (LibTorch)",
     "Trains fastMRI's U-Net baseline (L1 on normalised zero-filled images, RMSprop) or the "
     "End-to-End VarNet (SSIM loss, Adam) with batch 1 on fully sampled training files, "
     "drawing a fresh undersampling mask per slice (fastMRI's training policy) and validating "
     "each epoch with per-file seeded masks (SSIM as evaluate.py, beside zero-filled). "
     "Deterministic for a --seed; checkpoints are written atomically and --resume continues "
     "exactly. The final weights are OUT/model.pt with OUT/model.json describing the model "
     "for `recon --method unet|varnet --weights OUT/model.pt`. Data parallel over processes "
     "with --world-size/--rank (c10d Gloo; rank 0 serves a TCPStore at --master-addr).",
     {"reconbench train --model varnet --data sim --cascades 4 --chans 8 --epochs 5 --out runs/varnet",
      "reconbench train --model unet --data sim --chans 16 --epochs 10 --out runs/unet --resume",
      "reconbench train --model unet --data sim --world-size 2 --rank 1 --out runs/ddp"},
     60},
    [] { return std::make_unique<TrainCmd>(); });

}  // namespace
