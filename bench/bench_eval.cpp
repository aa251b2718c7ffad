// Evaluation metrics of one 16x320x320 brain volume (issue 4 benchmark), in process:
//   BM_SsimVolume      fastMRI SSIM (mean over slices of skimage-default SSIM), the part
//                      that dominates evaluate.py; its peer is bench/eval_peer.py --ssim-only
//   BM_EvaluateVolume  SSIM + PSNR + NMSE + MSE as evaluate.py (unmasked)
//   BM_EvaluateMasked  the same plus the foreground mask and the masked variants
//   BM_ForegroundMask  the mask recipe alone
// Argument = threads. The data is a synthetic head in chi-distributed RSS-like noise (the
// work per voxel does not depend on the values).
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>

#include "reconbench/core/parallel.hpp"
#include "reconbench/eval/mask.hpp"
#include "reconbench/eval/metrics.hpp"

namespace {

namespace ev = rb::eval;

struct Pair {
  rb::Array<float> gt, pred;
};

const Pair& volume_pair() {
  static const Pair p = [] {
    const int64_t S = 16, N = 320;
    std::mt19937_64 rng(1);
    std::normal_distribution<double> g(0.0, 1.0);
    Pair r{rb::Array<float>({S, N, N}), rb::Array<float>({S, N, N})};
    for (int64_t s = 0; s < S; ++s)
      for (int64_t i = 0; i < N; ++i)
        for (int64_t j = 0; j < N; ++j) {
          const double dy = (i - 160.0) / (130.0 - 3 * s), dx = (j - 160.0) / 105.0;
          const double e = dy * dy + dx * dx;
          const double head = e < 1 ? 1e-4 * (0.6 + 0.3 * std::sin(i * 0.2) * std::cos(j * 0.17)) : 0;
          double a = head + 3e-6 * g(rng), sum = a * a;
          for (int k = 0; k < 3; ++k) {
            const double n = 3e-6 * g(rng);
            sum += n * n;
          }
          r.gt.at(s, i, j) = static_cast<float>(std::sqrt(sum));
          r.pred.at(s, i, j) = static_cast<float>(std::fabs(r.gt.at(s, i, j) + 4e-6 * g(rng)));
        }
    return r;
  }();
  return p;
}

void BM_SsimVolume(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const Pair& p = volume_pair();
  double L = 0;
  for (float v : p.gt.flat()) L = std::max(L, double(v));
  const int64_t S = p.gt.dim(0);
  std::vector<double> per(static_cast<size_t>(S));
  for (auto _ : state) {
    rb::parallel_for(S, [&](int64_t s) { per[s] = ev::ssim_2d(p.gt(s), p.pred(s), L); }, threads);
    double m = 0;
    for (double v : per) m += v;
    benchmark::DoNotOptimize(m);
  }
  state.SetBytesProcessed(state.iterations() * 2 * p.gt.size() * int64_t(sizeof(float)));
  state.SetLabel("16x320x320 float32, threads=" + std::to_string(threads));
}
BENCHMARK(BM_SsimVolume)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->MinTime(1.0);

void BM_EvaluateVolume(benchmark::State& state, bool masked) {
  const Pair& p = volume_pair();
  ev::MetricOptions o;
  o.threads = static_cast<int>(state.range(0));
  o.masked = masked;
  for (auto _ : state) {
    ev::VolumeMetrics m = ev::evaluate_volume(p.gt.view(), p.pred.view(), o);
    benchmark::DoNotOptimize(m.ssim);
  }
  state.SetBytesProcessed(state.iterations() * 2 * p.gt.size() * int64_t(sizeof(float)));
  state.SetLabel("16x320x320 float32, threads=" + std::to_string(o.threads));
}
BENCHMARK_CAPTURE(BM_EvaluateVolume, unmasked, false)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->MinTime(1.0);
BENCHMARK_CAPTURE(BM_EvaluateVolume, masked, true)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->MinTime(1.0);

void BM_ForegroundMask(benchmark::State& state) {
  const Pair& p = volume_pair();
  ev::ForegroundMaskOptions o;
  o.threads = static_cast<int>(state.range(0));
  for (auto _ : state) {
    rb::Array<uint8_t> m = ev::foreground_mask(p.gt.view(), o);
    benchmark::DoNotOptimize(m.data());
  }
  state.SetLabel("16x320x320, threads=" + std::to_string(o.threads));
}
BENCHMARK(BM_ForegroundMask)->Arg(1)->Unit(benchmark::kMillisecond)->MinTime(0.5);

}  // namespace

BENCHMARK_MAIN();
