// `reconbench simulate --stats DIR`: the realism statistics (realism.hpp) of every fully
// sampled fastMRI file under DIR, per contrast and vendor, beside the ranges measured with
// the same code on public real multi-coil brain k-space (kRealRanges), flagging group
// medians outside them.
//
// Simulated datasets: the masked files of a vendor that has no fully sampled file in DIR
// (the Transfer split's GE-like and Philips-like files) are re-simulated in memory from the
// manifest's (profile, seed) plan, which is deterministic, to get their fully sampled
// k-space. Other masked files are skipped (listed in the report).
#pragma once

#include <array>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reconbench/sim/realism.hpp"

namespace rb::sim {

// Range of a statistic on real data: [lo, hi] over the per-file medians of the real files
// named in kRealSource (realism_report.cpp documents how each was measured).
struct RealRange {
  double lo = 0, hi = 0;
};
extern const std::array<RealRange, kNumStats> kRealRanges;
extern const char* const kRealSource;

struct FileRealism {
  std::string file;      // relative to the scanned directory
  std::string contrast;  // attrs["acquisition"]
  std::string vendor;    // siemens, philips, ge or unknown (from the ISMRMRD header)
  bool resimulated = false;
  std::vector<SliceRealism> slices;
  SliceRealism median() const;  // per statistic over slices (NaNs ignored)
};

struct RealismScan {
  std::vector<FileRealism> files;
  std::vector<std::string> skipped;  // "file: reason"
};

// Every *.h5 under dir (recursive, sorted; truth/ and ground_truth/ excluded). UserError
// naming dir if it is not a directory or holds no analysable file. Progress per file on
// stderr (core/progress.hpp).
RealismScan scan_realism(const std::filesystem::path& dir);

struct RealismGroup {
  std::string contrast, vendor;
  int files = 0, slices = 0;
  SliceRealism median;                  // median over the group's slices
  std::array<bool, kNumStats> outside{};  // median outside kRealRanges
};
// One group per (contrast, vendor), sorted, plus (contrast, "all") when there are several
// vendors.
std::vector<RealismGroup> group_realism(const std::vector<FileRealism>& files);

// Text table (ranges, then one row per group, '!' after values outside) and JSON
// {"source", "ranges", "groups", "files", "skipped"}.
std::string realism_table(const RealismScan& scan);
nlohmann::json realism_json(const RealismScan& scan);

// Vendor name of an ISMRMRD systemVendor string: siemens, philips, ge or unknown.
std::string vendor_of(const std::string& system_vendor);

}  // namespace rb::sim
