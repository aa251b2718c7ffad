// U-Net / E2E-VarNet / SSIMLoss against the fastMRI reference facts (design note
// fastmri-reference.md §1e): parameter counts, state_dict keys, shapes for odd sizes, soft
// data consistency, optimisation, serialisation.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "reconbench/ml/models.hpp"
#include "synthetic_slice.hpp"

using namespace rb::ml;
using rb::ml::synth::equispaced_mask;
using rb::ml::synth::make_slice;

namespace {

struct TorchThreads : ::testing::Environment {
  void SetUp() override { torch::set_num_threads(1); }
};
const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new TorchThreads);

VarNetOptions tiny_varnet() {
  return VarNetOptions().num_cascades(2).chans(4).pools(2).sens_chans(4).sens_pools(2);
}

}  // namespace

TEST(Models, UnetParameterCountEqualsFastMri) {
  Unet unet;  // Unet(1, 1, chans=32, num_pool_layers=4)
  EXPECT_EQ(count_parameters(*unet), 7756097);
  Unet unet2(UnetOptions(2, 2));
  EXPECT_EQ(count_parameters(*unet2), 7756418);
}

TEST(Models, VarNetParameterCountAndKeysEqualFastMri) {
  VarNet net;  // VarNet(num_cascades=12, sens_chans=8, sens_pools=4, chans=18, pools=4)
  EXPECT_EQ(count_parameters(*net), 29936966);
  EXPECT_EQ(count_parameters(*net->sens_net), 484898);
  EXPECT_EQ(count_parameters(*net->cascades[0]), 2454339);
  auto params = net->named_parameters(true);
  EXPECT_EQ(params.size(), 324u);
  std::set<std::string> keys;
  for (const auto& p : params) keys.insert(p.key());
  for (const char* k :
       {"sens_net.norm_unet.unet.down_sample_layers.0.layers.0.weight",
        "sens_net.norm_unet.unet.up_conv.3.1.bias", "cascades.0.dc_weight",
        "cascades.11.dc_weight", "cascades.3.model.unet.conv.layers.4.weight",
        "cascades.5.model.unet.up_transpose_conv.2.layers.0.weight",
        "cascades.7.model.unet.up_conv.3.0.layers.4.weight",
        "cascades.7.model.unet.up_conv.0.layers.0.weight",
        "cascades.11.model.unet.up_conv.3.1.weight"})
    EXPECT_TRUE(keys.count(k)) << k;
}

TEST(Models, UnetOutputShapesForOddSizes) {
  torch::NoGradGuard ng;
  struct Case {
    std::vector<int64_t> shape;
    int64_t out, chans, pools;
  };
  for (const auto& c : {Case{{1, 1, 15, 12}, 1, 32, 2}, Case{{5, 1, 15, 12}, 10, 32, 2},
                        Case{{3, 2, 13, 18}, 1, 16, 2}, Case{{1, 2, 17, 19}, 3, 8, 2},
                        Case{{1, 1, 37, 45}, 1, 4, 4}}) {
    Unet unet(UnetOptions(c.shape[1], c.out).chans(c.chans).num_pool_layers(c.pools));
    auto y = unet->forward(torch::randn(c.shape));
    EXPECT_EQ(y.sizes(), (std::vector<int64_t>{c.shape[0], c.out, c.shape[2], c.shape[3]}));
  }
}

TEST(Models, VarNetOutputShapeForOddSizes) {
  torch::NoGradGuard ng;
  for (auto [coils, h, w] : {std::tuple{3, 37, 29}, std::tuple{1, 24, 33}, {5, 41, 40}}) {
    VarNet net(tiny_varnet());
    auto s = make_slice(coils, h, w, 1);
    auto mask = equispaced_mask(w, 4, 6);
    auto k = s.kspace * mask;
    auto out = net->forward(k, mask);
    EXPECT_EQ(out.sizes(), (std::vector<int64_t>{1, h, w}));
    EXPECT_TRUE(torch::isfinite(out).all().item<bool>());
  }
}

TEST(Models, NumLowFrequenciesDerivedFromMaskAsFastMri) {
  // 10 centre lines at [11, 21) of W = 32, plus line 0: runs from 15 leftwards: 5, from 16: 5
  auto m = torch::zeros({32}, torch::kBool);
  m.narrow(0, 11, 10).fill_(true);
  m[0] = true;
  auto [pad, nlf] = pad_and_num_low_freqs(m.view({1, 1, 1, 32, 1}), 0);
  EXPECT_EQ(nlf, 10);
  EXPECT_EQ(pad, 11);
  // asymmetric run: 12 lines at [10, 22): left 6, right 6 -> 12; shift by one -> min*2
  m.zero_();
  m.narrow(0, 9, 12).fill_(true);  // [9, 21): left 7, right 5 -> 10
  std::tie(pad, nlf) = pad_and_num_low_freqs(m.view({1, 1, 1, 32, 1}), 0);
  EXPECT_EQ(nlf, 10);
  EXPECT_EQ(pad, 11);
  // an all-ones half counts 0 (argmin semantics) -> nlf = max(0, 1) = 1
  m.fill_(true);
  std::tie(pad, nlf) = pad_and_num_low_freqs(m.view({1, 1, 1, 32, 1}), 0);
  EXPECT_EQ(nlf, 1);
  EXPECT_EQ(pad, 16);
  // a given count wins
  std::tie(pad, nlf) = pad_and_num_low_freqs(m.view({1, 1, 1, 32, 1}), 8);
  EXPECT_EQ(nlf, 8);
  EXPECT_EQ(pad, 12);
}

