// The fastMRI U-Net baseline and the End-to-End Variational Network (Sriram et al., MICCAI
// 2020) as LibTorch modules, structured so that named_parameters() keys equal the Python
// reference's state_dict keys (fastmri/models/unet.py, varnet.py; design note
// fastmri-reference.md §1e):
//
//   Unet:   down_sample_layers.{i}.layers.{0,4}.weight, conv.layers.{0,4}.weight,
//           up_transpose_conv.{i}.layers.0.weight, up_conv.{i}.layers.{0,4}.weight,
//           up_conv.{last}.0.layers.{0,4}.weight, up_conv.{last}.1.{weight,bias}
//   VarNet: sens_net.norm_unet.unet.*, cascades.{n}.dc_weight, cascades.{n}.model.unet.*
//
// Complex tensors use fastMRI's real view [..., 2] (re, im) inside this boundary only.
// Shapes (fastMRI names): k-space [B coil H W 2] with H = readout, W = phase encode;
// mask [B 1 1 W 1] bool; images [B 1 H W].
//
// This header includes <torch/torch.h>; include it only from ml/ translation units.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace rb::ml {

// ---------------------------------------------------------------------------------------
// Complex helpers on the real view [..., 2] (fastmri/math.py, fftc.py).

torch::Tensor fft2c(const torch::Tensor& x);   // centred orthonormal FFT over dims (-3, -2)
torch::Tensor ifft2c(const torch::Tensor& x);  // its inverse
torch::Tensor complex_mul(const torch::Tensor& x, const torch::Tensor& y);
torch::Tensor complex_conj(const torch::Tensor& x);
torch::Tensor complex_abs(const torch::Tensor& x);                  // sqrt(re^2 + im^2)
torch::Tensor rss(const torch::Tensor& x, int64_t dim);             // sqrt(sum x^2)
torch::Tensor rss_complex(const torch::Tensor& x, int64_t dim);     // sqrt(sum |x|^2)
// Centre crop of the last two dims to (h, w); start (size - target) // 2.
torch::Tensor center_crop(const torch::Tensor& x, int64_t h, int64_t w);
// Crop both to the smallest common size over the last two dims.
std::pair<torch::Tensor, torch::Tensor> center_crop_to_smallest(const torch::Tensor& x,
                                                                const torch::Tensor& y);

// ---------------------------------------------------------------------------------------
// U-Net (Ronneberger 2015 as in fastMRI: InstanceNorm, LeakyReLU 0.2, avg-pool, transposed
// convolutions, reflect pad for odd sizes).

struct UnetOptions {
  UnetOptions(int64_t in_chans = 1, int64_t out_chans = 1)
      : in_chans_(in_chans), out_chans_(out_chans) {}
  TORCH_ARG(int64_t, in_chans);
  TORCH_ARG(int64_t, out_chans);
  TORCH_ARG(int64_t, chans) = 32;           // channels of the first level (fastMRI 32)
  TORCH_ARG(int64_t, num_pool_layers) = 4;  // down/up-sampling levels
  TORCH_ARG(double, drop_prob) = 0.0;       // Dropout2d probability
};

// [Conv3x3 (no bias) -> InstanceNorm2d -> LeakyReLU(0.2) -> Dropout2d] x 2
struct ConvBlockImpl : torch::nn::Module {
  ConvBlockImpl(int64_t in_chans, int64_t out_chans, double drop_prob);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Sequential layers{nullptr};
};
TORCH_MODULE(ConvBlock);

// ConvTranspose2d(k 2, s 2, no bias) -> InstanceNorm2d -> LeakyReLU(0.2)
struct TransposeConvBlockImpl : torch::nn::Module {
  TransposeConvBlockImpl(int64_t in_chans, int64_t out_chans);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Sequential layers{nullptr};
};
TORCH_MODULE(TransposeConvBlock);

struct UnetImpl : torch::nn::Module {
  explicit UnetImpl(UnetOptions options = {});
  // [B in_chans H W] -> [B out_chans H W]; any H, W with H, W >= 2^num_pool_layers.
  torch::Tensor forward(const torch::Tensor& image);

