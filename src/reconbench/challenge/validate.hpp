// The submission validator, one code path for `reconbench validate` (participant side,
// before upload) and the server (before a submission is queued or costs quota):
//
//   names      exactly the track's files (design §4.2): missing and unknown names are errors
//   structure  nothing that reads other files: external/soft links, virtual datasets and
//              external raw storage are refused before any data is read (io/hdf5.hpp;
//              kind "unsafe")
//   format     readable HDF5 with `reconstruction`, float32 (float64/int rejected: the
//              server stores and scores float32), rank 3 [slice y x]
//   shape      slice count = the manifest's slices, [y x] = the manifest's recon matrix
//   values     no NaN/Inf; negative values and an intensity scale far from the RSS range
//              (median-slice max outside [ref/10, 10 ref]) are warnings, not errors
//
// The reference scale (ScaleReference::zero_filled, the default) is the zero-filled RSS max of
// the middle slice of the public undersampled input k-space, which tracks the GT scale within
// a factor ~2 for 4X/8X masks. The server and `reconbench validate`/`submit` all use it, so a
// participant's validation report depends only on public data and the submission: a report
// computed from the hidden ground truth leaks it, if only by whether the scale warning fires
// (one bit per file and submission, enough to binary-search the hidden maximum).
// There is deliberately no ground-truth reference: the hidden data never enters a report.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reconbench/challenge/tracks.hpp"
#include "reconbench/core/array.hpp"

namespace rb::challenge {

struct ValidationIssue {
  std::string file;  // submission file name ("" for the submission as a whole)
  std::string kind;  // "missing" | "unknown" | "unsafe" | "unreadable" | "dtype" | "shape" |
                     // "nonfinite" | "scale" | "negative" | "empty"
  std::string reason;
};

struct ValidationReport {
  std::string track, phase;
  int64_t files_checked = 0;
  std::vector<ValidationIssue> errors, warnings;
  bool ok() const { return errors.empty(); }
};

enum class ScaleReference { none, zero_filled };

struct ValidationOptions {
  ScaleReference scale = ScaleReference::zero_filled;
  double scale_factor = 10.0;  // warn outside [ref / f, ref * f]
  int64_t max_issues = 50;     // stop listing after this many errors
  // Called with each submission file's name before it is opened (the sandboxed child
  // reports progress through it, so a crash is attributed to the file being read).
  std::function<void(const std::string&)> on_file;
  // Called with each file's name and its 'reconstruction' [slice y x] once that file has
  // passed every check (warnings allowed): the sandboxed child writes the canonical copy from
  // it (sandbox.hpp), so the volume is read once.
  std::function<void(const std::string&, const Array<float>&)> on_accepted;
};

// files: submission name -> path on disk (a directory listing or stored blobs).
ValidationReport validate_submission(const std::map<std::string, std::filesystem::path>& files,
                                     const Manifest& manifest, const std::string& phase,
                                     const Track& track, const ValidationOptions& opts = {});

// All *.h5 files directly inside dir (name -> path). UserError if dir is not a directory.
std::map<std::string, std::filesystem::path> list_submission_dir(const std::filesystem::path& dir);

nlohmann::json to_json(const ValidationReport& r);
std::string to_text(const ValidationReport& r);

// Zero-filled RSS max of the middle slice of a fastMRI k-space file, cropped to the recon
// matrix (the local scale reference).
double zero_filled_reference_max(const std::filesystem::path& kspace_file, int64_t recon_h,
                                 int64_t recon_w);

}  // namespace rb::challenge
