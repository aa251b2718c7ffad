// Evaluation (issue 4 benchmark). Two modes:
// 1. Google Benchmark, one 16x320x320 brain volume in memory:
//   BM_SsimVolume      fastMRI SSIM (mean over slices of skimage-default SSIM); its peer is
//                      bench/eval_peer.py ssim-volume
//   BM_EvaluateVolume  SSIM + PSNR + NMSE + MSE as evaluate.py (unmasked), or with the
//                      foreground mask and the masked variants
//   BM_ForegroundMask  the mask recipe alone
//   Argument = threads. The data is a synthetic head in chi-distributed RSS-like noise (the
//   work per voxel does not depend on the values).
// 2. --eval-dir: a directory of HDF5 volumes, the side of bench/section_eval.sh's
//   comparison with evaluate.py (see eval_dir_main).
#include <benchmark/benchmark.h>

#include <cmath>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <numeric>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reconbench/core/parallel.hpp"
#include "reconbench/eval/evaluate.hpp"
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

// --eval-dir DIR [--threads 1,2] [--repeats N] [--json FILE]: the issue-4 benchmark's
// reconbench side. Evaluates DIR/gt against DIR/pred (bench/eval_peer.py make-data) with
// evaluate_directories, the library call behind `reconbench eval` (HDF5 reads, crop, metrics,
// summaries with B = 10000 bootstrap resamples; no process start, no JSON printing), in two
// variants: "plain" = evaluate.py's metrics (SSIM, PSNR, NMSE), "masked" = plus the
// background-masked metrics (what `reconbench eval` always computes). Per variant and
// thread count: wall and CPU seconds of every repeat (CPU = user + sys of the process,
// all threads) and the per-volume results. RB_EVAL_ISA=default|avx2|avx512f forces a kernel.
double seconds(clockid_t clock) {
  timespec t;
  clock_gettime(clock, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// The read floor of the same directory: read_eval_volume of every GT/prediction pair (the
// HDF5 calls evaluate_directories makes: open, checks, memory map or H5Dread) and one pass
// over every float (what the metrics' first touch of the data costs: page faults of the
// maps), in parallel over files on `threads` threads as evaluate_directories, no metrics.
nlohmann::json read_floor(const std::string& dir, int threads, int repeats) {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/gt"))
    if (e.path().extension() == ".h5") files.push_back(e.path().filename().string());
  std::sort(files.begin(), files.end());
  std::vector<double> wall, cpu;
  for (int r = 0; r < repeats; ++r) {
    std::vector<double> sums(files.size());
    const double w0 = seconds(CLOCK_MONOTONIC), c0 = seconds(CLOCK_PROCESS_CPUTIME_ID);
    rb::parallel_for(
        static_cast<int64_t>(files.size()),
        [&](int64_t i) {
          const ev::EvalVolume t = ev::read_eval_volume(
              dir + "/gt/" + files[i], {"reconstruction_rss", "reconstruction"});
          const ev::EvalVolume p = ev::read_eval_volume(dir + "/pred/" + files[i], {"reconstruction"});
          double s = 0;
          for (const ev::EvalVolume* v : {&t, &p}) {
            const rb::ArrayView<const float> a = v->volume.view();
            s += std::accumulate(a.data(), a.data() + a.size(), 0.0);
          }
          sums[i] = s;
        },
        threads, 1);
    wall.push_back(seconds(CLOCK_MONOTONIC) - w0);
    cpu.push_back(seconds(CLOCK_PROCESS_CPUTIME_ID) - c0);
    benchmark::DoNotOptimize(sums.data());
  }
  return {{"wall", wall}, {"cpu", cpu}, {"volumes", nlohmann::json::array()}};
}

int eval_dir_main(int argc, char** argv) {
  std::string dir, json_out;
  std::vector<int> threads = {1, 2};
  int repeats = 7;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] {
      RB_CHECK(i + 1 < argc, a, " needs a value");
      return std::string(argv[++i]);
    };
    if (a == "--eval-dir") {
      dir = next();
    } else if (a == "--repeats") {
      repeats = std::stoi(next());
    } else if (a == "--json") {
      json_out = next();
    } else if (a == "--threads") {
      threads.clear();
      const std::string t = next();
      for (size_t p = 0; p <= t.size();) {
        size_t q = t.find(',', p);
        if (q == std::string::npos) q = t.size();
        threads.push_back(std::stoi(t.substr(p, q - p)));
        p = q + 1;
      }
    } else {
      throw rb::UserError("bench_eval: unknown argument " + a);
    }
  }
  RB_CHECK(!dir.empty() && repeats > 0, "bench_eval: --eval-dir DIR and --repeats > 0 needed");
  nlohmann::json out = nlohmann::json::object();
  for (const int t : threads) out["read"][std::to_string(t)] = read_floor(dir, t, repeats);
  for (const bool masked : {false, true}) {
    const std::string variant = masked ? "masked" : "plain";
    for (const int t : threads) {
      std::vector<double> wall, cpu;
      ev::EvalRun run;
      for (int r = 0; r < repeats; ++r) {
        ev::EvalOptions o;
        o.progress = false;
        o.metrics.threads = t;
        o.metrics.masked = masked;
        const double w0 = seconds(CLOCK_MONOTONIC), c0 = seconds(CLOCK_PROCESS_CPUTIME_ID);
        run = ev::evaluate_directories(dir + "/gt", dir + "/pred", o);
        wall.push_back(seconds(CLOCK_MONOTONIC) - w0);
        cpu.push_back(seconds(CLOCK_PROCESS_CPUTIME_ID) - c0);
        RB_CHECK(run.errors.empty(), "bench_eval: ", run.errors.front().file, ": ",
                 run.errors.front().reason);
      }
      nlohmann::json vols = nlohmann::json::array();
      for (const auto& v : run.volumes)
        vols.push_back({{"file", v.file},
                        {"ssim", v.metrics.ssim},
                        {"psnr", v.metrics.psnr},
                        {"nmse", v.metrics.nmse}});
      out[variant][std::to_string(t)] = {{"wall", wall}, {"cpu", cpu}, {"volumes", vols}};
    }
  }
  const std::string text = out.dump();
  if (json_out.empty()) {
    std::puts(text.c_str());
  } else {
    std::FILE* f = std::fopen(json_out.c_str(), "w");
    RB_CHECK(f, "bench_eval: cannot write ", json_out);
    std::fputs(text.c_str(), f);
    std::fclose(f);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (const char* isa = std::getenv("RB_EVAL_ISA")) ev::detail::force_ssim_kernel_isa(isa);
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--eval-dir") return eval_dir_main(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
