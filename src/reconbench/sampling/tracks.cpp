#include "reconbench/sampling/tracks.hpp"

#include "reconbench/core/error.hpp"

namespace rb {

const std::vector<Track>& all_tracks() {
  static const std::vector<Track> tracks = {
      {"multicoil_4x", "Multi-Coil 4X", 4, 0.08, false},
      {"multicoil_8x", "Multi-Coil 8X", 8, 0.04, false},
      {"transfer_4x", "Transfer 4X", 4, 0.08, true},
  };
  return tracks;
}

const Track& find_track(const std::string& name) {
  std::string valid;
  for (const auto& t : all_tracks()) {
    if (t.name == name) return t;
    valid += (valid.empty() ? "" : ", ") + t.name;
  }
  throw UserError("unknown track '" + name + "' (valid: " + valid + ")");
}

MaskFuncOptions track_mask_options(const Track& track) {
  MaskFuncOptions o;
  o.type = MaskType::EquispacedFraction;
  o.center_fractions = {track.center_fraction};
  o.accelerations = {static_cast<double>(track.acceleration)};
  return o;
}

}  // namespace rb
