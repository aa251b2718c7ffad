// The built-in challenge dataset: profiles, the per-file plan and the writer of the whole
// fastMRI-style layout (design/simulator.md; paper Table I, scaled).
//
//   OUT/manifest.json   the index of every file (sim/manifest.hpp)
//   OUT/multicoil_train/*.h5, OUT/multicoil_val/*.h5   fully sampled, Siemens-like
//   OUT/multicoil_test/*.h5, OUT/multicoil_challenge/*.h5   4X and 8X, masked
//   OUT/transfer_challenge/*.h5   4X, GE-like and Philips-like
//   OUT/ground_truth/<dir>/*.h5   hidden ground truth of the masked files
//   OUT/truth/<dir>/<name>_truth.h5, <name>_nolesion.h5   simulator side files
//   OUT/truth/annotations.csv     fastMRI+-style boxes: file,slice,study_level,x,y,width,height,label
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "reconbench/sim/manifest.hpp"
#include "reconbench/sim/volume.hpp"

namespace rb::sim {

inline constexpr const char* kSimulatorVersion = "reconbench-sim-3";  // 2: issue 17 realism; 3: SNR per contrast

struct Profile {
  std::string name;
  int recon = 320;             // recon matrix (square); Siemens/Philips readout = 2 x recon
  int fine = 2;                // fine-grid factor
  int profile_samples = 7;     // through-plane samples
  int slices_min = 12, slices_max = 16;
  int coils_min = 8, coils_max = 24;  // Siemens; Philips up to +8, GE up to +12 (max 32)
  int train = 40, val = 10, test_per_track = 10, challenge_per_track = 10;
  int transfer_ge = 8, transfer_philips = 8;
  double lesion_fraction = 0.4;
  double padded_fraction = 0.3;  // share of files with phase resolution < 100 %
};

// "ci", "small", "full"; UserError on other names (naming --profile).
Profile make_profile(const std::string& name);

struct FilePlan {
  VolumeSpec spec;
  std::string split;   // train, val, test, challenge, transfer
  std::string dir;     // multicoil_train, ..., transfer_challenge
  std::string track;   // "" for train/val
  int acceleration = 0;  // 0 for fully sampled files
  std::string patient_id;
};

// The deterministic list of files of a profile and seed (splits: empty = all).
std::vector<FilePlan> plan_dataset(const Profile& profile, uint64_t seed,
                                   const std::vector<std::string>& splits = {});

struct DatasetOptions {
  Profile profile;
  uint64_t seed = 0;
  std::filesystem::path out;
  std::vector<std::string> splits;   // empty = all
  std::filesystem::path template_dir = {};  // empty = default
  bool procedural = false;           // force the procedural phantom
  bool write_truth = true;
};

struct DatasetSummary {
  std::vector<FilePlan> files;
  double seconds = 0;
  std::string anatomy;
};

DatasetSummary simulate_dataset(const DatasetOptions& opts);

// Table-I-style summary (volumes and slices per split/track, contrast and vendor).
std::string summary_table(const std::vector<FilePlan>& files);

// Write one simulated volume into the layout (used by simulate_dataset and tests);
// returns the manifest entry.
ManifestFile write_volume(const std::filesystem::path& out, const FilePlan& plan,
                          SimulatedVolume& vol, bool write_truth);

}  // namespace rb::sim
