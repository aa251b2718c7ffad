#include "reconbench/challenge/tracks.hpp"

#include <algorithm>

#include "reconbench/challenge/crypto.hpp"
#include "reconbench/core/error.hpp"
#include "reconbench/core/fs.hpp"

namespace rb::challenge {

const std::vector<PhaseDef>& all_phases() {
  static const std::vector<PhaseDef> phases = {{"test", false}, {"challenge", true}};
  return phases;
}

bool is_phase(const std::string& name) {
  for (const auto& p : all_phases())
    if (p.name == name) return true;
  return false;
}

std::string phase_split(const std::string& phase, const Track& track) {
  if (phase == "test") return track.transfer ? "" : "multicoil_test";
  if (phase == "challenge") return track.transfer ? "transfer_challenge" : "multicoil_challenge";
  throw UserError("unknown phase '" + phase + "' (valid: test, challenge)");
}

Manifest load_manifest(const std::filesystem::path& data_dir) {
  const auto path = data_dir / "manifest.json";
  RB_CHECK(std::filesystem::is_regular_file(path), path.string(),
           ": no manifest (is --data a directory written by `reconbench simulate`?)");
  const std::string text = read_file(path);
  Manifest m = sim::parse_manifest(text, data_dir, path.string());
  m.hash = sha256_hex(text);
  return m;
}

std::vector<ManifestFile> track_files(const Manifest& m, const std::string& phase,
                                      const Track& track) {
  const std::string split = phase_split(phase, track);
  std::vector<ManifestFile> out;
  if (split.empty()) return out;
  for (const auto& f : m.files) {
    if (f.split != split || f.acceleration != track.acceleration) continue;
    if (!f.track.empty() && phase == "challenge" && f.track != track.name) continue;
    out.push_back(f);
  }
  std::sort(out.begin(), out.end(),
            [](const ManifestFile& a, const ManifestFile& b) { return a.name < b.name; });
  return out;
}

void link_ground_truth(const Manifest& m, const std::vector<ManifestFile>& files,
                       const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  for (const auto& f : files) {
    RB_CHECK(!f.ground_truth.empty(), (m.root / "manifest.json").string(), ": ", f.file,
             " has no ground_truth file");
    if (!std::filesystem::exists(dir / f.name))
      std::filesystem::create_symlink(std::filesystem::absolute(m.root / f.ground_truth), dir / f.name);
  }
}

}  // namespace rb::challenge
