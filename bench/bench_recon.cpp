// Classical reconstruction benchmark (issue 5): one 16-coil 640x320 slice (2x readout
// oversampling, brain-like phantom, smooth coil maps, noise), R=4 fastMRI equispaced-fraction
// mask with 8 % centre. Measured beside Debian's bart by bench/recon_peer.sh on the same data
// (`bench_recon --export-cfl DIR` writes it as BART .cfl):
//   ESPIRiT 1 and 2 maps        vs  bart ecalib -m1 / ecalib (whole process)
//   FISTA L1-wavelet iteration  vs  bart pics -S -R W:7:0:0.005 (per iteration, from -i 50/100)
//   CG-SENSE iteration          vs  bart pics -S -l2 -r 0.01 (per iteration, from -i 10/40)
// each with 1 and 2 threads (benchmark argument). Ours per iteration: from iters 10 and 30.
// Every benchmark also reports cpu_per_iter (process CPU seconds, all threads, per
// benchmark iteration) so that thread scaling can be judged against CPU time on a busy
// machine. `bench_recon --parity DIR` compares our cs-wavelet / cs-tv images with bart's
// (DIR/w.cfl, DIR/tv.cfl from bench/recon_peer.sh) on the same slice (NRMSE).
#include <benchmark/benchmark.h>

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>

#include "reconbench/fft/fft.hpp"
#include "reconbench/io/cfl.hpp"
#include "reconbench/recon/espirit.hpp"
#include "reconbench/recon/ops.hpp"
#include "reconbench/recon/pics.hpp"
#include "reconbench/recon/threads.hpp"
#include "reconbench/sampling/masks.hpp"

namespace {

using namespace rb;

struct Slice {
  Array<cfloat> k;  // [coil read phase], undersampled
  std::vector<float> mask;
  Array<cfloat> maps;  // ESPIRiT, 1 map
};

Slice make_slice(int64_t nc = 16, int64_t h = 640, int64_t w = 320) {
  Slice s;
  Array<cfloat> coil({nc, h, w});
  std::mt19937 gen(11);
  std::normal_distribution<float> nd(0, 1);
  for (int64_t c = 0; c < nc; ++c) {
    const double a = 2 * M_PI * c / nc;
    for (int64_t i = 0; i < h; ++i)
      for (int64_t j = 0; j < w; ++j) {
        // FOV 2x along the readout: the head occupies the central half.
        const double y = (i - h / 2.0) / (h / 4.0), x = (j - w / 2.0) / (w / 2.0);
        double v = 0;
        if (y * y / 0.8 + x * x / 0.6 < 1) v = 1.0;
        if (y * y / 0.7 + x * x / 0.5 < 1) v = 0.5 + 0.2 * std::cos(9 * x) * std::sin(7 * y);
        if ((y - 0.2) * (y - 0.2) / 0.02 + (x + 0.2) * (x + 0.2) / 0.01 < 1) v = 0.9;
        const double d2 = std::pow(y - 1.2 * std::sin(a), 2) + std::pow(x - 1.2 * std::cos(a), 2);
        coil.at(c, i, j) = std::polar<float>(float(v * std::exp(-d2 / 1.5)), float(a + 0.3 * x));
      }
  }
  s.k = fft2c_copy(coil.view());
  for (auto& v : s.k.vec()) v += cfloat(0.01f * nd(gen), 0.01f * nd(gen));
  MaskFuncOptions mo;  // fastMRI 4X pseudo-equispaced
  MaskFunc mf(mo);
  s.mask = mf(w, MaskSeed{uint32_t{1}}).mask;
  for (int64_t i = 0; i < s.k.size(); ++i)
    if (s.mask[i % w] == 0) s.k[i] = 0;
  recon::EspiritOptions eo;
  eo.maps = 1;
  s.maps = recon::espirit(s.k.view(), eo).maps;
  return s;
}

const Slice& slice() {
  static Slice s = make_slice();
  return s;
}

// Process CPU seconds (user + system, all threads).
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec) + 1e-6 * double(u.ru_utime.tv_usec) + double(u.ru_stime.tv_sec) +
         1e-6 * double(u.ru_stime.tv_usec);
}
struct CpuCounter {
  benchmark::State& st;
  double t0 = cpu_seconds();
  explicit CpuCounter(benchmark::State& s) : st(s) {}
  ~CpuCounter() {
    st.counters["cpu_per_iter"] =
        benchmark::Counter((cpu_seconds() - t0) / double(std::max<int64_t>(st.iterations(), 1)));
  }
};

void BM_Espirit(benchmark::State& st) {
  const auto& s = slice();
  recon::ScopedReconThreads t(static_cast<int>(st.range(1)));
  recon::EspiritOptions o;
  o.maps = st.range(0);
  CpuCounter cpu(st);
  int64_t kept = 0;
  for (auto _ : st) {
    auto e = recon::espirit(s.k.view(), o);
    kept = e.kernels_kept;
    benchmark::DoNotOptimize(e.maps.data());
  }
  // Signal-subspace kernels kept (eigenvectors formed, of the (24 - 6 + 1)^2 = 361 windows).
  st.counters["kernels_kept"] = static_cast<double>(kept);
}
BENCHMARK(BM_Espirit)->ArgNames({"maps", "threads"})->Args({1, 1})->Args({1, 2})->Args({2, 1})->Args({2, 2})
    ->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);

