#include "reconbench/recon/run.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <tuple>

#include "reconbench/core/error.hpp"
#include "reconbench/core/parallel.hpp"
#include "reconbench/recon/threads.hpp"
#include "reconbench/sampling/masks.hpp"

namespace fs = std::filesystem;

namespace rb {


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

namespace {

// Slice s of a volume [coil read phase]: a view of memory, or of `storage` filled by a read.
using SliceReader = std::function<ArrayView<const cfloat>(int64_t s, Array<cfloat>& storage)>;

// The loop itself, over S slices of k-space [slice coil read phase] with H x W slices.
Array<float> run_slices(int64_t S, int64_t H, int64_t W, const SliceReader& read_slice,
                        const std::vector<float>& mask, int64_t num_low_frequency,
                        const IsmrmrdInfo* header, const std::string& note,
                        const ReconMethod& method, const RunOptions& opts) {
  auto [ch, cw] = fastmri_crop_size(header, H, W);
  if (opts.crop_h > 0 && opts.crop_w > 0) std::tie(ch, cw) = std::pair{opts.crop_h, opts.crop_w};
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
        Array<cfloat> storage;
        ArrayView<const cfloat> k = read_slice(s, storage);
        SliceInput in;
        std::vector<float> applied;
        if (opts.undersample) {
          if (storage.empty()) storage = Array<cfloat>::from_view(k);
          applied = apply_mask_inplace(storage.view(), opts.undersample->mask, pl, pr);
          k = storage.view();
          in.mask = applied;
          in.num_low_frequencies = opts.undersample->num_low_frequencies;
        } else {
          in.mask = mask;
          in.num_low_frequencies = num_low_frequency;
        }
        in.kspace = k;
        in.header = header;
        in.crop_h = ch;
        in.crop_w = cw;
        in.slice_index = s;
        auto img = method.reconstruct_slice(in);
        RB_ASSERT(img.ndim() == 2 && img.dim(0) == ch && img.dim(1) == cw, "method ",
                  method.name(), " returned ", shape_str(img.shape()), " for crop (", ch, ", ",
                  cw, ")");
        std::copy(img.vec().begin(), img.vec().end(), out.data() + s * ch * cw);
        if (opts.progress) opts.progress->tick(1, note);
      },
      outer);
  return out;
}

// `mask` with the columns outside the header's acquired range zeroed.
std::vector<float> acquired_mask(std::vector<float> mask, const IsmrmrdInfo* header) {
  const auto [l, r] = acquired_columns(header, static_cast<int64_t>(mask.size()));
  for (int64_t j = 0; j < static_cast<int64_t>(mask.size()); ++j)
    if (j < l || j >= r) mask[j] = 0;
  return mask;
}

}  // namespace

Array<float> reconstruct_volume(const FastMriFile& file, const ReconMethod& method,
                                const RunOptions& opts) {
  check_reconstructable(file, opts);
  const IsmrmrdInfo* header = file.has_header() ? &file.header() : nullptr;
  std::vector<float> mask;
  if (!opts.undersample)
    mask = acquired_mask(file.has_mask() ? file.read_mask()
                                         : std::vector<float>(static_cast<size_t>(file.phase()), 1.f),
                         header);
  return run_slices(
      file.num_slices(), file.readout(), file.phase(),
      [&](int64_t s, Array<cfloat>& storage) {
        storage = file.read_kspace_slice(s);
        return ArrayView<const cfloat>(storage.view());
      },
      mask, file.num_low_frequency().value_or(0), header, file.path().filename().string(),
      method, opts);
}

Array<float> reconstruct_volume(const KspaceVolume& v, const ReconMethod& method,
                                const RunOptions& opts) {
  RB_CHECK(v.kspace.ndim() == 4, v.name, ": k-space must be [slice coil read phase], got ",
           shape_str(v.kspace.shape()));
  const int64_t W = v.kspace.dim(3);
  if (opts.undersample)
    RB_CHECK(static_cast<int64_t>(opts.undersample->mask.size()) == W, v.name,
             ": undersampling mask has ", opts.undersample->mask.size(), " columns, k-space ", W);
  RB_CHECK(static_cast<int64_t>(v.mask.size()) == W, v.name, ": mask has ", v.mask.size(),
           " entries, k-space ", W, " phase-encode columns");
  for (float x : v.mask) RB_CHECK(std::isfinite(x), v.name, ": mask has non-finite values");
  return run_slices(
      v.kspace.dim(0), v.kspace.dim(2), W,
      [&](int64_t s, Array<cfloat>&) { return v.kspace(s); },
      opts.undersample ? std::vector<float>() : acquired_mask(v.mask, v.header),
      v.num_low_frequency, v.header, v.name, method, opts);
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
