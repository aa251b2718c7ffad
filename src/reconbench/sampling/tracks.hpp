// The challenge's tracks (paper §II): one table that the simulator (which files are masked
// how), the challenge (which files form a track, its name on the server) and the report
// (titles, order of sections) all read. Masks are fastMRI's EquispacedMaskFractionFunc with
// the track's acceleration and fully sampled centre fraction.
#pragma once

#include <string>
#include <vector>

#include "reconbench/sampling/masks.hpp"

namespace rb {

struct Track {
  std::string name;            // "multicoil_4x" | "multicoil_8x" | "transfer_4x"
  std::string title;           // "Multi-Coil 4X"
  int acceleration = 0;        // 4 | 8
  double center_fraction = 0;  // 0.08 at 4X, 0.04 at 8X
  bool transfer = false;       // GE/Philips data; models are trained on the Siemens data only
};

// In the paper's order: Multi-Coil 4X, Multi-Coil 8X, Transfer 4X.
const std::vector<Track>& all_tracks();
// UserError listing the valid names.
const Track& find_track(const std::string& name);
// The track's mask function options (equispaced fraction, its acceleration and centre).
MaskFuncOptions track_mask_options(const Track& track);

}  // namespace rb
