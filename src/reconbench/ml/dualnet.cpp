// Dual-domain cascaded network (dualnet.hpp).
#include "reconbench/ml/dualnet.hpp"

#include "reconbench/core/error.hpp"

namespace rb::ml {

DualNetBlockImpl::DualNetBlockImpl(int64_t chans, int64_t pools) {
  kspace_model = register_module("kspace_model", NormUnet(NormUnetOptions(chans, pools)));
  image_model = register_module("image_model", NormUnet(NormUnetOptions(chans, pools).in_chans(4)));
  dc_weight = register_parameter("dc_weight", torch::ones({1}));
}

torch::Tensor DualNetBlockImpl::forward(const torch::Tensor& current, const torch::Tensor& ref,
                                        const torch::Tensor& mask, const torch::Tensor& sens) {
  auto zero = torch::zeros({1, 1, 1, 1, 1}, current.options());
  auto soft_dc = torch::where(mask, current - ref, zero) * dc_weight;
  auto x = sens_reduce(current, sens);                    // [B 1 H W 2]
  auto xk = ifft2c(kspace_model->forward(fft2c(x)));      // [B 1 H W 2]
  auto r = image_model->forward(torch::cat({x, xk}, 1));  // [B 2 H W 2] -> [B 1 H W 2]
  return current - soft_dc - sens_expand(r, sens);
}

DualNetImpl::DualNetImpl(DualNetOptions opts) : options(opts) {
  RB_CHECK(opts.num_cascades() >= 1 && opts.chans() >= 1 && opts.pools() >= 1 &&
               opts.sens_chans() >= 1 && opts.sens_pools() >= 1,
           "dual-domain network options: cascades, chans, pools, sens-chans, sens-pools must "
           "be >= 1");
  sens_net = register_module(
      "sens_net", SensitivityModel(opts.sens_chans(), opts.sens_pools(), opts.mask_center()));
  cascades = register_module("cascades", torch::nn::ModuleList());
  for (int64_t i = 0; i < opts.num_cascades(); ++i)
    cascades->push_back(DualNetBlock(opts.chans(), opts.pools()));
}

torch::Tensor DualNetImpl::forward(const torch::Tensor& masked_kspace, const torch::Tensor& mask,
                                   int64_t num_low_frequencies, const torch::Tensor& init) {
  return unrolled_kspace_rss<DualNetBlockImpl>("DualNet", sens_net, cascades, masked_kspace,
                                               mask, num_low_frequencies, init);
}

}  // namespace rb::ml
