// reconbench recon: test/challenge-style fastMRI files -> fastMRI reconstruction files.
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>

#include "reconbench/cli/command.hpp"
#include "reconbench/core/error.hpp"
#include "reconbench/core/fs.hpp"
#include "reconbench/core/parallel.hpp"
#include "reconbench/core/progress.hpp"
#include "reconbench/io/fastmri.hpp"
#include "reconbench/ml/register.hpp"
#include "reconbench/recon/method.hpp"
#include "reconbench/recon/threads.hpp"

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
                   "cs-wavelet, cs-tv, and the learned unet, varnet")
        ->default_val("zero-filled");
    app.add_option("--out,-o", out_dir, "output directory (created; same file names as the inputs)");
    app.add_option("--weights", weights, "model weights for learned methods");
    app.add_option("--param,-p", params,
                   "method parameter key=value (repeatable), e.g. lambda=0.005, maps=2, "
                   "normalize=1; see --list-methods")
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
    rb::register_ml_methods();
    if (list) {
      for (const auto& [n, h] : rb::recon_method_names()) std::cout << n << "\n    " << h << "\n";
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
    auto m = rb::make_recon_method(method, cfg);
    auto files = rb::list_inputs(inputs, ".h5");
    std::error_code ec;
    fs::create_directories(out_dir, ec);
    RB_CHECK(fs::is_directory(out_dir), "--out ", out_dir, ": cannot create directory (",
             ec.message(), ")");
    // Output names must be unique (inputs from several directories).
    std::map<std::string, std::string> seen;
    for (const auto& f : files) {
      auto [it, fresh] = seen.emplace(f.filename().string(), f.string());
      RB_CHECK(fresh, "inputs ", it->second, " and ", f.string(),
               " have the same file name; outputs would collide in ", out_dir);
    }
    // Scale-out: file i goes to rank i % size.
    auto [rank, size] = mpi_rank_size();
    std::vector<fs::path> mine;
    for (size_t i = 0; i < files.size(); ++i)
      if (static_cast<int>(i % size) == rank) mine.push_back(files[i]);

    // Open everything first so that bad inputs fail before any work.
    std::vector<rb::FastMriFile> handles;
    int64_t total_slices = 0;
    for (const auto& f : mine) {
      handles.emplace_back(f);
      const auto& h = handles.back();
      RB_CHECK(h.has_mask() || allow_full, f.string(),
               ": no 'mask' dataset: not an undersampled test/challenge file (undersample it "
               "with `reconbench undersample`, or pass --allow-fully-sampled)");
      total_slices += h.num_slices();
    }
    std::string label = "recon " + method;
    if (size > 1) label += " [rank " + std::to_string(rank) + "/" + std::to_string(size) + "]";
    rb::Progress progress(label, total_slices, "slice");
    const int T = rb::num_threads();
    for (auto& h : handles) {
      const int64_t S = h.num_slices(), W = h.phase(), H = h.readout();
      std::vector<float> mask(static_cast<size_t>(W), 1.f);
      if (h.has_mask()) {
        mask = h.read_mask();
        for (float v : mask)
          RB_CHECK(std::isfinite(v), h.path().string(), ": mask has non-finite values");
      }
      const rb::IsmrmrdInfo* hdr = h.has_header() ? &h.header() : nullptr;
      if (hdr) {
        // fastMRI: acquired phase columns are [padding_left, padding_right).
        const int64_t pl = hdr->padding_left(), pr = hdr->padding_right();
        if (pl >= 0 && pr <= W && pl < pr)
          for (int64_t j = 0; j < W; ++j)
            if (j < pl || j >= pr) mask[j] = 0;
      }
      auto [ch, cw] = rb::fastmri_crop_size(hdr, H, W);
      rb::Array<float> recon({S, ch, cw});
      const bool par = m->parallel_slices() && T > 1 && S > 1;
      const int outer = par ? static_cast<int>(std::min<int64_t>(T, S)) : 1;
      const int inner = std::max(1, T / outer);
      rb::parallel_for(
          S,
          [&](int64_t s) {
            rb::check_interrupted();
            rb::recon::ScopedReconThreads scoped(inner);
            auto k = h.read_kspace_slice(s);
            rb::SliceInput in;
            in.kspace = k.view();
            in.mask = mask;
            in.num_low_frequencies = h.num_low_frequency().value_or(0);
            in.acceleration = static_cast<double>(h.acceleration().value_or(0));
            in.header = hdr;
            in.crop_h = ch;
            in.crop_w = cw;
            in.slice_index = s;
            auto img = m->reconstruct_slice(in);
            RB_ASSERT(img.ndim() == 2 && img.dim(0) == ch && img.dim(1) == cw, "method ", method,
                      " returned ", rb::shape_str(img.shape()), " for crop (", ch, ", ", cw, ")");
            std::copy(img.vec().begin(), img.vec().end(), recon.data() + s * ch * cw);
            progress.tick();
          },
          outer);
      rb::write_reconstruction(fs::path(out_dir) / h.path().filename(), recon, h.acquisition());
    }
    progress.done();
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
     "L1-Daubechies-2), cs-tv (ADMM TV), and learned unet/varnet (--weights); method "
     "parameters via --param key=value (--list-methods). Slices run in parallel. Under "
     "`mpirun -n N` the files are sharded across ranks (file i -> rank i mod N, from "
     "OMPI_COMM_WORLD_RANK/SIZE or PMI_RANK/SIZE); no other change is needed.",
     {"reconbench recon --method zero-filled data/test_4x --out recon/zf",
      "reconbench recon --method cs-wavelet -p lambda=0.005 -p iter=50 data/test_4x --out recon/cs",
      "mpirun -n 4 reconbench recon --method sense data/test_4x --out recon/sense"},
     30},
    [] { return std::make_unique<ReconCmd>(); });

}  // namespace
