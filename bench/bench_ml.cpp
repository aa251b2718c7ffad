// CPU inference time per slice of the fastMRI U-Net (chans 32, 320x320) and the 12-cascade
// E2E-VarNet (8 coils, 320x320 k-space), U-Net training throughput, and the VarNet training
// step (fastMRI's 12 cascades, chans 18, sens 8; SSIM loss, Adam) on the learned methods'
// input format for fastMRI brain data (8 virtual coils, readout oversampling removed:
// 320x320 k-space), with the process's peak RSS; the peer is the same architecture in
// PyTorch-Python (bench/ml_peer.py), same input, same thread count (RECONBENCH_THREADS,
// default 1). Run BM_VarNetTrainStep in its own process for its peak RSS. BM_SliceInference:
// one 16-coil 640x320 slice through `recon`'s path for the VarNet and each finalist design.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <cstdlib>
#include <random>

#include "reconbench/ml/allocator.hpp"
#include "reconbench/ml/models.hpp"
#include "reconbench/ml/pipeline.hpp"

using namespace rb::ml;

namespace {
int threads() {
  const char* t = std::getenv("RECONBENCH_THREADS");
  return t ? std::max(1, std::atoi(t)) : 1;
}

// 4X equispaced mask with a 26-line centre, [1 1 1 320 1]
torch::Tensor bench_mask() {
  auto mask = torch::zeros({320}, torch::kBool);
  for (int j = 0; j < 320; j += 4) mask[j] = true;
  mask.narrow(0, 147, 26).fill_(true);
  return mask.view({1, 1, 1, 320, 1});
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
  const auto mask = bench_mask();
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
void BM_VarNetTrainStep(benchmark::State& st) {
  torch::set_num_threads(threads());
  keep_freed_memory();  // as `reconbench train` does
  torch::manual_seed(0);
  VarNet net;
  SSIMLoss loss_fn;
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(3e-4));
  const auto mask = bench_mask();
  const auto k = torch::randn({1, 8, 320, 320, 2}) * mask;
  const auto target = torch::rand({1, 1, 320, 320});
  const auto range = torch::ones({1});
  auto step = [&] {
    opt.zero_grad();
    auto l = loss_fn->forward(net->forward(k, mask).unsqueeze(1), target, range);
    l.backward();
    opt.step();
  };
  step();  // warm-up (oneDNN primitives, Adam state)
  for (auto _ : st) step();
  st.counters["slices_per_s"] = benchmark::Counter(static_cast<double>(st.iterations()),
                                                   benchmark::Counter::kIsRate);
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  st.counters["peak_rss_mib"] = static_cast<double>(ru.ru_maxrss) / 1024.0;
}
// One 16-coil 640x320 slice (2x oversampled readout, 4X equispaced mask, header recon
// 320x320) through Model::reconstruct as `recon --method KIND` runs it: the learned methods'
// input format (oversampling removed, 8 virtual coils, intensity), GRAPPA for *-grappa, the
// network at `spec`'s size. Counter: parameters.
void BM_SliceInference(benchmark::State& st, ModelSpec spec) {
  torch::set_num_threads(threads());
  keep_freed_memory();
  spec.input = {1, 8, true};
  torch::manual_seed(0);
  Model model(spec);
  const int64_t C = 16, H = 640, W = 320;
  rb::Array<rb::cfloat> k({C, H, W});
  rb::IsmrmrdInfo header;
  header.recon_x = header.recon_y = header.enc_y = W;
  header.enc_x = H;
  header.pe_center = W / 2;
  header.pe_max = W - 1;
  const auto m = bench_mask().view({W}).contiguous();
  std::vector<float> mask(m.data_ptr<bool>(), m.data_ptr<bool>() + W);
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  for (int64_t i = 0; i < k.size(); ++i)
    if (mask[i % W] != 0) k[i] = {normal(rng), normal(rng)};
  rb::SliceInput in;
  in.kspace = k.view();
  in.mask = mask;
  in.header = &header;
  model.reconstruct(in);  // warm-up
  for (auto _ : st) benchmark::DoNotOptimize(model.reconstruct(in));
  st.counters["parameters"] = static_cast<double>(count_parameters(model.module()));
}

ModelSpec sized(ModelKind kind, int64_t cascades, int64_t chans, int64_t sens_chans) {
  ModelSpec s = ModelSpec::defaults(kind);
  if (cascades > 0) s.num_cascades = cascades, s.chans = chans, s.sens_chans = sens_chans;
  return s;
}
}  // namespace

BENCHMARK(BM_UnetInference)->Unit(benchmark::kMillisecond)->Iterations(5)->UseRealTime();
BENCHMARK(BM_VarNetInference)->Unit(benchmark::kMillisecond)->Iterations(2)->UseRealTime();
BENCHMARK(BM_UnetTrainStep)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();
BENCHMARK(BM_VarNetTrainStep)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();
// The VarNet at fastMRI's size and at the shipped models/varnet_small.json size, and each
// finalist design at its CPU default (ml/networks.hpp).
BENCHMARK_CAPTURE(BM_SliceInference, varnet_fastmri, sized(ModelKind::VarNet, 0, 0, 0))
    ->Unit(benchmark::kMillisecond)->Iterations(2)->UseRealTime();
BENCHMARK_CAPTURE(BM_SliceInference, varnet_small, sized(ModelKind::VarNet, 4, 8, 4))
    ->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();
BENCHMARK_CAPTURE(BM_SliceInference, dualnet, sized(ModelKind::DualNet, 0, 0, 0))
    ->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();
BENCHMARK_CAPTURE(BM_SliceInference, dualnet_grappa, sized(ModelKind::DualNetGrappa, 0, 0, 0))
    ->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();
BENCHMARK_CAPTURE(BM_SliceInference, recurrentvarnet, sized(ModelKind::RecurrentVarNet, 0, 0, 0))
    ->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();
BENCHMARK_CAPTURE(BM_SliceInference, jointicnet, sized(ModelKind::JointICNet, 0, 0, 0))
    ->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();
BENCHMARK_MAIN();
