// Dual-domain cascaded network in the style of the 2020 winner (AIRS Medical) as DIRECT's
// MultiDomainNet describes it: every cascade refines the image in k-space and in image space
// with its own U-Nets, then soft data consistency as the E2E-VarNet (Sriram 2020). Our own
// design from that description (not a port of any released code):
//
//   sensitivities S: SensitivityModel (as the VarNet's, from the centre lines)
//   cascade t, k-space k [B C H W 2], measured k0, mask M:
//     x  = R(k)                          coil-combined image [B 1 H W 2]
//     xk = ifft2c(K(fft2c(x)))           k-space-domain NormUnet K on the image's k-space
//     r  = I([x, xk])                    image-domain NormUnet I, 2 complex in, 1 out
//     k' = k - w_t M(k - k0) - E(r)      w_t learned, starts at 1
//   output: RSS over coils of ifft2c(k_T) [B H W]
// The dualnet-grappa kind starts k from the GRAPPA-filled k-space (spec.hpp).
//
// Includes torch: ml/ only.
#pragma once

#include "reconbench/ml/models.hpp"

namespace rb::ml {

struct DualNetOptions {
  TORCH_ARG(int64_t, num_cascades) = 6;  // unrolled iterations
  TORCH_ARG(int64_t, sens_chans) = 8;    // sensitivity U-Net channels
  TORCH_ARG(int64_t, sens_pools) = 4;    // sensitivity U-Net levels
  TORCH_ARG(int64_t, chans) = 8;         // image- and k-space U-Net channels
  TORCH_ARG(int64_t, pools) = 4;         // image- and k-space U-Net levels
  TORCH_ARG(bool, mask_center) = true;   // sensitivities from the centre lines only
};

struct DualNetBlockImpl : torch::nn::Module {
  DualNetBlockImpl(int64_t chans, int64_t pools);
  // current, ref [B C H W 2], mask [B 1 1 W 1] bool, sens [B C H W 2] -> k' [B C H W 2]
  torch::Tensor forward(const torch::Tensor& current, const torch::Tensor& ref,
                        const torch::Tensor& mask, const torch::Tensor& sens);
  NormUnet kspace_model{nullptr};  // K: 2 -> 2 channels
  NormUnet image_model{nullptr};   // I: 4 -> 2 channels
  torch::Tensor dc_weight;
};
TORCH_MODULE(DualNetBlock);

struct DualNetImpl : KspaceNetImpl {
  explicit DualNetImpl(DualNetOptions options = {});
  torch::Tensor forward(const torch::Tensor& masked_kspace, const torch::Tensor& mask,
                        int64_t num_low_frequencies = 0,
                        const torch::Tensor& init = {}) override;
  DualNetOptions options;
  SensitivityModel sens_net{nullptr};
  torch::nn::ModuleList cascades{nullptr};
};
TORCH_MODULE(DualNet);

}  // namespace rb::ml
