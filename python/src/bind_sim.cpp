// The simulator (sim/dataset.hpp, sim/volume.hpp) as a source of fresh training volumes.
//
// _simulate_volume(profile, seed, split, volume) -> the fully sampled fastMRI-format volume
// number `volume` of an unbounded stream per (profile, seed, split):
//   volume k < n (n = files of the split in plan_dataset(profile, seed)): exactly the file
//     `reconbench simulate --profile P --seed S` writes for that split (k-space before any
//     undersampling; for masked splits the hidden ground truth's reconstruction_rss);
//   volume k >= n: plan k mod n with fresh anatomy, coil, noise and sequence streams for
//     pass r = k div n (VolumeSpec subject and index + r * 2^32), file name "<name>_r<r>".
// reconbench/__init__.py turns volumes into fastMRI-style slice samples (simulate_slice,
// SimulatedSlices).
#include <pybind11/stl.h>

#include <cmath>

#include "common.hpp"
#include "reconbench/sim/dataset.hpp"

namespace rbpy {

namespace {

namespace sim = rb::sim;

sim::FilePlan stream_plan(const std::string& profile, uint64_t seed, const std::string& split,
                          uint64_t k) {
  const auto plans = sim::plan_dataset(sim::make_profile(profile), seed, {split});
  RB_CHECK(!plans.empty(), "simulate: profile ", profile, " has no files in split ", split);
  const uint64_t n = plans.size(), r = k / n;
  sim::FilePlan p = plans[k % n];
  if (r > 0) {
    p.spec.subject += r << 32;
    p.spec.index += r << 32;
    p.spec.name += "_r" + std::to_string(r);
  }
  return p;
}

py::dict simulate_volume(const std::string& profile, uint64_t seed, const std::string& split,
                         uint64_t k) {
  const sim::FilePlan plan = stream_plan(profile, seed, split, k);
  sim::SimulatedVolume v = run_released([&] {
    return sim::simulate_volume(plan.spec, sim::cached_atlas());
  });
  // attrs max and norm as write_volume (sim/dataset.cpp) stores them: max and L2 norm of
  // reconstruction_rss, in double.
  double mx = 0, ss = 0;
  for (float x : v.rss.flat()) {
    mx = std::max(mx, static_cast<double>(x));
    ss += static_cast<double>(x) * x;
  }
  const rb::IsmrmrdInfo& h = v.header;
  py::dict attrs;
  attrs["acquisition"] = plan.spec.acquisition;
  attrs["max"] = mx;
  attrs["norm"] = std::sqrt(ss);
  attrs["patient_id"] = plan.patient_id;
  py::dict meta;  // fastMRI SliceDataset's metadata of the header
  meta["padding_left"] = h.padding_left();
  meta["padding_right"] = h.padding_right();
  meta["encoding_size"] = py::make_tuple(h.enc_x, h.enc_y, h.enc_z);
  meta["recon_size"] = py::make_tuple(h.recon_x, h.recon_y, h.recon_z);
  py::dict d;
  d["fname"] = plan.spec.name + ".h5";
  d["kspace"] = to_numpy(std::move(v.kspace));
  d["reconstruction_rss"] = to_numpy(std::move(v.rss));
  d["ismrmrd_header"] = rb::make_ismrmrd_header(h);
  d["attrs"] = attrs;
  d["metadata"] = meta;
  d["vendor"] = sim::vendor_name(plan.spec.vendor);
  d["split"] = plan.split;
  d["lesions"] = v.lesions.size();
  return d;
}

}  // namespace

void bind_sim(py::module_& m) {
  using namespace pybind11::literals;
  // The "version" that `reconbench simulate` writes into manifest.json: it changes whenever
  // the same (profile, seed) gives different data.
  m.attr("simulator_version") = sim::kSimulatorVersion;
  m.def("_simulate_volume", &simulate_volume, "profile"_a, "seed"_a, "split"_a, "volume"_a,
        "Volume `volume` of the simulated stream (see simulate_slice); a dict with fname, "
        "kspace [slice coil read phase] (fully sampled), reconstruction_rss [slice y x], "
        "ismrmrd_header, attrs, metadata, vendor, split, lesions.");
}

}  // namespace rbpy
