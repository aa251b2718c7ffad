// FFT + RSS of one 16-coil 640x320 fastMRI brain slice (issue 2 benchmark), in process:
// ifft2c over all coils, then RSS over coils. Compared with numpy and `bart fft`+`bart rss`
// by bench/run.sh in the same run.
#include <benchmark/benchmark.h>

#include <random>

#include "reconbench/core/parallel.hpp"
#include "reconbench/fft/fft.hpp"
#include "reconbench/fft/transforms.hpp"

namespace {

rb::Array<rb::cfloat> make_slice(int64_t coils, int64_t h, int64_t w) {
  std::mt19937 g(1);
  std::normal_distribution<float> n;
  rb::Array<rb::cfloat> k({coils, h, w});
  for (auto& v : k.flat()) v = {n(g), n(g)};
  return k;
}

void BM_Ifft2cRss(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  auto k = make_slice(16, 640, 320);
  rb::Array<rb::cfloat> work = k;
  for (auto _ : state) {
    std::copy(k.data(), k.data() + k.size(), work.data());
    // Coils in parallel: each coil image is an independent transform.
    rb::parallel_for(16, [&](int64_t c) { rb::ifft2c(work(c)); }, threads);
    auto img = rb::rss(work.view());
    benchmark::DoNotOptimize(img.data());
  }
  state.SetLabel("16x640x320 complex64, threads=" + std::to_string(threads));
}
BENCHMARK(BM_Ifft2cRss)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->MinTime(1.0);

}  // namespace

BENCHMARK_MAIN();
