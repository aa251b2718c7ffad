// Recurrent Variational Network (Yiasemis et al., CVPR 2022; the ResoNNance team's 2020
// entry was a recurrent inference machine, and the RecurrentVarNet is its successor from the
// same group), written from the paper's equations and DIRECT's description
// (direct/nn/recurrentvarnet): unrolled k-space updates whose regulariser is a
// convolutional GRU carrying a hidden state from step to step.
//
//   sensitivities S: SensitivityModel (as the VarNet's)
//   step t (no parameter sharing), k-space k_t [B C H W 2], measured k0, mask M, hidden h_t:
//     (w, h_{t+1}) = G_t(R(k_t), h_t)          ConvGRU on [re, im], input normalised per
//                                              re/im group (mean, unbiased std), output
//                                              w * std + mean
//     k_{t+1} = k_t - a_t M(k_t - k0) + E(w)   a_t learned, starts at 1
//   h_0 = 0 (DIRECT's learned initialiser RSI is not implemented); output RSS of ifft2c(k_T).
//
// ConvGRU (n_l layers, hidden channels F): conv_0 5x5 (in -> F), conv_1 3x3 dilation 2,
// conv_i 3x3 (F -> F), each replication-padded to keep the size and followed by ReLU; after
// each conv_i a GRU cell with 1x1 gate convolutions on [x, h_i]:
//     z = sigma(U[x, h]), r = sigma(Rg[x, h]), d = tanh(O[x, r h]), h' = (1 - z) h + z d,
//     x = ReLU(h');  out = conv_{n_l} 3x3 (F -> 2).
// Gate weights start orthogonal, reset bias -1, update and output biases 0.
//
// Includes torch: ml/ only.
#pragma once

#include <utility>

#include "reconbench/ml/models.hpp"

namespace rb::ml {

struct ConvGruOptions {
  TORCH_ARG(int64_t, in_chans) = 2;
  TORCH_ARG(int64_t, hidden) = 16;  // F
  TORCH_ARG(int64_t, out_chans) = 2;
  TORCH_ARG(int64_t, layers) = 4;   // n_l
};

struct ConvGruImpl : torch::nn::Module {
  explicit ConvGruImpl(ConvGruOptions options = {});
  // x [B in H W], state [B F H W n_l] or undefined (zeros) -> (out [B out H W], new state)
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& x,
                                                  const torch::Tensor& state);
  ConvGruOptions options;
  torch::nn::ModuleList convs{nullptr};  // n_l + 1 padded convolutions
  torch::nn::ModuleList reset_gates{nullptr}, update_gates{nullptr}, out_gates{nullptr};
};
TORCH_MODULE(ConvGru);

struct RecurrentVarNetBlockImpl : torch::nn::Module {
  RecurrentVarNetBlockImpl(int64_t hidden, int64_t layers);
  // current, ref [B C H W 2], mask [B 1 1 W 1] bool, sens [B C H W 2], state as ConvGru
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& current,
                                                  const torch::Tensor& ref,
                                                  const torch::Tensor& mask,
                                                  const torch::Tensor& sens,
                                                  const torch::Tensor& state);
  ConvGru regularizer{nullptr};
  torch::Tensor learning_rate;  // a_t
};
TORCH_MODULE(RecurrentVarNetBlock);

struct RecurrentVarNetOptions {
  TORCH_ARG(int64_t, num_steps) = 8;    // T (DIRECT 15)
  TORCH_ARG(int64_t, hidden) = 16;      // F (DIRECT 64)
  TORCH_ARG(int64_t, layers) = 4;       // n_l (DIRECT 4)
  TORCH_ARG(int64_t, sens_chans) = 8;   // sensitivity U-Net channels
  TORCH_ARG(int64_t, sens_pools) = 4;   // sensitivity U-Net levels
  TORCH_ARG(bool, mask_center) = true;  // sensitivities from the centre lines only
};

struct RecurrentVarNetImpl : KspaceNetImpl {
  explicit RecurrentVarNetImpl(RecurrentVarNetOptions options = {});
  torch::Tensor forward(const torch::Tensor& masked_kspace, const torch::Tensor& mask,
                        int64_t num_low_frequencies = 0,
                        const torch::Tensor& init = {}) override;
  RecurrentVarNetOptions options;
  SensitivityModel sens_net{nullptr};
  torch::nn::ModuleList steps{nullptr};
};
TORCH_MODULE(RecurrentVarNet);

}  // namespace rb::ml
