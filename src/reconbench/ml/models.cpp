// U-Net, E2E-VarNet and SSIM loss (see models.hpp). Each forward mirrors the Python
// reference line by line so that the same weights give the same output (oracle test
// tests/oracle/test_ml_parity.py).
#include "reconbench/ml/models.hpp"

#include "reconbench/core/error.hpp"

namespace rb::ml {

namespace F = torch::nn::functional;

// ---------------------------------------------------------------------------------------
// Complex helpers

namespace {
const std::vector<int64_t> kSpatial{-2, -1};  // spatial dims of the complex view
}

torch::Tensor fft2c(const torch::Tensor& x) {
  RB_ASSERT(x.dim() >= 3 && x.size(-1) == 2, "fft2c wants [..., H, W, 2]");
  auto c = torch::view_as_complex(x.contiguous());
  c = torch::fft::ifftshift(c, kSpatial);
  c = torch::fft::fftn(c, c10::nullopt, kSpatial, "ortho");
  c = torch::fft::fftshift(c, kSpatial);
  return torch::view_as_real(c);
}

torch::Tensor ifft2c(const torch::Tensor& x) {
  RB_ASSERT(x.dim() >= 3 && x.size(-1) == 2, "ifft2c wants [..., H, W, 2]");
  auto c = torch::view_as_complex(x.contiguous());
  c = torch::fft::ifftshift(c, kSpatial);
  c = torch::fft::ifftn(c, c10::nullopt, kSpatial, "ortho");
  c = torch::fft::fftshift(c, kSpatial);
  return torch::view_as_real(c);
}

torch::Tensor complex_mul(const torch::Tensor& x, const torch::Tensor& y) {
  // (a + ib)(c + id) = (ac - bd) + i(ad + bc), as one complex kernel (fastMRI computes the
  // four real products and stacks them: the same values, more memory traffic)
  return torch::view_as_real(torch::view_as_complex(x.contiguous()) *
                             torch::view_as_complex(y.contiguous()));
}

torch::Tensor complex_conj(const torch::Tensor& x) {
  return torch::stack({x.select(-1, 0), -x.select(-1, 1)}, -1);
}

torch::Tensor complex_abs(const torch::Tensor& x) { return (x * x).sum(-1).sqrt(); }

torch::Tensor rss(const torch::Tensor& x, int64_t dim) { return (x * x).sum(dim).sqrt(); }

torch::Tensor rss_complex(const torch::Tensor& x, int64_t dim) {
  return (x * x).sum(-1).sum(dim).sqrt();
}

torch::Tensor center_crop(const torch::Tensor& x, int64_t h, int64_t w) {
  const int64_t H = x.size(-2), W = x.size(-1);
  RB_CHECK(h <= H && w <= W, "cannot centre-crop (", H, ", ", W, ") to (", h, ", ", w, ")");
  const int64_t i0 = (H - h) / 2, j0 = (W - w) / 2;
  return x.narrow(-2, i0, h).narrow(-1, j0, w);
}

std::pair<torch::Tensor, torch::Tensor> center_crop_to_smallest(const torch::Tensor& x,
                                                                const torch::Tensor& y) {
  const int64_t h = std::min(x.size(-2), y.size(-2)), w = std::min(x.size(-1), y.size(-1));
  return {center_crop(x, h, w), center_crop(y, h, w)};
}

// ---------------------------------------------------------------------------------------
// U-Net

ConvBlockImpl::ConvBlockImpl(int64_t in_chans, int64_t out_chans, double drop_prob) {
  using namespace torch::nn;
  layers = register_module(
      "layers",
      Sequential(Conv2d(Conv2dOptions(in_chans, out_chans, 3).padding(1).bias(false)),
                 InstanceNorm2d(InstanceNorm2dOptions(out_chans)),
                 LeakyReLU(LeakyReLUOptions().negative_slope(0.2).inplace(true)),
                 Dropout2d(Dropout2dOptions(drop_prob)),
                 Conv2d(Conv2dOptions(out_chans, out_chans, 3).padding(1).bias(false)),
                 InstanceNorm2d(InstanceNorm2dOptions(out_chans)),
                 LeakyReLU(LeakyReLUOptions().negative_slope(0.2).inplace(true)),
                 Dropout2d(Dropout2dOptions(drop_prob))));
}

torch::Tensor ConvBlockImpl::forward(const torch::Tensor& x) { return layers->forward(x); }

TransposeConvBlockImpl::TransposeConvBlockImpl(int64_t in_chans, int64_t out_chans) {
  using namespace torch::nn;
  layers = register_module(
      "layers",
      Sequential(
          ConvTranspose2d(ConvTranspose2dOptions(in_chans, out_chans, 2).stride(2).bias(false)),
          InstanceNorm2d(InstanceNorm2dOptions(out_chans)),
          LeakyReLU(LeakyReLUOptions().negative_slope(0.2).inplace(true))));
}

torch::Tensor TransposeConvBlockImpl::forward(const torch::Tensor& x) {
  return layers->forward(x);
}

UnetImpl::UnetImpl(UnetOptions opts) : options(opts) {
  RB_CHECK(opts.chans() >= 1 && opts.num_pool_layers() >= 1 && opts.in_chans() >= 1 &&
               opts.out_chans() >= 1,
           "U-Net options: chans, pools, in/out channels must be >= 1");
  const double p = opts.drop_prob();
  down_sample_layers = register_module("down_sample_layers", torch::nn::ModuleList());
  down_sample_layers->push_back(ConvBlock(opts.in_chans(), opts.chans(), p));
  int64_t ch = opts.chans();
  for (int64_t i = 0; i < opts.num_pool_layers() - 1; ++i) {
    down_sample_layers->push_back(ConvBlock(ch, ch * 2, p));
    ch *= 2;
  }
  conv = register_module("conv", ConvBlock(ch, ch * 2, p));
  up_transpose_conv = register_module("up_transpose_conv", torch::nn::ModuleList());
  up_conv = register_module("up_conv", torch::nn::ModuleList());
  for (int64_t i = 0; i < opts.num_pool_layers() - 1; ++i) {
    up_transpose_conv->push_back(TransposeConvBlock(ch * 2, ch));
    up_conv->push_back(ConvBlock(ch * 2, ch, p));
    ch /= 2;
  }
  up_transpose_conv->push_back(TransposeConvBlock(ch * 2, ch));
  up_conv->push_back(torch::nn::Sequential(
      ConvBlock(ch * 2, ch, p),
      torch::nn::Conv2d(torch::nn::Conv2dOptions(ch, opts.out_chans(), 1).stride(1))));
}

torch::Tensor UnetImpl::forward(const torch::Tensor& image) {
  std::vector<torch::Tensor> stack;
  torch::Tensor out = image;
  for (size_t i = 0; i < down_sample_layers->size(); ++i) {
    out = down_sample_layers->ptr<ConvBlockImpl>(i)->forward(out);
    stack.push_back(out);
    out = F::avg_pool2d(out, F::AvgPool2dFuncOptions(2).stride(2).padding(0));
  }
  out = conv->forward(out);
  for (size_t i = 0; i < up_conv->size(); ++i) {
    torch::Tensor skip = stack.back();
    stack.pop_back();
    out = up_transpose_conv->ptr<TransposeConvBlockImpl>(i)->forward(out);
    // odd sizes: reflect-pad one column/row on the right/bottom
    std::vector<int64_t> padding{0, 0, 0, 0};
    if (out.size(-1) != skip.size(-1)) padding[1] = 1;
    if (out.size(-2) != skip.size(-2)) padding[3] = 1;
    if (padding[1] + padding[3] != 0)
      out = F::pad(out, F::PadFuncOptions(padding).mode(torch::kReflect));
    out = torch::cat({out, skip}, 1);
    if (auto* block = up_conv[i]->as<ConvBlockImpl>())
      out = block->forward(out);
    else
      out = up_conv[i]->as<torch::nn::SequentialImpl>()->forward(out);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// NormUnet

NormUnetImpl::NormUnetImpl(NormUnetOptions opts) : options(opts) {
  unet = register_module("unet", Unet(UnetOptions(opts.in_chans(), opts.out_chans())
                                          .chans(opts.chans())
                                          .num_pool_layers(opts.num_pools())
                                          .drop_prob(opts.drop_prob())));
}

torch::Tensor NormUnetImpl::forward(const torch::Tensor& x) {
  RB_ASSERT(x.dim() == 5 && x.size(-1) == 2, "NormUnet wants [B C H W 2]");
  // complex_to_chan_dim: [b c h w 2] -> [b 2c h w] ordered [re..., im...]
  const int64_t b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  torch::Tensor y = x.permute({0, 4, 1, 2, 3}).reshape({b, 2 * c, h, w});
  // group norm over the re and the im group, unbiased std, no eps
  // (several complex channels, e.g. the dual-domain network's [x, xk]: one mean/std per
  // group over all of them, as for one)
  auto g = y.view({b, 2, c * h * w});
  auto mean = g.mean(2).view({b, 2, 1, 1, 1});
  auto std = g.std(2).view({b, 2, 1, 1, 1});
  y = ((y.view({b, 2, c, h, w}) - mean) / std).view({b, 2 * c, h, w});
  // zero pad to multiples of 16
  const int64_t w_mult = ((w - 1) | 15) + 1, h_mult = ((h - 1) | 15) + 1;
  const int64_t wl = (w_mult - w) / 2, wr = (w_mult - w) - wl;
  const int64_t hl = (h_mult - h) / 2, hr = (h_mult - h) - hl;
  y = torch::constant_pad_nd(y, {wl, wr, hl, hr}, 0.0);
  y = unet->forward(y);
  y = y.narrow(-2, hl, h).narrow(-1, wl, w);
  // chan_complex_to_last_dim: [b 2c' h w] -> [b c' h w 2]
  y = y.view({b, 2, y.size(1) / 2, h, w}) * std + mean;
  return y.permute({0, 2, 3, 4, 1}).contiguous();
}

// ---------------------------------------------------------------------------------------
// Sensitivity model

std::pair<int64_t, int64_t> pad_and_num_low_freqs(const torch::Tensor& mask,
                                                  int64_t num_low_frequencies) {
  const int64_t W = mask.size(-2);
  int64_t nlf = num_low_frequencies;
  if (nlf <= 0) {
    auto m = mask.select(0, 0).reshape({W}).to(torch::kCPU).to(torch::kBool).contiguous();
    const bool* p = m.data_ptr<bool>();
    const int64_t cent = W / 2;
    int64_t left = 0, right = 0;
    for (int64_t j = cent - 1; j >= 0 && p[j]; --j) ++left;
    for (int64_t j = cent; j < W && p[j]; ++j) ++right;
    // torch.argmin over an all-ones half returns 0, so a half without zeros counts 0
    if (left == cent) left = 0;
    if (right == W - cent) right = 0;
    nlf = std::max<int64_t>(2 * std::min(left, right), 1);
  }
  return {(W - nlf + 1) / 2, nlf};
}

SensitivityModelImpl::SensitivityModelImpl(int64_t chans, int64_t num_pools, bool mask_center_)
    : mask_center(mask_center_) {
  norm_unet = register_module("norm_unet", NormUnet(NormUnetOptions(chans, num_pools)));
}

torch::Tensor SensitivityModelImpl::forward(const torch::Tensor& masked_kspace,
                                            const torch::Tensor& mask,
                                            int64_t num_low_frequencies) {
  torch::Tensor k = masked_kspace;
  if (mask_center) {
    auto [pad, nlf] = pad_and_num_low_freqs(mask, num_low_frequencies);
    const int64_t W = k.size(-2);
    auto keep = torch::zeros({W}, k.options());
    keep.narrow(0, pad, std::min(nlf, W - pad)).fill_(1.0);
    k = k * keep.view({1, 1, 1, W, 1});
  }
  auto images = ifft2c(k);
  const int64_t b = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  auto s = norm_unet->forward(images.reshape({b * c, 1, h, w, 2})).view({b, c, h, w, 2});
  // divide by the root sum of squares over coils
  return s / rss_complex(s, 1).unsqueeze(-1).unsqueeze(1);
}

// ---------------------------------------------------------------------------------------
// VarNet

VarNetBlockImpl::VarNetBlockImpl(NormUnetOptions opts) {
  model = register_module("model", NormUnet(opts));
  dc_weight = register_parameter("dc_weight", torch::ones({1}));
}

torch::Tensor sens_expand(const torch::Tensor& x, const torch::Tensor& s) {
  return fft2c(complex_mul(x, s));
}

torch::Tensor sens_reduce(const torch::Tensor& x, const torch::Tensor& s) {
  // sum_c conj(S_c) ifft2c(x_c), the conjugate folded into the complex product
  auto img = torch::view_as_complex(ifft2c(x));
  auto prod = img * torch::view_as_complex(s.contiguous()).conj();
  return torch::view_as_real(prod.sum(1, /*keepdim=*/true));
}


torch::Tensor VarNetBlockImpl::forward(const torch::Tensor& current, const torch::Tensor& ref,
                                       const torch::Tensor& mask, const torch::Tensor& sens) {
  auto zero = torch::zeros({1, 1, 1, 1, 1}, current.options());
  auto soft_dc = torch::where(mask, current - ref, zero) * dc_weight;
  if (!use_regularizer) return current - soft_dc;
  auto model_term = sens_expand(model->forward(sens_reduce(current, sens)), sens);
  return current - soft_dc - model_term;
}

void check_kspace_net_input(const char* net, const torch::Tensor& masked_kspace,
                            const torch::Tensor& mask, const torch::Tensor& init) {
  RB_ASSERT(masked_kspace.dim() == 5 && masked_kspace.size(-1) == 2, net,
            " wants k-space [B C H W 2]");
  RB_ASSERT(mask.dim() == 5 && mask.scalar_type() == torch::kBool, net, " wants a bool mask");
  RB_ASSERT(!init.defined() || init.sizes() == masked_kspace.sizes(), net,
            ": init k-space must have the shape of the masked k-space");
}

VarNetImpl::VarNetImpl(VarNetOptions opts) : options(opts) {
  RB_CHECK(opts.num_cascades() >= 1 && opts.chans() >= 1 && opts.pools() >= 1 &&
               opts.sens_chans() >= 1 && opts.sens_pools() >= 1,
           "VarNet options: cascades, chans, pools, sens-chans, sens-pools must be >= 1");
  sens_net = register_module(
      "sens_net", SensitivityModel(opts.sens_chans(), opts.sens_pools(), opts.mask_center()));
  cascades = register_module("cascades", torch::nn::ModuleList());
  for (int64_t i = 0; i < opts.num_cascades(); ++i)
    cascades->push_back(VarNetBlock(NormUnetOptions(opts.chans(), opts.pools())));
}

torch::Tensor VarNetImpl::forward(const torch::Tensor& masked_kspace, const torch::Tensor& mask,
                                  int64_t num_low_frequencies, const torch::Tensor& init) {
  return unrolled_kspace_rss<VarNetBlockImpl>("VarNet", sens_net, cascades, masked_kspace, mask,
                                              num_low_frequencies, init);
}

// ---------------------------------------------------------------------------------------
// SSIM loss

SSIMLossImpl::SSIMLossImpl(int64_t win_size_, double k1_, double k2_)
    : win_size(win_size_), k1(k1_), k2(k2_) {
  const double np = static_cast<double>(win_size * win_size);
  cov_norm = np / (np - 1.0);
  w = register_buffer("w", torch::ones({1, 1, win_size, win_size}) / static_cast<float>(np));
}

torch::Tensor SSIMLossImpl::forward(const torch::Tensor& x, const torch::Tensor& y,
                                    const torch::Tensor& data_range) {
  RB_ASSERT(x.dim() == 4 && y.sizes() == x.sizes(), "SSIMLoss wants x, y [B 1 H W]");
  auto win = w.to(x.options());
  auto dr = data_range.to(x.options()).view({-1, 1, 1, 1});
  auto c1 = (k1 * dr).pow(2), c2 = (k2 * dr).pow(2);
  auto ux = F::conv2d(x, win), uy = F::conv2d(y, win);
  auto uxx = F::conv2d(x * x, win), uyy = F::conv2d(y * y, win), uxy = F::conv2d(x * y, win);
  auto vx = cov_norm * (uxx - ux * ux);
  auto vy = cov_norm * (uyy - uy * uy);
  auto vxy = cov_norm * (uxy - ux * uy);
  auto a1 = 2 * ux * uy + c1, a2 = 2 * vxy + c2;
  auto b1 = ux.pow(2) + uy.pow(2) + c1, b2 = vx + vy + c2;
  auto s = (a1 * a2) / (b1 * b2);
  return 1 - s.mean();
}

int64_t count_parameters(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

}  // namespace rb::ml
