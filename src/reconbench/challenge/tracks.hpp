// Tracks, phases and their file lists, from the simulator's (or a real dataset's)
// DATA/manifest.json:
//
//   {"seed", "profile", "files": [{"file": "multicoil_challenge/x.h5", "split", "track",
//     "contrast", "vendor", "field_t", "coils", "slices", "recon": [h, w], "acceleration",
//     "lesions": [...], "ground_truth": "ground_truth/multicoil_challenge/x.h5"}, ...]}
//
// The 2020 challenge (paper §II): three tracks, Multi-Coil 4X and 8X on Siemens data, and
// Transfer 4X on GE/Philips data. Phases:
//   test       public leaderboard on multicoil_test (4X/8X tracks), per-case scores hidden
//              until the phase is closed
//   challenge  multicoil_challenge (4X/8X) and transfer_challenge (Transfer 4X); every score
//              hidden from participants until the organiser closes the phase
// A file belongs to track T of phase P when its split is P's split for T and its
// acceleration is T's (the manifest's "track" field, when present, must agree).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace rb::challenge {

struct Track {
  std::string name;      // "multicoil_4x" | "multicoil_8x" | "transfer_4x"
  std::string title;     // "Multi-Coil 4X"
  int acceleration = 0;  // 4 | 8
  bool transfer = false; // GE/Philips data
};
const std::vector<Track>& all_tracks();
// UserError listing the valid names.
const Track& find_track(const std::string& name);

struct PhaseDef {
  std::string name;          // "test" | "challenge"
  bool scores_hidden = false;  // aggregate scores hidden from participants until close
};
const std::vector<PhaseDef>& all_phases();
// The split whose files form track `track` in phase `phase` ("" when the phase has none).
std::string phase_split(const std::string& phase, const Track& track);

struct ManifestFile {
  std::string file;         // relative to DATA, e.g. "multicoil_challenge/x.h5"
  std::string name;         // base name, e.g. "x.h5" (the submission file name)
  std::string split;
  std::string track;        // "" for null
  std::string contrast;     // acquisition, e.g. "AXT2"
  std::string vendor;
  double field_t = 0;
  int64_t coils = 0, slices = 0;
  int64_t recon_h = 0, recon_w = 0;
  int64_t acceleration = 0;
  int64_t lesions = 0;      // number of simulated lesions (reader-study case selection)
  int64_t lesion_slice = -1;  // middle of the first lesion's "slice_range" (-1: none given)
  std::string ground_truth; // relative to DATA; "" when absent
};

struct Manifest {
  std::filesystem::path root;  // DATA
  uint64_t seed = 0;
  std::string profile;
  std::vector<ManifestFile> files;
  std::string hash;            // sha256 of manifest.json (provenance of scores)
};

// Reads DATA/manifest.json; UserError naming the file and entry on a malformed manifest.
Manifest load_manifest(const std::filesystem::path& data_dir);

// The files of a track in a phase, sorted by name.
std::vector<ManifestFile> track_files(const Manifest& m, const std::string& phase,
                                      const Track& track);

}  // namespace rb::challenge
