#include "reconbench/ml/model_input.hpp"

#include <cmath>

#include "reconbench/core/error.hpp"
#include "reconbench/fft/transforms.hpp"
#include "reconbench/recon/grappa.hpp"
#include "reconbench/recon/vendor.hpp"

namespace rb::ml {

ModelInput ModelInput::to(torch::Device d) const {
  ModelInput x = *this;
  for (auto* t : {&x.kspace, &x.mask, &x.init, &x.image, &x.base})
    if (t->defined()) *t = t->to(d);
  return x;
}

namespace {

// (x - mean) / (std + 1e-11), fastMRI's normalize_instance with given statistics
torch::Tensor normalise(const Array<float>& img, double mean, double std, int64_t h, int64_t w) {
  return ((array_to_tensor(img.view()) - mean) / (std + 1e-11)).view({1, 1, h, w});
}

// Whether the readout must be resampled to the format's `oversampling` x recon width: only
// when the header gives recon_x (without it the data's form is unknown and the k-space is
// used as it is, as fastMRI's models do) and the data's own oversampling, read / recon_x
// rounded, differs (GE-like read = recon_x is padded for a 2x model; Siemens-like read >=
// 1.5 recon_x is kept for a 2x model and cropped for a 1x one).
bool resample_readout(int64_t read, const IsmrmrdInfo* header, int64_t oversampling) {
  if (!header || header->recon_x <= 0) return false;
  const auto own = std::llround(static_cast<double>(read) / static_cast<double>(header->recon_x));
  return own != oversampling;
}

}  // namespace

ModelInput make_model_input(const ModelSpec& spec, const SliceInput& in, bool normalize,
                            int64_t virtual_coils) {
  RB_CHECK(in.kspace.ndim() == 3, "learned method: k-space slice must be [coil read phase]");
  RB_CHECK(static_cast<int64_t>(in.mask.size()) == in.kspace.dim(2), "mask length ",
           in.mask.size(), " differs from the k-space phase size ", in.kspace.dim(2));
  recon::VendorOptions vo;
  vo.enabled = true;
  vo.readout = normalize && resample_readout(in.kspace.dim(1), in.header,
                                             spec.input.readout_oversampling);
  vo.readout_oversampling = spec.input.readout_oversampling;
  vo.intensity = normalize && spec.input.intensity;
  vo.virtual_coils = virtual_coils >= 0 ? virtual_coils : spec.input.virtual_coils;
  recon::NormalizedSlice ns = recon::normalize_slice(in.kspace, in.header, vo);
  const auto k = ns.kspace.view();

  ModelInput x;
  x.scale = ns.scale;
  x.coils = k.dim(0);
  x.num_low_frequencies = in.num_low_frequencies;
  x.crop_h = std::min(in.crop_h, k.dim(1));
  x.crop_w = std::min(in.crop_w, k.dim(2));
  const int64_t h = x.crop_h, w = x.crop_w;
  Array<cfloat> filled;
  if (uses_grappa(spec.kind)) {
    recon::GrappaOptions go;
    recon::fill_acquired_range_only(go, in.header, k.dim(2));
    filled = recon::grappa(k, in.mask, go);
  }
  switch (spec.kind) {
    case ModelKind::Unet: {
      auto u = unet_transform(k, h, w);
      x.image = u.image;
      x.mean = u.mean;
      x.std = u.std;
      break;
    }
    case ModelKind::UnetGrappa: {
      Array<float> g = zero_filled_rss(filled.view(), h, w), zf = zero_filled_rss(k, h, w);
      auto gt = array_to_tensor(g.view());
      x.mean = gt.mean().item<double>();
      x.std = gt.std().item<double>();  // unbiased, as normalize_instance
      x.base = normalise(g, x.mean, x.std, h, w);
      x.image = torch::cat({x.base, normalise(zf, x.mean, x.std, h, w)}, 1).clamp(-6, 6);
      break;
    }
    case ModelKind::VarNetGrappa:
    case ModelKind::DualNetGrappa:
      x.init = kspace_to_tensor(filled.view());
      [[fallthrough]];
    case ModelKind::VarNet:
    case ModelKind::DualNet:
    case ModelKind::RecurrentVarNet:
    case ModelKind::JointICNet:
      x.kspace = kspace_to_tensor(k);
      x.mask = mask_to_tensor(in.mask);
      break;
  }
  return x;
}

torch::Tensor model_forward(Model& model, const ModelInput& x) {
  const int64_t h = x.crop_h, w = x.crop_w;
  switch (model.spec().kind) {
    case ModelKind::Unet: return model.unet->forward(x.image).view({h, w});
    case ModelKind::UnetGrappa: return (x.base + model.unet->forward(x.image)).view({h, w});
    case ModelKind::VarNet:
    case ModelKind::VarNetGrappa:
    case ModelKind::DualNet:
    case ModelKind::DualNetGrappa:
    case ModelKind::RecurrentVarNet:
    case ModelKind::JointICNet: {
      auto out = model.knet->forward(x.kspace, x.mask, x.num_low_frequencies, x.init);
      return center_crop(out, h, w).reshape({h, w});
    }
  }
  RB_ASSERT(false, "unknown model kind");
  return {};
}

torch::Tensor to_data_units(const torch::Tensor& y, const ModelInput& x) {
  return (y * x.std + x.mean) / x.scale;
}

torch::Tensor to_network_units(const torch::Tensor& target, const ModelInput& x) {
  return (target * x.scale - x.mean) / (x.std + 1e-11);
}

void zero_last_conv(Unet& unet) {
  torch::NoGradGuard ng;
  const std::string last = "up_conv." + std::to_string(unet->options.num_pool_layers() - 1) + ".1.";
  auto params = unet->named_parameters(true);
  params[last + "weight"].zero_();
  params[last + "bias"].zero_();
}

}  // namespace rb::ml