// The maps the sense/cs methods use (recon/classical.cpp): 2 maps, the first uncropped, so
// every pixel of the first map iterates to convergence (no skip below the crop); the
// second map is cropped at 0.8 and mostly skipped.
void BM_EspiritMethodMaps(benchmark::State& st) {
  const auto& s = slice();
  recon::ScopedReconThreads t(static_cast<int>(st.range(0)));
  recon::EspiritOptions o;
  o.crop_first = 0;
  CpuCounter cpu(st);
  for (auto _ : st) benchmark::DoNotOptimize(recon::espirit(s.k.view(), o).maps.data());
}
BENCHMARK(BM_EspiritMethodMaps)->ArgNames({"threads"})->Arg(1)->Arg(2)
    ->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);

// Per-iteration cost = (time(iters=30) - time(iters=10)) / 20, as for bart (fixed costs:
// scaling, A^H y, allocation, cancel out).
void BM_CsWavelet(benchmark::State& st) {
  const auto& s = slice();
  recon::ScopedReconThreads t(static_cast<int>(st.range(0)));
  recon::CsOptions o;
  o.max_iter = static_cast<int>(st.range(1));
  CpuCounter cpu(st);
  for (auto _ : st) benchmark::DoNotOptimize(recon::cs_recon(s.k.view(), s.maps.view(), s.mask, o).data());
}
BENCHMARK(BM_CsWavelet)->ArgNames({"threads", "iters"})->Args({1, 10})->Args({1, 30})->Args({2, 10})->Args({2, 30})
    ->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Sense(benchmark::State& st) {
  const auto& s = slice();
  recon::ScopedReconThreads t(static_cast<int>(st.range(0)));
  recon::SenseOptions o;
  o.max_iter = static_cast<int>(st.range(1));
  o.tol = 0;
  CpuCounter cpu(st);
  for (auto _ : st) benchmark::DoNotOptimize(recon::sense_recon(s.k.view(), s.maps.view(), s.mask, o).data());
}
BENCHMARK(BM_Sense)->ArgNames({"threads", "iters"})->Args({1, 10})->Args({1, 30})->Args({2, 10})->Args({2, 30})
    ->Unit(benchmark::kMillisecond)->UseRealTime();

// Components of one FISTA iteration, to see which part limits thread scaling: the wavelet
// prox (BART's cycle-spun Daubechies-2 soft threshold, one 640x320 image) and the SENSE
// normal operator A^H A (16 coils).
void BM_WaveletThresh(benchmark::State& st) {
  const auto& s = slice();
  recon::ScopedReconThreads t(static_cast<int>(st.range(0)));
  const int64_t h = s.maps.dim(2), w = s.maps.dim(3);
  const auto plan = recon::make_bart_wavelet_plan(h, w);
  recon::BartWaveletWork work;
  std::vector<cfloat> x(s.maps.vec().begin(), s.maps.vec().begin() + h * w);
  CpuCounter cpu(st);
  int64_t k = 0;
  for (auto _ : st) {
    recon::bart_wavelet_thresh(plan, x.data(), 1e-4f, k % 17, k % 13, &work);
    ++k;
  }
}
BENCHMARK(BM_WaveletThresh)->ArgNames({"threads"})->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SenseNormal(benchmark::State& st) {
  const auto& s = slice();
  recon::ScopedReconThreads t(static_cast<int>(st.range(0)));
  recon::SenseOperator op(s.maps.view(), s.mask);
  std::vector<cfloat> x(static_cast<size_t>(op.image_size()), cfloat(1)), z(x.size());
  CpuCounter cpu(st);
  for (auto _ : st) op.normal(x.data(), z.data());
}
BENCHMARK(BM_SenseNormal)->ArgNames({"threads"})->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  // --export-cfl DIR: write the benchmark slice for bart (DIR/k, DIR/sens) and exit.
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--export-cfl") == 0) {
      const std::string dir = argv[i + 1];
      const auto& s = slice();
      write_cfl(dir + "/k", kspace_slice_to_cfl(s.k.view()));
      // maps [1 coil y x] -> [read phase 1 coil 1]: same layout as a k-space slice
      Array<cfloat> m({s.maps.dim(1), s.maps.dim(2), s.maps.dim(3)}, s.maps.vec());
      write_cfl(dir + "/sens", kspace_slice_to_cfl(m.view()));
      return 0;
    }
  // --parity DIR: our cs-wavelet (lambda 0.005, 30 it.) and cs-tv (lambda 0.01, 50 it.) vs
  // bart pics -S on the same slice and maps (DIR/w.cfl, DIR/tv.cfl): NRMSE of the magnitude.
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--parity") == 0) {
      const std::string dir = argv[i + 1];
      const auto& s = slice();
      auto nrmse = [&](const std::string& name, const recon::CsOptions& o) {
        auto ref = read_cfl(dir + "/" + name);
        auto ours = recon::combine_maps(recon::cs_recon(s.k.view(), s.maps.view(), s.mask, o).view());
        const int64_t h = ours.dim(0), w = ours.dim(1);
        double num = 0, den = 0;
        for (int64_t y = 0; y < h; ++y)
          for (int64_t x = 0; x < w; ++x) {
            const double b = std::abs(ref.data[y + h * x]);  // column-major
            num += (b - ours.at(y, x)) * (b - ours.at(y, x));
            den += b * b;
          }
        std::printf("parity %s %.3g\n", name.c_str(), std::sqrt(num / den));
      };
      recon::CsOptions w;
      w.max_iter = 30;
      nrmse("w", w);
      recon::CsOptions tv;
      tv.reg = recon::CsOptions::Reg::TV;
      tv.lambda = 0.01f;
      tv.max_iter = 50;
      nrmse("tv", tv);
      return 0;
    }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
