// CPU inference time per slice of the fastMRI U-Net (chans 32, 320x320) and the 12-cascade
// E2E-VarNet (8 coils, 320x320 k-space), and U-Net training throughput; the peer is the same
// architecture in PyTorch-Python (bench/ml_peer.py), same thread count
// (RECONBENCH_THREADS, default 1).
#include <benchmark/benchmark.h>

#include <cstdlib>

#include "reconbench/ml/models.hpp"

using namespace rb::ml;

namespace {
int threads() {
  const char* t = std::getenv("RECONBENCH_THREADS");
  return t ? std::max(1, std::atoi(t)) : 1;
}

void BM_UnetInference(benchmark::State& st) {
  torch::set_num_threads(threads());
  torch::manual_seed(0);
  Unet net;
  net->eval();
  torch::NoGradGuard ng;
  auto x = torch::randn({1, 1, 320, 320});
  net->forward(x);  // warm-up (oneDNN primitives)
  for (auto _ : st) benchmark::DoNotOptimize(net->forward(x));
}

void BM_VarNetInference(benchmark::State& st) {
  torch::set_num_threads(threads());
  torch::manual_seed(0);
  VarNet net;
  net->eval();
  torch::NoGradGuard ng;
  auto k = torch::randn({1, 8, 320, 320, 2});
  auto mask = torch::zeros({320}, torch::kBool);
  for (int j = 0; j < 320; j += 4) mask[j] = true;
  mask.narrow(0, 147, 26).fill_(true);
  mask = mask.view({1, 1, 1, 320, 1});
  k = k * mask;
  net->forward(k, mask);
  for (auto _ : st) benchmark::DoNotOptimize(net->forward(k, mask));
}

void BM_UnetTrainStep(benchmark::State& st) {
  torch::set_num_threads(threads());
  torch::manual_seed(0);
  Unet net;
  torch::optim::RMSprop opt(net->parameters(), torch::optim::RMSpropOptions(1e-3));
  auto x = torch::randn({1, 1, 320, 320}), y = torch::randn({1, 1, 320, 320});
  for (auto _ : st) {
    opt.zero_grad();
    auto l = torch::l1_loss(net->forward(x), y);
    l.backward();
    opt.step();
  }
  st.counters["slices_per_s"] = benchmark::Counter(static_cast<double>(st.iterations()),
                                                   benchmark::Counter::kIsRate);
}
}  // namespace

BENCHMARK(BM_UnetInference)->Unit(benchmark::kMillisecond)->Iterations(5)->UseRealTime();
BENCHMARK(BM_VarNetInference)->Unit(benchmark::kMillisecond)->Iterations(2)->UseRealTime();
BENCHMARK(BM_UnetTrainStep)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();
BENCHMARK_MAIN();
