// The learned methods' input format (ml/model_input.hpp): removing the readout
// oversampling keeps the mask and the image exactly, coil compression and the intensity
// step are undone in the output, unet-grappa starts as GRAPPA, varnet-grappa starts its
// cascades from the GRAPPA-filled k-space.
#include <gtest/gtest.h>

#include "reconbench/fft/fft.hpp"
#include "reconbench/fft/transforms.hpp"
#include "reconbench/ml/infer.hpp"
#include "reconbench/ml/model_input.hpp"
#include "reconbench/recon/grappa.hpp"
#include "synthetic_slice.hpp"

using namespace rb;
using namespace rb::ml;

namespace {

// A smooth object in the central half of a 2x oversampled readout, C coils with smooth
// phase ramps, masked with every 3rd column plus an 8-column centre; [C 2R W].
struct Case {
  Array<cfloat> k;
  std::vector<float> mask;
  IsmrmrdInfo header;
};

Case make_case(int64_t C = 4, int64_t R = 24, int64_t W = 24) {
  Case c;
  const int64_t H = 2 * R;
  Array<cfloat> img({C, H, W});
  for (int64_t q = 0; q < C; ++q)
    for (int64_t i = 0; i < H; ++i)
      for (int64_t j = 0; j < W; ++j) {
        const double y = (i - H / 2.0) / (R / 2.0), x = (j - W / 2.0) / (W / 2.0);
        const double obj = (y * y + x * x < 0.8) ? 1.0 + 0.3 * std::cos(3 * x) * std::sin(2 * y) : 0.0;
        const double sens = std::exp(-((x - std::cos(q)) * (x - std::cos(q)) + (y - std::sin(q)) * (y - std::sin(q))) / 2);
        img.at(q, i, j) = std::polar<float>(static_cast<float>(obj * sens), static_cast<float>(0.3 * q + 0.2 * x));
      }
  c.k = img;
  rb::fft2c(c.k.view());
  c.mask.assign(static_cast<size_t>(W), 0.f);
  for (int64_t j = 0; j < W; ++j)
    if (j % 3 == 0 || std::abs(j - W / 2) < 4) c.mask[j] = 1;
  for (int64_t i = 0; i < c.k.size(); ++i)
    if (c.mask[i % W] == 0) c.k[i] = 0;
  c.header.recon_x = R;
  c.header.recon_y = W;
  c.header.enc_x = H;
  c.header.enc_y = W;  // acquired phase columns [0, W)
  c.header.pe_center = W / 2;
  c.header.pe_max = W - 1;
  return c;
}

SliceInput input_of(const Case& c) {
  SliceInput in;
  in.kspace = c.k.view();
  in.mask = c.mask;
  in.header = &c.header;
  in.crop_h = c.header.recon_x;
  in.crop_w = c.header.recon_y;
  return in;
}

ModelSpec small_spec(ModelKind kind) {
  ModelSpec s = synth::reduced_spec(kind, 2, 4, 2);
  s.input = {1, 0, true};
  return s;
}

}  // namespace

TEST(ModelInput, ReadoutCropKeepsTheMaskAndTheImageExactly) {
  torch::set_num_threads(1);
  const Case c = make_case();
  ModelSpec spec = small_spec(ModelKind::VarNet);
  spec.input = {1, 0, false};
  const auto x = make_model_input(spec, input_of(c));
  ASSERT_EQ(x.kspace.sizes(), (std::vector<int64_t>{1, 4, 24, 24, 2}));
  // unsampled columns stay exactly zero: data consistency is exact in the cropped grid
  auto cols = x.kspace.abs().sum({0, 1, 2, 4});
  for (int64_t j = 0; j < 24; ++j) {
    if (c.mask[j] == 0) {
      EXPECT_EQ(cols[j].item<float>(), 0.f) << j;
    }
  }
  // the image of the cropped k-space is the central half of the original image
  auto full = ifft2c(kspace_to_tensor(c.k.view())).narrow(2, 12, 24);
  auto crop = ifft2c(x.kspace);
  EXPECT_LT((full - crop).abs().max().item<float>(), 1e-5f * full.abs().max().item<float>());
}

