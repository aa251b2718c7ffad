// Simulator benchmark: time per full-profile slice and per volume, and peak memory.
//
//   build-*/bench/bench_sim [--benchmark_filter=...]
//
// BM_SimulateFullSlice simulates one Siemens-like full-profile volume with a single slice
// (640 x 320 readout x phase, 16 coils, fine grid 1280 x 640, 7 through-plane samples);
// BM_SimulateFullVolume a 12-slice, 16-coil volume (state.counters: per_slice_s);
// BM_SimulateSmallSlices one slice of a 16-coil small-profile volume (384 x 192) by
// simulate_slices, the per-slice entry point of on-the-fly training data (a volume plan plus
// that slice). The Colin27 segmentation is done once, outside the timed region. Peak RSS
// (VmHWM) is reported as the counter peak_rss_mb.
#include <benchmark/benchmark.h>

#include <fstream>
#include <string>

#include "reconbench/sim/anatomy.hpp"
#include "reconbench/sim/dataset.hpp"
#include "reconbench/sim/volume.hpp"

namespace {

double peak_rss_mb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

rb::sim::VolumeSpec profile_spec(const char* profile, int slices) {
  const rb::sim::Profile p = rb::sim::make_profile(profile);
  rb::sim::VolumeSpec s;
  s.name = "file_brain_AXT2_201_0000001";
  s.seed = 1;
  s.index = 1;
  s.subject = 1;
  s.acquisition = "AXT2";
  s.vendor = rb::sim::Vendor::Siemens;
  s.field_t = 3;
  s.coils = 16;
  s.slices = slices;
  s.recon = p.recon;
  s.fine = p.fine;
  s.profile_samples = p.profile_samples;
  return s;
}
rb::sim::VolumeSpec full_spec(int slices) { return profile_spec("full", slices); }

void BM_SimulateFullSlice(benchmark::State& state) {
  const auto& atlas = rb::sim::cached_atlas();
  const auto spec = full_spec(1);
  for (auto _ : state) {
    auto v = rb::sim::simulate_volume(spec, atlas);
    benchmark::DoNotOptimize(v.kspace.data());
  }
  state.counters["peak_rss_mb"] = peak_rss_mb();
}
BENCHMARK(BM_SimulateFullSlice)->Unit(benchmark::kMillisecond)->Iterations(2);

void BM_SimulateFullVolume(benchmark::State& state) {
  const auto& atlas = rb::sim::cached_atlas();
  const auto spec = full_spec(12);
  for (auto _ : state) {
    auto v = rb::sim::simulate_volume(spec, atlas);
    benchmark::DoNotOptimize(v.kspace.data());
  }
  state.counters["per_slice_s"] =
      benchmark::Counter(12, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.counters["peak_rss_mb"] = peak_rss_mb();
}
BENCHMARK(BM_SimulateFullVolume)->Unit(benchmark::kMillisecond)->Iterations(1);

void BM_SimulateSmallSlices(benchmark::State& state) {
  const auto& atlas = rb::sim::cached_atlas();
  const auto spec = profile_spec("small", 8);
  for (auto _ : state) {
    auto v = rb::sim::simulate_slices(spec, atlas, {4});
    benchmark::DoNotOptimize(v.kspace.data());
  }
  state.counters["peak_rss_mb"] = peak_rss_mb();
}
BENCHMARK(BM_SimulateSmallSlices)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_SegmentColin27(benchmark::State& state) {
  for (auto _ : state) {
    auto a = rb::sim::segment_colin27(rb::sim::default_template_dir());
    benchmark::DoNotOptimize(&a);
  }
}
BENCHMARK(BM_SegmentColin27)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
