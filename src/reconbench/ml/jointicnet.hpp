// Joint-ICNet (Jun et al., CVPR 2021; the ATB team's 2020 entry): joint refinement of the
// coil sensitivities and the image by unrolled gradient steps, written from the paper's
// update equations and DIRECT's description (direct/nn/jointicnet). One image U-Net I, one
// k-space U-Net K and one sensitivity U-Net are shared by all iterations (ATB matched
// Neurospin with 87% fewer parameters).
//
//   S_ref = SensitivityModel(k0) (centre lines, RSS-normalised), S_0 = S_ref
//   x_0 = R_{S_0}(k0) / m, m = max |R_{S_0}(k0)|; k0 / m is used below (scale undone at the
//   end). Iteration t (M: mask, E_S x = fft2c(S x), R_S k = sum conj(S) ifft2c(k)):
//     r   = M(E_{S_t} x_t - k0 / m)
//     S'  = S_t - 2 a_t (ifft2c(r) conj(x_t) + C_t (S_t - S_ref)),  S_{t+1} = S' / RSS(S')
//     x'  = x_t - 2 b_t (R_{S_{t+1}}(M(E_{S_{t+1}} x_t - k0 / m)) + I_t (x_t - I(x_t))
//                        + F_t (x_t - ifft2c(K(fft2c(x_t)))))
//     x_{t+1} = x' (DIRECT renormalises to max |x| = 1 here; we keep the data's scale so
//               that the data term compares like with like)
//   output |x_T| m [B H W] (= the RSS over coils of S x_T, the maps having unit RSS).
// a_t, b_t start at 0.1 (stable first iterations), C_t, I_t, F_t at 1; I and K are
// NormUnets (one complex image in, one out).
//
// Includes torch: ml/ only.
#pragma once

#include "reconbench/ml/models.hpp"

namespace rb::ml {

struct JointICNetOptions {
  TORCH_ARG(int64_t, num_iter) = 8;     // unrolled iterations T
  TORCH_ARG(int64_t, chans) = 16;       // image and k-space U-Net channels
  TORCH_ARG(int64_t, pools) = 4;        // image and k-space U-Net levels
  TORCH_ARG(int64_t, sens_chans) = 8;   // sensitivity U-Net channels
  TORCH_ARG(int64_t, sens_pools) = 4;   // sensitivity U-Net levels
  TORCH_ARG(bool, mask_center) = true;  // sensitivities from the centre lines only
};

struct JointICNetImpl : KspaceNetImpl {
  explicit JointICNetImpl(JointICNetOptions options = {});
  // init (GRAPPA k-space) is not used: the iterations start from R_{S_0}(k0).
  torch::Tensor forward(const torch::Tensor& masked_kspace, const torch::Tensor& mask,
                        int64_t num_low_frequencies = 0,
                        const torch::Tensor& init = {}) override;
  JointICNetOptions options;
  SensitivityModel sens_net{nullptr};
  NormUnet image_model{nullptr}, kspace_model{nullptr};
  torch::Tensor lr_sens, lr_image, reg_sens, reg_image, reg_kspace;  // [T] each
};
TORCH_MODULE(JointICNet);

}  // namespace rb::ml
