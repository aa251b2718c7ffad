// A smooth synthetic multi-coil slice and an equispaced mask for the model tests (ml/).
#pragma once

#include <cmath>
#include <vector>

#include "reconbench/ml/models.hpp"
#include "reconbench/ml/spec.hpp"

namespace rb::ml::synth {

// A smooth synthetic multi-coil slice: k-space [1 C H W 2], RSS target [1 H W].
struct Synthetic {
  torch::Tensor kspace, target;
};
inline Synthetic make_slice(int64_t coils, int64_t h, int64_t w, uint64_t seed) {
  torch::manual_seed(seed);
  auto y = torch::linspace(-1, 1, h).view({h, 1}), x = torch::linspace(-1, 1, w).view({1, w});
  auto img = ((x * x / 0.6 + y * y / 0.8) < 1).to(torch::kFloat) * (1 + 0.3 * torch::sin(7 * x)) +
             0.5 * ((x - 0.2).pow(2) + y.pow(2) < 0.05).to(torch::kFloat);
  auto phase = 0.8 * x + 0.3 * y;
  std::vector<torch::Tensor> coil;
  for (int64_t c = 0; c < coils; ++c) {
    const double a = 2 * M_PI * c / coils;
    auto mag = torch::exp(-((x - std::cos(a)).pow(2) + (y - std::sin(a)).pow(2)) / 1.5);
    auto ph = phase + a;
    auto re = img * mag * torch::cos(ph), im = img * mag * torch::sin(ph);
    coil.push_back(torch::stack({re, im}, -1));
  }
  auto images = torch::stack(coil, 0).unsqueeze(0);  // [1 C H W 2]
  images = images + 0.01 * torch::randn(images.sizes());
  return {fft2c(images), rss(complex_abs(images), 1)};
}

inline torch::Tensor equispaced_mask(int64_t w, int64_t accel, int64_t nlf) {
  auto m = torch::zeros({w}, torch::kBool);
  for (int64_t j = 0; j < w; j += accel) m[j] = true;
  const int64_t pad = (w - nlf + 1) / 2;
  m.narrow(0, pad, nlf).fill_(true);
  return m.view({1, 1, 1, w, 1});
}

// A kind's default spec with `cascades` iterations and U-Nets (cascade and sensitivity) of
// `chans` channels and `pools` levels: the small instances the tests run.
inline ModelSpec reduced_spec(ModelKind kind, int64_t cascades, int64_t chans, int64_t pools) {
  ModelSpec s = ModelSpec::defaults(kind);
  s.num_cascades = cascades;
  s.chans = s.sens_chans = chans;
  s.pools = s.sens_pools = pools;
  return s;
}

}  // namespace rb::ml::synth
