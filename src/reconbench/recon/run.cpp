#include "reconbench/recon/run.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <tuple>

#include "reconbench/core/error.hpp"
#include "reconbench/core/parallel.hpp"
#include "reconbench/recon/threads.hpp"
#include "reconbench/sampling/masks.hpp"

namespace fs = std::filesystem;

namespace rb {

namespace {

// The mask every slice of `file` is reconstructed with: the file's (or all ones), columns
// outside the acquired range zeroed. Not used with opts.undersample (masked per slice).
std::vector<float> file_mask(const FastMriFile& file, const IsmrmrdInfo* header) {
  const int64_t w = file.phase();
  std::vector<float> mask(static_cast<size_t>(w), 1.f);
  if (file.has_mask()) mask = file.read_mask();
  const auto [l, r] = acquired_columns(header, w);
  for (int64_t j = 0; j < w; ++j)
    if (j < l || j >= r) mask[j] = 0;
  return mask;
}

}  // namespace

void check_reconstructable(const FastMriFile& file, const RunOptions& opts) {
  if (opts.undersample) {
    RB_CHECK(static_cast<int64_t>(opts.undersample->mask.size()) == file.phase(), file.path().string(),
             ": undersampling mask has ", opts.undersample->mask.size(), " columns, k-space ",
             file.phase());
    return;
  }
  RB_CHECK(file.has_mask() || opts.allow_fully_sampled, file.path().string(),
           ": no 'mask' dataset: not an undersampled test/challenge file (undersample it with "
           "`reconbench undersample`, or pass --allow-fully-sampled)");
  if (file.has_mask())
    for (float v : file.read_mask())
      RB_CHECK(std::isfinite(v), file.path().string(), ": mask has non-finite values");
}

Array<float> reconstruct_volume(const FastMriFile& file, const ReconMethod& method,
                                const RunOptions& opts) {
  check_reconstructable(file, opts);
  const int64_t S = file.num_slices(), H = file.readout(), W = file.phase();
  const IsmrmrdInfo* header = file.has_header() ? &file.header() : nullptr;
  auto [ch, cw] = fastmri_crop_size(header, H, W);
  if (opts.crop_h > 0 && opts.crop_w > 0) std::tie(ch, cw) = std::pair{opts.crop_h, opts.crop_w};
  const std::vector<float> mask = opts.undersample ? std::vector<float>() : file_mask(file, header);
  const auto [pl, pr] = acquired_columns(header, W);

  const int T = opts.threads > 0 ? opts.threads : num_threads();
  const bool par = method.parallel_slices() && T > 1 && S > 1;
  const int outer = par ? static_cast<int>(std::min<int64_t>(T, S)) : 1;
  const int inner = std::max(1, T / outer);
  Array<float> out({S, ch, cw});
  parallel_for(
      S,
      [&](int64_t s) {
        check_interrupted();
        recon::ScopedReconThreads scoped(inner);
        auto k = file.read_kspace_slice(s);
        SliceInput in;
        std::vector<float> applied;
        if (opts.undersample) {
          applied = apply_mask_inplace(k.view(), opts.undersample->mask, pl, pr);
          in.mask = applied;
          in.num_low_frequencies = opts.undersample->num_low_frequencies;
        } else {
          in.mask = mask;
          in.num_low_frequencies = file.num_low_frequency().value_or(0);
        }
        in.kspace = k.view();
        in.header = header;
        in.crop_h = ch;
        in.crop_w = cw;
        in.slice_index = s;
        auto img = method.reconstruct_slice(in);
        RB_ASSERT(img.ndim() == 2 && img.dim(0) == ch && img.dim(1) == cw, "method ",
                  method.name(), " returned ", shape_str(img.shape()), " for crop (", ch, ", ",
                  cw, ")");
        std::copy(img.vec().begin(), img.vec().end(), out.data() + s * ch * cw);
        if (opts.progress) opts.progress->tick(1, file.path().filename().string());
      },
      outer);
  return out;
}

void reconstruct_files(const std::vector<fs::path>& files, const ReconMethod& method,
                       const fs::path& out_dir, const RunOptions& opts, const std::string& label,
                       bool skip_existing) {
  std::map<std::string, std::string> seen;  // output names must be unique
  for (const auto& f : files) {
    auto [it, fresh] = seen.emplace(f.filename().string(), f.string());
    RB_CHECK(fresh, "inputs ", it->second, " and ", f.string(),
             " have the same file name; outputs would collide in ", out_dir.string());
  }
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  RB_CHECK(fs::is_directory(out_dir), out_dir.string(), ": cannot create directory (",
           ec.message(), ")");
  // Open and check everything first so that bad inputs fail before any work.
  std::vector<FastMriFile> handles;
  int64_t total_slices = 0;
  for (const auto& f : files) {
    handles.emplace_back(f);
    check_reconstructable(handles.back(), opts);
    total_slices += handles.back().num_slices();
  }
  Progress progress(label, total_slices, "slice");
  RunOptions o = opts;
  o.progress = &progress;
  for (const auto& h : handles) {
    const fs::path out = out_dir / h.path().filename();
    if (skip_existing && fs::exists(out)) {
      progress.tick(h.num_slices());
      continue;
    }
    write_reconstruction(out, reconstruct_volume(h, method, o), h.acquisition());
  }
  progress.done();
}

}  // namespace rb
