#include "reconbench/challenge/tracks.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "reconbench/challenge/crypto.hpp"
#include "reconbench/core/error.hpp"
#include "reconbench/core/fs.hpp"

namespace rb::challenge {

const std::vector<Track>& all_tracks() {
  static const std::vector<Track> tracks = {
      {"multicoil_4x", "Multi-Coil 4X", 4, false},
      {"multicoil_8x", "Multi-Coil 8X", 8, false},
      {"transfer_4x", "Transfer 4X", 4, true},
  };
  return tracks;
}

const Track& find_track(const std::string& name) {
  for (const auto& t : all_tracks())
    if (t.name == name) return t;
  throw UserError("unknown track '" + name +
                  "' (valid: multicoil_4x, multicoil_8x, transfer_4x)");
}

const std::vector<PhaseDef>& all_phases() {
  static const std::vector<PhaseDef> phases = {{"test", false}, {"challenge", true}};
  return phases;
}

std::string phase_split(const std::string& phase, const Track& track) {
  if (phase == "test") return track.transfer ? "" : "multicoil_test";
  if (phase == "challenge") return track.transfer ? "transfer_challenge" : "multicoil_challenge";
  throw UserError("unknown phase '" + phase + "' (valid: test, challenge)");
}

namespace {
template <class T>
T get_or(const nlohmann::json& j, const char* key, T def) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  return it->get<T>();
}
}  // namespace

Manifest load_manifest(const std::filesystem::path& data_dir) {
  const auto path = data_dir / "manifest.json";
  RB_CHECK(std::filesystem::is_regular_file(path), path.string(),
           ": no manifest (is --data a directory written by `reconbench simulate`?)");
  std::string text = read_file(path);
  Manifest m;
  m.root = data_dir;
  m.hash = sha256_hex(text);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    throw UserError(path.string() + ": not valid JSON: " + e.what());
  }
  RB_CHECK(j.is_object() && j.contains("files") && j["files"].is_array(), path.string(),
           ": expected an object with a \"files\" array");
  m.seed = get_or<uint64_t>(j, "seed", 0);
  m.profile = get_or<std::string>(j, "profile", "");
  size_t idx = 0;
  for (const auto& f : j["files"]) {
    try {
      ManifestFile e;
      e.file = f.at("file").get<std::string>();
      e.name = std::filesystem::path(e.file).filename().string();
      // The split is the file's directory (multicoil_test, multicoil_challenge,
      // transfer_challenge), which is what the challenge layout fixes; the manifest's "split"
      // field (short names like "test" in the simulator) is only the fallback.
      e.split = std::filesystem::path(e.file).parent_path().string();
      if (e.split.empty()) e.split = get_or<std::string>(f, "split", "");
      e.track = get_or<std::string>(f, "track", "");
      e.contrast = get_or<std::string>(f, "contrast", "");
      e.vendor = get_or<std::string>(f, "vendor", "");
      e.field_t = get_or<double>(f, "field_t", 0.0);
      e.coils = get_or<int64_t>(f, "coils", 0);
      e.slices = get_or<int64_t>(f, "slices", 0);
      if (f.contains("recon") && f["recon"].is_array() && f["recon"].size() == 2) {
        e.recon_h = f["recon"][0].get<int64_t>();
        e.recon_w = f["recon"][1].get<int64_t>();
      }
      e.acceleration = get_or<int64_t>(f, "acceleration", 0);
      if (f.contains("lesions") && f["lesions"].is_array()) {
        e.lesions = static_cast<int64_t>(f["lesions"].size());
        for (const auto& l : f["lesions"]) {
          if (e.lesion_slice >= 0 || !l.is_object() || !l.contains("slice_range")) continue;
          const auto& r = l["slice_range"];
          if (r.is_array() && r.size() == 2 && r[0].is_number_integer() && r[1].is_number_integer())
            e.lesion_slice = (r[0].get<int64_t>() + r[1].get<int64_t>()) / 2;
        }
      }
      e.ground_truth = get_or<std::string>(f, "ground_truth", "");
      m.files.push_back(std::move(e));
    } catch (const nlohmann::json::exception& ex) {
      throw UserError(path.string() + ": files[" + std::to_string(idx) + "]: " + ex.what());
    }
    ++idx;
  }
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

}  // namespace rb::challenge
