// Tracks, phases and their file lists, from the simulator's (or a real dataset's)
// DATA/manifest.json (sim/manifest.hpp).
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

#include "reconbench/sampling/tracks.hpp"
#include "reconbench/sim/manifest.hpp"

namespace rb::challenge {

// The track table (sampling/tracks.hpp).
using ::rb::all_tracks;
using ::rb::find_track;
using ::rb::Track;

struct PhaseDef {
  std::string name;          // "test" | "challenge"
  bool scores_hidden = false;  // aggregate scores hidden from participants until close
};
const std::vector<PhaseDef>& all_phases();
bool is_phase(const std::string& name);  // one of all_phases()
// The split whose files form track `track` in phase `phase` ("" when the phase has none).
std::string phase_split(const std::string& phase, const Track& track);

// The dataset's manifest (sim/manifest.hpp).
using ManifestFile = ::rb::sim::ManifestFile;
using Manifest = ::rb::sim::Manifest;

// sim::read_manifest with Manifest::hash set (sha256 of the file, the provenance of scores).
Manifest load_manifest(const std::filesystem::path& data_dir);

// The files of a track in a phase, sorted by name.
std::vector<ManifestFile> track_files(const Manifest& m, const std::string& phase,
                                      const Track& track);

// `dir` filled with links, named as the submission files, to the hidden ground truth of
// `files` (for eval::evaluate_directories); UserError naming a file without ground truth.
void link_ground_truth(const Manifest& m, const std::vector<ManifestFile>& files,
                       const std::filesystem::path& dir);

}  // namespace rb::challenge
