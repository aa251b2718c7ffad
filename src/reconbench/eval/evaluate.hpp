// Evaluation of a directory of reconstructions against a directory of ground truth, as
// fastMRI's evaluate.py does (files matched by base name; filters on the GT attributes
// `acquisition` and `acceleration`), with the background-masked metrics, per-group
// summaries and every problem reported per file. `reconbench eval`, the challenge server's
// scoring workers and the report generator all call this.
//
// Files:
//   target      HDF5 with `reconstruction_rss` (fastMRI ground truth) or `reconstruction`,
//               float [slice y x]; attrs `acquisition`, `acceleration` (optional),
//               `ismrmrd_header` (optional; gives the vendor)
//   prediction  HDF5 with `reconstruction` float [slice y x]
//
// JSON layout (to_json), the contract with the server, report and demo:
//   {"volumes": [{"file", "acquisition", "acceleration" (int or null), "vendor", "slices",
//                 "crop", "data_range", "ssim", "psnr", "nmse", "mse", "ssim_masked",
//                 "psnr_masked", "nmse_masked", "mask_fraction", "ssim_per_slice": [...],
//                 "ssim_masked_per_slice": [...]}, ...],
//    "summary": {"all": GROUP, "by_acquisition": {"AXT2": GROUP, ...},
//                "by_acceleration": {"4": GROUP, ...}, "by_vendor": {...}},
//    "errors": [{"file", "kind", "reason"}, ...],
//    "spec": {"ssim", "psnr", "nmse", "crop", "mask_recipe", "quantile_interval",
//             "bootstrap", "version", "hash"}}
//   GROUP = {"n": volumes, "ssim": METRIC, "psnr": METRIC, "nmse": METRIC, "mse": METRIC,
//            "ssim_masked": METRIC, "psnr_masked": METRIC, "nmse_masked": METRIC}
//   METRIC = {"mean", "sd", "n", "quantile_interval": [lo, hi],
//             "bootstrap_ci": [lo, hi], "bootstrap": {"B", "seed"}}
// Non-finite numbers (undefined values, PSNR of identical volumes) are written as null.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reconbench/core/array.hpp"
#include "reconbench/eval/mask.hpp"
#include "reconbench/eval/metrics.hpp"
#include "reconbench/eval/stats.hpp"

namespace rb::eval {

inline constexpr const char* kEvalVersion = "reconbench-eval-1";

// A float volume and the attributes evaluation needs, read from one HDF5 file.
struct EvalInput {
  Array<float> volume;          // [slice y x]
  std::string key;              // dataset read
  std::string acquisition;      // "" if absent
  std::optional<int64_t> acceleration;
  std::string vendor;           // ISMRMRD systemVendor, "" if absent
};
// keys: tried in order (first present wins). UserError naming the file if none is present,
// the dataset is not a rank-3 float/integer array, or the file is not readable HDF5.
EvalInput read_eval_input(const std::filesystem::path& path,
                          const std::vector<std::string>& keys);
// Only the attributes (no volume read): for filtering before reading.
EvalInput read_eval_attrs(const std::filesystem::path& path);

// A read-only float volume that is either a memory map of the file or an owned copy.
class VolumeData {
 public:
  VolumeData() = default;
  explicit VolumeData(Array<float> owned);
  VolumeData(const void* map, size_t map_len, const float* data, Shape shape);
  VolumeData(VolumeData&& o) noexcept;
  VolumeData& operator=(VolumeData&& o) noexcept;
  VolumeData(const VolumeData&) = delete;
  VolumeData& operator=(const VolumeData&) = delete;
  ~VolumeData();
  ArrayView<const float> view() const { return {data_, shape_}; }
  bool mapped() const { return map_ != nullptr; }

