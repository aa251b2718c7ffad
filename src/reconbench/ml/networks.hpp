// The 2020 finalists' designs as k-space networks (models.hpp KspaceNetImpl), built from a
// ModelSpec: the one place where a finalist kind meets its module. Each architecture lives
// in its own file:
//   dualnet, dualnet-grappa   dual-domain cascades, AIRS Medical style (dualnet.hpp)
//   recurrentvarnet           recurrent VarNet with ConvGRU hidden state (rvarnet.hpp)
//   jointicnet                joint sensitivity/image refinement, ATB (jointicnet.hpp)
// The spec's generic sizes map to each: num_cascades = iterations, chans/pools = the
// regulariser U-Nets (recurrentvarnet: ConvGRU hidden channels / GRU layers),
// sens_chans/sens_pools = the sensitivity U-Net, mask_center.
//
// Sizes: the defaults (ModelSpec::defaults) are CPU-sized (weights well under 50 MB); the
// paper-size settings are listed in models/README.md.
//
// Includes torch: ml/ only.
#pragma once

#include <memory>

#include "reconbench/ml/models.hpp"
#include "reconbench/ml/spec.hpp"

namespace rb::ml {

// A freshly initialised network for a finalist kind (torch's RNG); asserts on other kinds.
std::shared_ptr<KspaceNetImpl> make_finalist_net(const ModelSpec& spec);

}  // namespace rb::ml