  UnetOptions options;
  torch::nn::ModuleList down_sample_layers{nullptr};
  ConvBlock conv{nullptr};
  torch::nn::ModuleList up_transpose_conv{nullptr};
  torch::nn::ModuleList up_conv{nullptr};
};
TORCH_MODULE(Unet);

// ---------------------------------------------------------------------------------------
// E2E-VarNet.

struct NormUnetOptions {
  NormUnetOptions(int64_t chans = 18, int64_t num_pools = 4) : chans_(chans), num_pools_(num_pools) {}
  TORCH_ARG(int64_t, chans);
  TORCH_ARG(int64_t, num_pools);
  TORCH_ARG(int64_t, in_chans) = 2;
  TORCH_ARG(int64_t, out_chans) = 2;
  TORCH_ARG(double, drop_prob) = 0.0;
};

// U-Net on one complex image [B 1 H W 2]: channels [re, im], each normalised by its mean
// and unbiased std, zero-padded to multiples of 16, U-Net, unpadded, unnormalised. With
// in_chans = 2c, c complex images [B c H W 2] share the re and the im statistics;
// output [B out_chans/2 H W 2].
struct NormUnetImpl : torch::nn::Module {
  explicit NormUnetImpl(NormUnetOptions options = {});
  torch::Tensor forward(const torch::Tensor& x);
  NormUnetOptions options;
  Unet unet{nullptr};
};
TORCH_MODULE(NormUnet);

// fastMRI get_pad_and_num_low_freqs: with nlf <= 0, derive it from the mask as the current
// fastMRI code does: left = run of ones leftwards from W//2 - 1, right = run from W//2,
// nlf = max(2 * min(left, right), 1); pad = (W - nlf + 1) // 2. mask [B 1 1 W 1].
// Returns (pad, nlf) for batch item 0 (batches share one mask here).
std::pair<int64_t, int64_t> pad_and_num_low_freqs(const torch::Tensor& mask,
                                                  int64_t num_low_frequencies);

// Coil sensitivities from the fully sampled centre: keep columns [pad, pad + nlf) (if
// mask_center), ifft2c, each coil through NormUnet(sens_chans, sens_pools), divide by the
// RSS over coils. [B C H W 2] -> [B C H W 2].
struct SensitivityModelImpl : torch::nn::Module {
  SensitivityModelImpl(int64_t chans, int64_t num_pools, bool mask_center = true);
  torch::Tensor forward(const torch::Tensor& masked_kspace, const torch::Tensor& mask,
                        int64_t num_low_frequencies = 0);
  bool mask_center = true;
  NormUnet norm_unet{nullptr};
};
TORCH_MODULE(SensitivityModel);

// E(x)_c = fft2c(S_c x): [B 1 H W 2] image, [B C H W 2] maps -> [B C H W 2] k-space.
torch::Tensor sens_expand(const torch::Tensor& x, const torch::Tensor& sens_maps);
// R(k) = sum_c conj(S_c) ifft2c(k_c): [B C H W 2] -> [B 1 H W 2].
torch::Tensor sens_reduce(const torch::Tensor& k, const torch::Tensor& sens_maps);

// A network from undersampled multi-coil k-space to the RSS image: the VarNet and the
// finalist-style networks (ml/networks.hpp) share this call, so that the model input,
// training and inference treat them alike.
//   masked_kspace [B C H W 2], mask [B 1 1 W 1] bool, nlf <= 0: derive from the mask,
//   init [B C H W 2] or undefined: where the iterations start (GRAPPA-filled k-space for
//   the *-grappa kinds). Returns the RSS image [B H W] (uncropped).
struct KspaceNetImpl : torch::nn::Module {
  virtual torch::Tensor forward(const torch::Tensor& masked_kspace, const torch::Tensor& mask,
                                int64_t num_low_frequencies = 0,
                                const torch::Tensor& init = {}) = 0;
};

// The KspaceNetImpl::forward arguments' shapes (RB_ASSERT naming `net`).
void check_kspace_net_input(const char* net, const torch::Tensor& masked_kspace,
                            const torch::Tensor& mask, const torch::Tensor& init);