 private:
  void release();
  Array<float> owned_;
  const void* map_ = nullptr;
  size_t map_len_ = 0;
  const float* data_ = nullptr;
  Shape shape_;
};

// read_eval_input without the copy where the file allows it: a contiguous, unfiltered,
// little-endian float32 dataset at a 4-byte-aligned offset is memory-mapped read-only
// (checked against H5Dread on its first and last rows); anything else (chunked, compressed,
// other types) is read with H5Dread and converted to float32. The same checks and errors
// as read_eval_input. The map is private and read-only; the file must not be truncated
// while the volume is in use.
struct EvalVolume {
  VolumeData volume;
  std::string key, acquisition, vendor;
  std::optional<int64_t> acceleration;
};
EvalVolume read_eval_volume(const std::filesystem::path& path,
                            const std::vector<std::string>& keys);

struct EvalOptions {
  std::vector<std::string> acquisitions;   // keep only these GT acquisitions (empty = all)
  std::optional<int64_t> acceleration;     // keep only this GT acceleration
  bool allow_missing = false;              // missing/extra predictions do not fail the run
  MetricOptions metrics;                   // metrics.masked is the masked variants
  ForegroundMaskOptions mask;
  BootstrapOptions bootstrap;
  bool progress = true;                    // rb::Progress over files
  // Called once per evaluated volume with its cropped data, e.g. for figures; may run
  // concurrently on worker threads (one call per file).
  std::function<void(const std::string& file, ArrayView<const float> target,
                     ArrayView<const float> prediction, const VolumeMetrics&)>
      on_volume;
};

struct VolumeResult {
  std::string file;           // base name
  std::string acquisition;
  std::optional<int64_t> acceleration;
  std::string vendor;
  VolumeMetrics metrics;
};

struct FileError {
  std::string file;
  std::string kind;    // "missing" | "extra" | "shape" | "nonfinite" | "unreadable" | "invalid"
  std::string reason;
};

struct GroupSummary {
  int64_t n = 0;
  Summary ssim, psnr, nmse, mse, ssim_masked, psnr_masked, nmse_masked;
};

struct EvalRun {
  std::vector<VolumeResult> volumes;   // sorted by file name
  std::vector<FileError> errors;       // sorted by file name
  GroupSummary all;
  std::vector<std::pair<std::string, GroupSummary>> by_acquisition, by_acceleration, by_vendor;
  EvalOptions options;
  bool failed() const;  // any error that is not allowed (see allow_missing)
};

// Evaluate every GT file (.h5) in target_dir against the same name in prediction_dir.
// Whole-run problems (a directory missing, no GT files) throw UserError; per-file problems
// land in EvalRun::errors. Volumes are evaluated in parallel (threads from opts.metrics),
// results are identical for any thread count.
EvalRun evaluate_directories(const std::filesystem::path& target_dir,
                             const std::filesystem::path& prediction_dir,
                             const EvalOptions& opts = {});

// Metrics of one GT/prediction file pair (the server's per-file scoring job).
VolumeResult evaluate_files(const std::filesystem::path& target_file,
                            const std::filesystem::path& prediction_file,
                            const EvalOptions& opts = {});

// Summaries from a set of volume results (group = all of them).
GroupSummary summarize_volumes(const std::vector<const VolumeResult*>& volumes,
                               const BootstrapOptions& opts);

// The metric specification and its hash (FNV-1a 64 of the spec text, hex).
nlohmann::json spec_json(const EvalOptions& opts = {});
std::string spec_hash(const EvalOptions& opts = {});

nlohmann::json to_json(const VolumeResult& v);
nlohmann::json to_json(const GroupSummary& g);
nlohmann::json to_json(const EvalRun& run);
// Human-readable per-volume table and summary tables (per group: mean, quantile interval
// of volumes, bootstrap CI of the mean).
std::string to_text(const EvalRun& run);
// One CSV row per volume (header first): file, acquisition, acceleration, vendor, slices,
// ssim, psnr, nmse, mse, ssim_masked, psnr_masked, nmse_masked, mask_fraction.
std::string to_csv(const EvalRun& run);

}  // namespace rb::eval
