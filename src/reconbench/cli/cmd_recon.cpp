// reconbench recon: test/challenge-style fastMRI files -> fastMRI reconstruction files.
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "reconbench/cli/command.hpp"
#include "reconbench/core/error.hpp"
#include "reconbench/core/fs.hpp"
#include "reconbench/core/parallel.hpp"
#include "reconbench/ml/loader.hpp"
#include "reconbench/recon/method.hpp"
#include "reconbench/recon/run.hpp"

namespace fs = std::filesystem;

namespace {

// MPI rank/size from the launcher's environment (OpenMPI, MPICH/PMI); no MPI linking.
std::pair<int, int> mpi_rank_size() {
  auto env_int = [](const char* name) -> int {
    const char* v = std::getenv(name);
    return v ? std::atoi(v) : -1;
  };
  for (auto [r, s] : {std::pair{"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"},
                      std::pair{"PMI_RANK", "PMI_SIZE"}, std::pair{"PMIX_RANK", "PMIX_SIZE"}}) {
    const int rank = env_int(r), size = env_int(s);
    if (rank >= 0 && size >= 1 && rank < size) return {rank, size};
  }
  return {0, 1};
}

struct ReconCmd final : rb::cli::Command {
  std::string method;
  std::vector<std::string> inputs;
  std::string out_dir;
  std::string weights;
  std::vector<std::string> params;
  int threads = 0;
  bool list = false;
  bool allow_full = false;

  void declare(CLI::App& app) override {
    app.add_option("inputs", inputs, "test/challenge-style fastMRI .h5 files or directories");
    app.add_option("--method,-m", method,
                   "reconstruction method (see --list-methods): zero-filled, grappa, sense, "
                   "cs-wavelet, cs-tv, and the learned unet, varnet, unet-grappa, varnet-grappa, "
                   "dualnet, dualnet-grappa, recurrentvarnet, jointicnet")
        ->default_val("zero-filled");
    app.add_option("--out,-o", out_dir, "output directory (created; same file names as the inputs)");
    app.add_option("--weights", weights, "model weights for learned methods");
    app.add_option("--param,-p", params,
                   "method parameter key=value (repeatable), e.g. lambda=0.005, maps=2, "
                   "normalize=1; the keys of each method are listed below and by --list-methods")
        ->allow_extra_args(false);
    app.add_option("--threads", threads, "worker threads (default: the global --threads)")
        ->check(CLI::NonNegativeNumber);
    app.add_flag("--list-methods", list, "print the registered methods and their parameters");
    app.add_flag("--allow-fully-sampled", allow_full,
                 "accept files without a `mask` (fully sampled k-space; the mask is taken as "
                 "all ones)");
  }

  int run() override {
    rb::register_classical_methods();
    rb::ml::register_learned_methods();
    if (list) {
      std::cout << rb::recon_method_reference();
      return 0;
    }
    RB_CHECK(!inputs.empty(), "recon: no input files given (reconbench recon --method NAME IN... --out DIR)");
    RB_CHECK(!out_dir.empty(), "recon: --out DIR is required");
    if (threads > 0) rb::set_num_threads(threads);
    rb::ReconMethodConfig cfg;
    cfg.weights = weights;
    for (const auto& kv : params) {
      auto eq = kv.find('=');
      RB_CHECK(eq != std::string::npos && eq > 0, "--param ", kv, ": expected key=value");
      cfg.params[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    rb::check_recon_params(method, cfg.params);
    auto m = rb::make_recon_method(method, cfg);
    auto files = rb::list_inputs(inputs, ".h5");
    // Scale-out: file i goes to rank i % size.
    auto [rank, size] = mpi_rank_size();
    std::vector<fs::path> mine;
    for (size_t i = 0; i < files.size(); ++i)
      if (static_cast<int>(i % size) == rank) mine.push_back(files[i]);
    std::string label = "recon " + method;
    if (size > 1) label += " [rank " + std::to_string(rank) + "/" + std::to_string(size) + "]";
    rb::RunOptions ro;
    ro.allow_fully_sampled = allow_full;
    rb::reconstruct_files(mine, *m, out_dir, ro, label);
    if (size > 1 || !mine.empty())
      std::cerr << "recon: wrote " << mine.size() << " file(s) to " << out_dir
                << (size > 1 ? " (rank " + std::to_string(rank) + " of " + std::to_string(size) + ")" : "")
                << "\n";
    return 0;
  }
};

const rb::cli::Registrar reg(
    {"recon", "reconstruct undersampled fastMRI files (zero-filled, GRAPPA, SENSE, CS, learned)",
     "Reads test/challenge-style fastMRI files (undersampled `kspace`, `mask`, ISMRMRD header) "
     "and writes fastMRI reconstruction files with the same names: `reconstruction` float32 "
     "(slices, h, w) cropped to the header's reconSpace (320x320 for brain) with fastMRI's "
     "FLAIR-203 rule, plus the `acquisition` attribute. Methods: zero-filled (RSS), grappa "
     "(one kernel per sampling geometry), sense (ESPIRiT + CG), cs-wavelet (FISTA "
     "L1-Daubechies-2), cs-tv (ADMM TV), and learned unet, varnet, unet-grappa, "
     "varnet-grappa (shipped weights or --weights) and the 2020 finalists' designs dualnet, "
     "dualnet-grappa, recurrentvarnet, jointicnet (--weights from `train`); method parameters via --param "
     "key=value (--list-methods). Slices run in parallel. Under "
     "`mpirun -n N` the files are sharded across ranks (file i -> rank i mod N, from "
     "OMPI_COMM_WORLD_RANK/SIZE or PMI_RANK/SIZE); no other change is needed.",
     {"reconbench recon --method zero-filled data/test_4x --out recon/zf",
      "reconbench recon --method cs-wavelet -p lambda=0.005 -p iter=50 data/test_4x --out recon/cs",
      "mpirun -n 4 reconbench recon --method sense data/test_4x --out recon/sense"},
     30},
    [] { return std::make_unique<ReconCmd>(); },
    [] {
      rb::register_classical_methods();
      rb::ml::register_learned_methods();
      return rb::recon_method_reference();
    });

}  // namespace