TEST(ModelInput, CoilsAndIntensityAreUndoneInTheOutput) {
  torch::set_num_threads(1);
  Case c = make_case(6);
  ModelSpec spec = small_spec(ModelKind::VarNet);
  spec.input = {1, 3, true};
  torch::manual_seed(1);
  Model m(spec);
  auto in = input_of(c);
  EXPECT_EQ(make_model_input(spec, in).coils, 3);
  EXPECT_EQ(make_model_input(spec, in, true, 2).coils, 2);  // the coils=K parameter
  EXPECT_EQ(make_model_input(spec, in, true, 0).coils, 6);
  const auto y1 = m.reconstruct(in);
  for (auto& v : c.k.vec()) v *= 1000.f;
  const auto y2 = m.reconstruct(input_of(c));
  // the network sees the same normalised input, so the output scales with the data
  double peak = 0, err = 0;
  for (size_t i = 0; i < y1.vec().size(); ++i) {
    peak = std::max(peak, static_cast<double>(y1.vec()[i]));
    err = std::max(err, std::abs(static_cast<double>(y2.vec()[i]) / 1000.0 - y1.vec()[i]));
  }
  EXPECT_LT(err, 1e-4 * peak);
}

TEST(ModelInput, UnetGrappaStartsAsGrappa) {
  torch::set_num_threads(1);
  const Case c = make_case();
  const ModelSpec spec = small_spec(ModelKind::UnetGrappa);
  torch::manual_seed(2);
  Model m(spec);  // zero-initialised last convolution
  const auto y = m.reconstruct(input_of(c));
  // GRAPPA on the same normalised k-space, RSS, crop, back to data units
  const auto x = make_model_input(spec, input_of(c));
  auto g = x.base.view({24, 24}) * x.std + x.mean;
  g = g / x.scale;
  const auto yt = array_to_tensor(y.view());
  EXPECT_LT((yt - g).abs().max().item<float>(), 1e-5f * g.abs().max().item<float>());
  // and it differs from zero-filled: the GRAPPA fill is really there
  const auto zf = array_to_tensor(zero_filled_rss(c.k.view(), 24, 24).view());
  EXPECT_GT((yt - zf).abs().max().item<float>(), 1e-2f * zf.max().item<float>());
}

TEST(ModelInput, VarNetGrappaStartsFromTheGrappaKspace) {
  torch::set_num_threads(1);
  const Case c = make_case();
  ModelSpec spec = small_spec(ModelKind::VarNetGrappa);
  spec.input = {1, 0, false};
  const auto x = make_model_input(spec, input_of(c));
  ASSERT_TRUE(x.init.defined());
  // the init is GRAPPA on the cropped k-space; measured columns equal the data
  recon::GrappaOptions go;
  recon::fill_acquired_range_only(go, &c.header, 24);
  Array<cfloat> kc({4, 24, 24});
  std::memcpy(static_cast<void*>(kc.data()), torch::view_as_complex(x.kspace.squeeze(0).contiguous()).data_ptr(),
              sizeof(cfloat) * kc.size());
  const auto filled = recon::grappa(kc.view(), c.mask, go);
  EXPECT_TRUE(torch::allclose(x.init, kspace_to_tensor(filled.view())));
  EXPECT_FALSE(torch::allclose(x.init, x.kspace));
  // a model with no cascade regulariser and no data-consistency weight returns the init
  torch::manual_seed(3);
  Model m(spec);
  {
    torch::NoGradGuard ng;
    for (auto& p : m.varnet->named_parameters(true))
      if (p.key().find("dc_weight") != std::string::npos) p.value().zero_();
  }
  for (size_t i = 0; i < m.varnet->cascades->size(); ++i)
    m.varnet->cascades->ptr<VarNetBlockImpl>(i)->use_regularizer = false;
  auto y = array_to_tensor(m.reconstruct(input_of(c)).view());
  auto expect = center_crop(rss_complex(ifft2c(x.init), 1), 24, 24).reshape({24, 24});
  EXPECT_LT((y - expect).abs().max().item<float>(), 1e-5f * expect.max().item<float>());
}
