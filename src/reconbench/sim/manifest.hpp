// DATA/manifest.json, the index of a challenge dataset: the one reader and writer. The
// simulator writes it (sim/dataset.cpp); the challenge (tracks, validation, scoring, reader
// study cases), `reconbench demo` and `reconbench render` read it. Layout:
//
//   {"seed", "profile", "version", "anatomy",
//    "files": [{"file": "multicoil_test/file_brain_AXT2_201_3000001.h5",
//               "split": "train"|"val"|"test"|"challenge"|"transfer",
//               "track": "multicoil_4x"|"multicoil_8x"|"transfer_4x"|null,
//               "contrast", "vendor": "siemens"|"philips"|"ge", "field_t", "coils",
//               "slices", "readout", "phase", "recon": [h, w], "acceleration": 4|8|null,
//               "lesions": [{"type", "slice_range": [first, last]|null,
//                            "box": [x, y, w, h]|null}],
//               "has_pair", "truth": "truth/<dir>/<name>_truth.h5"|null,
//               "nolesion": "truth/<dir>/<name>_nolesion.h5"|null,
//               "ground_truth": "ground_truth/<dir>/<name>.h5"|null, "patient_id", "snr"}]}
//
// Reading is lenient so that a hand-written manifest of real data works: only "files" and
// each entry's "file" are required; a missing or null field reads as empty / 0.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rb::sim {

struct ManifestLesion {
  std::string type;
  std::optional<std::array<int64_t, 2>> slice_range;  // first, last slice
  std::optional<std::array<int64_t, 4>> box;          // x, y, width, height
};

struct ManifestFile {
  std::string file;       // relative to DATA, e.g. "multicoil_challenge/x.h5"
  std::string name;       // base name, e.g. "x.h5" (the submission file name)
  std::string split;      // the file's directory, which the challenge layout fixes
                          // (multicoil_test, multicoil_challenge, transfer_challenge); the
                          // "split" field where the file has no directory
  std::string sim_split;  // the "split" field (simulator: train, val, test, challenge, transfer)
  std::string track;      // "" for null
  std::string contrast;   // acquisition, e.g. "AXT2"
  std::string vendor;
  std::string patient_id;
  double field_t = 0, snr = 0;
  int64_t coils = 0, slices = 0, readout = 0, phase = 0;
  int64_t recon_h = 0, recon_w = 0;
  int64_t acceleration = 0;                // 0 for null (fully sampled)
  std::vector<ManifestLesion> lesion_info;
  int64_t lesions = 0;                     // lesion_info.size()
  int64_t lesion_slice = -1;               // middle of the first lesion's slice_range (-1: none)
  bool has_pair = false;
  std::string truth, nolesion, ground_truth;  // relative to DATA; "" for null
};

struct Manifest {
  std::filesystem::path root;  // DATA
  uint64_t seed = 0;
  std::string profile, version, anatomy;
  std::vector<ManifestFile> files;
  std::string hash;  // sha256 of manifest.json: set by challenge::load_manifest (provenance
                     // of scores), empty from read_manifest
};

// DATA/manifest.json; UserError naming the file (and entry) when it is missing or malformed.
Manifest read_manifest(const std::filesystem::path& data_dir);
// The same from the file's text (`what` names it in errors).
Manifest parse_manifest(const std::string& text, const std::filesystem::path& data_dir,
                        const std::string& what);
// Fills the derived fields of an entry (name, split, lesions, lesion_slice) from the others.
void derive_fields(ManifestFile& f);

nlohmann::json to_json(const ManifestFile& f);
nlohmann::json to_json(const Manifest& m);
// DATA/manifest.json, atomically.
void write_manifest(const std::filesystem::path& data_dir, const Manifest& m);

}  // namespace rb::sim