TEST(Models, SoftDataConsistencyOnlyKeepsSampledKspace) {
  torch::NoGradGuard ng;
  auto s = make_slice(4, 32, 24, 2);
  auto mask = equispaced_mask(24, 3, 4);
  auto ref = s.kspace * mask;
  auto current = torch::randn(ref.sizes());
  VarNetBlock block(NormUnetOptions(4, 2));
  block->use_regularizer = false;
  auto sens = torch::randn(ref.sizes());
  // dc_weight 1: sampled entries become the measured ones, the others are untouched
  auto out = block->forward(current, ref, mask, sens);
  auto m = mask.expand_as(out);
  EXPECT_TRUE(torch::allclose(out.masked_select(m), ref.masked_select(m), 0, 1e-6));
  EXPECT_TRUE(torch::equal(out.masked_select(~m), current.masked_select(~m)));
  // a whole VarNet without regulariser (any dc_weight) returns the input k-space: output =
  // zero-filled RSS image
  VarNet net(tiny_varnet());
  for (size_t i = 0; i < net->cascades->size(); ++i) {
    auto* c = net->cascades->ptr<VarNetBlockImpl>(i).get();
    c->use_regularizer = false;
    c->dc_weight.fill_(0.37);
  }
  auto img = net->forward(ref, mask);
  auto zf = rss(complex_abs(ifft2c(ref)), 1);
  EXPECT_LT((img - zf).abs().max().item<float>(), 1e-5f);
}

TEST(Models, SsimLossOfIdenticalImagesIsZeroAndDecreasesWithSimilarity) {
  SSIMLoss loss;
  auto x = torch::rand({2, 1, 20, 17});
  auto dr = torch::ones({2});
  EXPECT_LT(std::abs(loss->forward(x, x, dr).item<float>()), 1e-6f);
  auto noisy1 = x + 0.05 * torch::randn(x.sizes()), noisy2 = x + 0.3 * torch::randn(x.sizes());
  EXPECT_LT(loss->forward(noisy1, x, dr).item<float>(), loss->forward(noisy2, x, dr).item<float>());
}

TEST(Models, FewOptimisationStepsReduceTheLoss) {
  torch::manual_seed(3);
  auto s = make_slice(4, 32, 24, 3);
  auto mask = equispaced_mask(24, 4, 4);
  auto k = s.kspace * mask;
  VarNet net(tiny_varnet());
  SSIMLoss ssim;
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(3e-3));
  auto dr = s.target.max().view({1});
  std::vector<float> losses;
  for (int step = 0; step < 12; ++step) {
    opt.zero_grad();
    auto out = net->forward(k, mask);
    auto l = ssim->forward(out.unsqueeze(1), s.target.unsqueeze(1), dr);
    l.backward();
    opt.step();
    losses.push_back(l.item<float>());
  }
  EXPECT_LT(losses.back(), 0.9f * losses.front()) << losses.front() << " -> " << losses.back();

  // U-Net with L1 on the normalised zero-filled image
  Unet unet(UnetOptions().chans(4).num_pool_layers(2));
  torch::optim::RMSprop ropt(unet->parameters(), torch::optim::RMSpropOptions(1e-3));
  auto zf = rss(complex_abs(ifft2c(k)), 1).unsqueeze(1);
  auto mean = zf.mean(), sd = zf.std();
  auto in = (zf - mean) / sd, target = ((s.target.unsqueeze(1) - mean) / sd);
  std::vector<float> ul;
  for (int step = 0; step < 15; ++step) {
    ropt.zero_grad();
    auto l = torch::l1_loss(unet->forward(in), target);
    l.backward();
    ropt.step();
    ul.push_back(l.item<float>());
  }
  EXPECT_LT(ul.back(), 0.9f * ul.front()) << ul.front() << " -> " << ul.back();
}

TEST(Models, SaveLoadRoundTripIsExact) {
  auto dir = std::filesystem::temp_directory_path() / "rb_ml_roundtrip";
  std::filesystem::create_directories(dir);
  torch::manual_seed(11);
  VarNet a(tiny_varnet());
  for (auto& p : a->parameters()) {
    torch::NoGradGuard ng;
    p.add_(0.01 * torch::randn(p.sizes()));
  }
  torch::save(a, (dir / "v.pt").string());
  torch::manual_seed(12);
  VarNet b(tiny_varnet());
  torch::load(b, (dir / "v.pt").string());
  auto pa = a->named_parameters(true), pb = b->named_parameters(true);
  ASSERT_EQ(pa.size(), pb.size());
  for (const auto& p : pa) EXPECT_TRUE(torch::equal(p.value(), pb[p.key()])) << p.key();
  torch::NoGradGuard ng;
  auto s = make_slice(3, 24, 20, 4);
  auto mask = equispaced_mask(20, 4, 4);
  EXPECT_TRUE(torch::equal(a->forward(s.kspace * mask, mask), b->forward(s.kspace * mask, mask)));
  std::filesystem::remove_all(dir);
}
