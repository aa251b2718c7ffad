// reconbench convert-weights: fastMRI PyTorch state_dict -> reconbench weights (ml/infer.hpp,
// through the LibTorch module).
#include <cstdio>

#include "reconbench/cli/command.hpp"
#include "reconbench/ml/loader.hpp"

namespace {

struct ConvertCmd final : rb::cli::Command {
  std::string in, out, prefix;
  void declare(CLI::App& app) override {
    app.add_option("input", in, "state_dict saved by torch.save as a plain dict of tensors")
        ->required();
    app.add_option("--out", out, "output weights (.pt; the .json description is written "
                                 "beside it)")
        ->required();
    app.add_option("--strip-prefix", prefix,
                   "keep only keys with this prefix and remove it (Lightning checkpoints: "
                   "varnet. or unet.)");
  }
  int run() override {
    auto r = rb::ml::module().convert(in, out, prefix);
    std::printf("%s: %lld tensors, %lld parameters -> %s\n%s\n", r.model.c_str(),
                static_cast<long long>(r.tensors), static_cast<long long>(r.parameters),
                out.c_str(), r.spec_json.c_str());
    return 0;
  }
};

const rb::cli::Registrar reg(
    {"convert-weights", "import a fastMRI PyTorch U-Net/VarNet state_dict",
     "Reads a fastMRI U-Net or VarNet state_dict (same key names as fastmri/models; 324 "
     "tensors for the 12-cascade VarNet), infers the model sizes from the tensor shapes and "
     "writes reconbench weights (.pt + .json) for `recon --method unet|varnet --weights`. "
     "LibTorch cannot rebuild Python's OrderedDict, so save the state_dict as a plain dict "
     "first (Debian python3-torch): python3 -c \"import torch; torch.save(dict(torch.load("
     "'brain_leaderboard_state_dict.pt', map_location='cpu')), 'plain.pt')\". Lightning "
     "checkpoints ({'state_dict': ...}) work with --strip-prefix varnet.",
     {"reconbench convert-weights plain.pt --out models/varnet_brain.pt",
      "reconbench convert-weights ckpt_plain.pt --strip-prefix varnet. --out models/v.pt"},
     65},
    [] { return std::make_unique<ConvertCmd>(); });

}  // namespace