// One cascade: k' = k - dc_weight * where(mask, k - k0, 0) - E(NormUnet(R(k))) with
// R(k) = sum_c conj(S_c) ifft2c(k_c) and E(x)_c = fft2c(S_c x). dc_weight starts at 1.
struct VarNetBlockImpl : torch::nn::Module {
  explicit VarNetBlockImpl(NormUnetOptions options);
  torch::Tensor forward(const torch::Tensor& current_kspace, const torch::Tensor& ref_kspace,
                        const torch::Tensor& mask, const torch::Tensor& sens_maps);
  NormUnet model{nullptr};
  torch::Tensor dc_weight;
  // Test hook: when false the regulariser term is skipped (pure soft data consistency).
  bool use_regularizer = true;
};
TORCH_MODULE(VarNetBlock);

struct VarNetOptions {
  TORCH_ARG(int64_t, num_cascades) = 12;  // unrolled iterations (fastMRI 12)
  TORCH_ARG(int64_t, sens_chans) = 8;     // sensitivity U-Net channels
  TORCH_ARG(int64_t, sens_pools) = 4;     // sensitivity U-Net levels
  TORCH_ARG(int64_t, chans) = 18;         // cascade U-Net channels
  TORCH_ARG(int64_t, pools) = 4;          // cascade U-Net levels
  TORCH_ARG(bool, mask_center) = true;    // sensitivities from the centre lines only
};

// The unrolled loop of the VarNet and the dual-domain network: sensitivities from the
// masked k-space, k from init (undefined: the masked k-space), k = block_i(k, masked k-space,
// mask, sensitivities) for each BlockImpl in `cascades`, then the RSS image [B H W]. `net`
// names the network in input-shape errors.
template <class BlockImpl>
torch::Tensor unrolled_kspace_rss(const char* net, SensitivityModel& sens_net,
                                  torch::nn::ModuleList& cascades,
                                  const torch::Tensor& masked_kspace, const torch::Tensor& mask,
                                  int64_t num_low_frequencies, const torch::Tensor& init) {
  check_kspace_net_input(net, masked_kspace, mask, init);
  const torch::Tensor sens = sens_net->forward(masked_kspace, mask, num_low_frequencies);
  torch::Tensor k = init.defined() ? init : masked_kspace.clone();
  for (size_t i = 0; i < cascades->size(); ++i)
    k = cascades->ptr<BlockImpl>(i)->forward(k, masked_kspace, mask, sens);
  return rss(complex_abs(ifft2c(k)), 1);
}

struct VarNetImpl : KspaceNetImpl {
  explicit VarNetImpl(VarNetOptions options = {});
  // masked_kspace [B C H W 2], mask [B 1 1 W 1] bool, nlf <= 0: derive from the mask.
  // init [B C H W 2]: where the cascades start (undefined: the masked k-space, as fastMRI;
  // varnet-grappa: the GRAPPA-filled k-space). Data consistency is always to masked_kspace.
  // Returns the RSS image [B H W] (uncropped, e.g. 640x320).
  torch::Tensor forward(const torch::Tensor& masked_kspace, const torch::Tensor& mask,
                        int64_t num_low_frequencies = 0,
                        const torch::Tensor& init = {}) override;
  VarNetOptions options;
  SensitivityModel sens_net{nullptr};
  torch::nn::ModuleList cascades{nullptr};
};
TORCH_MODULE(VarNet);

// ---------------------------------------------------------------------------------------
// SSIM loss exactly as fastmri/losses.py: 7x7 box window (1/49), K1 0.01, K2 0.03, sample
// covariance 49/48, valid windows only; loss = 1 - mean(S). x, y [B 1 H W], data_range [B].
struct SSIMLossImpl : torch::nn::Module {
  explicit SSIMLossImpl(int64_t win_size = 7, double k1 = 0.01, double k2 = 0.03);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& y,
                        const torch::Tensor& data_range);
  int64_t win_size;
  double k1, k2, cov_norm;
  torch::Tensor w;  // buffer [1 1 win win], float32 like fastMRI
};
TORCH_MODULE(SSIMLoss);

// Number of scalar parameters.
int64_t count_parameters(const torch::nn::Module& m);

}  // namespace rb::ml
