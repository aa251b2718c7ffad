// Joint-ICNet (jointicnet.hpp).
#include "reconbench/ml/jointicnet.hpp"

#include "reconbench/core/error.hpp"

namespace rb::ml {

JointICNetImpl::JointICNetImpl(JointICNetOptions o) : options(o) {
  RB_CHECK(o.num_iter() >= 1 && o.chans() >= 1 && o.pools() >= 1 && o.sens_chans() >= 1 &&
               o.sens_pools() >= 1,
           "Joint-ICNet options: iterations (cascades), chans, pools, sens-chans, sens-pools "
           "must be >= 1");
  sens_net = register_module(
      "sens_net", SensitivityModel(o.sens_chans(), o.sens_pools(), o.mask_center()));
  image_model = register_module("image_model", NormUnet(NormUnetOptions(o.chans(), o.pools())));
  kspace_model = register_module("kspace_model", NormUnet(NormUnetOptions(o.chans(), o.pools())));
  const int64_t T = o.num_iter();
  lr_sens = register_parameter("lr_sens", torch::full({T}, 0.1));
  lr_image = register_parameter("lr_image", torch::full({T}, 0.1));
  reg_sens = register_parameter("reg_sens", torch::ones({T}));
  reg_image = register_parameter("reg_image", torch::ones({T}));
  reg_kspace = register_parameter("reg_kspace", torch::ones({T}));
}

torch::Tensor JointICNetImpl::forward(const torch::Tensor& masked_kspace, const torch::Tensor& mask,
                                      int64_t num_low_frequencies, const torch::Tensor& init) {
  check_kspace_net_input("Joint-ICNet", masked_kspace, mask, init);
  const auto s_ref = sens_net->forward(masked_kspace, mask, num_low_frequencies);
  auto s = s_ref;
  auto x = sens_reduce(masked_kspace, s);  // [B 1 H W 2]
  const int64_t b = x.size(0);
  const auto m = complex_abs(x).reshape({b, -1}).amax(1).clamp_min(1e-12).view({b, 1, 1, 1, 1});
  x = x / m;
  const auto k0 = masked_kspace / m;
  auto zero = torch::zeros({1, 1, 1, 1, 1}, x.options());
  auto residual = [&](const torch::Tensor& img, const torch::Tensor& maps) {
    return torch::where(mask, sens_expand(img, maps) - k0, zero);
  };
  for (int64_t t = 0; t < options.num_iter(); ++t) {
    // sensitivities: gradient of ||M(E_S x) - k0||^2 in S plus the pull to S_ref
    auto grad_s = complex_mul(ifft2c(residual(x, s)), complex_conj(x)) +
                  reg_sens[t] * (s - s_ref);
    s = s - 2 * lr_sens[t] * grad_s;
    s = s / rss_complex(s, 1).clamp_min(1e-12).unsqueeze(-1).unsqueeze(1);
    // image: data term, image-domain and k-space-domain regularisers
    auto grad_x = sens_reduce(residual(x, s), s) + reg_image[t] * (x - image_model->forward(x)) +
                  reg_kspace[t] * (x - ifft2c(kspace_model->forward(fft2c(x))));
    x = x - 2 * lr_image[t] * grad_x;
  }
  return (complex_abs(x) * m.squeeze(-1)).squeeze(1);
}

}  // namespace rb::ml
