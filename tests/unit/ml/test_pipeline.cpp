// SSIMLoss vs the evaluation module, the state_dict converter on a synthetic dict written by
// Debian's python3-torch, weights save/load through Model, transforms.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "reconbench/eval/metrics.hpp"
#include "reconbench/ml/infer.hpp"
#include "reconbench/ml/pipeline.hpp"
#include "reconbench/ml/model_input.hpp"

using namespace rb;
using namespace rb::ml;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir(const std::string& name) {
  auto d = fs::temp_directory_path() / ("rb_ml_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

int run(const std::string& cmd) { return std::system(cmd.c_str()); }

}  // namespace

TEST(Pipeline, SsimLossEqualsOneMinusEvalSsim) {
  torch::set_num_threads(1);
  torch::manual_seed(5);
  for (auto [h, w] : {std::pair{32, 27}, std::pair{19, 40}}) {
    auto gt = torch::rand({h, w}) * 3;
    auto pred = gt + 0.3 * torch::randn({h, w});
    const double dr = gt.max().item<double>();
    Array<float> a = tensor_to_array(gt), b = tensor_to_array(pred);
    const double ref = eval::ssim_2d(a.view(), b.view(), dr);
    SSIMLoss loss;
    // double precision: the definitions agree to rounding
    auto ld = loss->forward(pred.to(torch::kDouble).view({1, 1, h, w}),
                            gt.to(torch::kDouble).view({1, 1, h, w}),
                            torch::full({1}, dr, torch::kDouble));
    EXPECT_NEAR(ld.item<double>(), 1.0 - ref, 1e-6);
    // float32 as used in training: float rounding only
    auto lf = loss->forward(pred.view({1, 1, h, w}), gt.view({1, 1, h, w}),
                            torch::full({1}, dr));
    EXPECT_NEAR(lf.item<double>(), 1.0 - ref, 2e-5);
  }
}

TEST(Pipeline, UnetTransformNormalisesWithUnbiasedStd) {
  torch::manual_seed(1);
  auto k = torch::randn({3, 20, 16, 2});
  auto kc = torch::view_as_complex(k.contiguous()).contiguous();
  Array<cfloat> ka({3, 20, 16});
  std::memcpy(static_cast<void*>(ka.data()), kc.data_ptr(), sizeof(cfloat) * ka.size());
  auto x = unet_transform(ka.view(), 12, 10);
  auto img = center_crop(rss(complex_abs(ifft2c(k.unsqueeze(0))), 1), 12, 10);
  const double mean = img.mean().item<double>(), sd = img.std().item<double>();
  EXPECT_NEAR(x.mean, mean, 1e-5 * std::abs(mean));
  EXPECT_NEAR(x.std, sd, 1e-5 * sd);
  auto expect = ((img - mean) / (sd + 1e-11)).clamp(-6, 6).view({1, 1, 12, 10});
  EXPECT_LT((x.image - expect).abs().max().item<float>(), 1e-4f);
}

TEST(Pipeline, ModelSaveLoadRoundTripAndReconstruct) {
  auto dir = temp_dir("model");
  ModelSpec spec = ModelSpec::defaults(ModelKind::VarNet);
  spec.num_cascades = 2;
  spec.chans = 4;
  spec.pools = 2;
  spec.sens_chans = 4;
  spec.sens_pools = 2;
  torch::manual_seed(2);
  Model a(spec);
  a.save(dir / "v.pt");
  ASSERT_TRUE(fs::exists(dir / "v.json"));
  Model b = Model::load(dir / "v.pt");
  EXPECT_EQ(b.spec().num_cascades, 2);
  EXPECT_EQ(b.spec().chans, 4);
  torch::manual_seed(3);
  Array<cfloat> k({3, 40, 24});
  auto r = torch::randn({3 * 40 * 24 * 2});
  std::memcpy(static_cast<void*>(k.data()), r.data_ptr<float>(), sizeof(float) * r.numel());
  std::vector<float> mask(24, 0.f);
  for (int j = 0; j < 24; j += 3) mask[j] = 1;
  for (int j = 10; j < 14; ++j) mask[j] = 1;
  for (int64_t i = 0; i < k.size(); ++i)
    if (mask[i % 24] == 0) k[i] = 0;
  SliceInput in;
  in.kspace = k.view();
  in.mask = mask;
  in.crop_h = 20;
  in.crop_w = 20;
  auto ya = a.reconstruct(in), yb = b.reconstruct(in);
  ASSERT_EQ(ya.shape(), (Shape{20, 20}));
  EXPECT_EQ(ya.vec(), yb.vec());
  // a wrong description is reported, naming the file
  std::ofstream(dir / "v.json") << R"({"model": "varnet", "num_cascades": 3, "chans": 4,
                                       "pools": 2, "sens_chans": 4, "sens_pools": 2})";
  EXPECT_THROW(Model::load(dir / "v.pt"), UserError);
  EXPECT_THROW(Model::load(dir / "missing.pt"), UserError);
  fs::remove_all(dir);
}

TEST(Pipeline, ConvertsASyntheticPythonStateDict) {
  auto dir = temp_dir("convert");
  // A fastMRI-shaped VarNet state_dict (3 cascades, chans 6, pools 2, sens 4/2) made with
  // Debian's python3-torch from the key/shape rules of fastmri/models, as a plain dict.
  const std::string py = R"PY(
import torch, sys
def unet(prefix, cin, cout, ch, pools, sd):
    def conv(p, i, o):
        sd[p + '.layers.0.weight'] = torch.randn(o, i, 3, 3)
        sd[p + '.layers.4.weight'] = torch.randn(o, o, 3, 3)
    conv(prefix + 'down_sample_layers.0', cin, ch); c = ch
    for i in range(1, pools):
        conv(prefix + 'down_sample_layers.%d' % i, c, 2 * c); c *= 2
    conv(prefix + 'conv', c, 2 * c)
    for i in range(pools - 1):
        sd[prefix + 'up_transpose_conv.%d.layers.0.weight' % i] = torch.randn(2 * c, c, 2, 2)
        conv(prefix + 'up_conv.%d' % i, 2 * c, c); c //= 2
    i = pools - 1
    sd[prefix + 'up_transpose_conv.%d.layers.0.weight' % i] = torch.randn(2 * c, c, 2, 2)
    conv(prefix + 'up_conv.%d.0' % i, 2 * c, c)
    sd[prefix + 'up_conv.%d.1.weight' % i] = torch.randn(cout, c, 1, 1)
    sd[prefix + 'up_conv.%d.1.bias' % i] = torch.randn(cout)
torch.manual_seed(0)
sd = {}
unet('sens_net.norm_unet.unet.', 2, 2, 4, 2, sd)
for n in range(3):
    sd['cascades.%d.dc_weight' % n] = torch.tensor([0.5 + n])
    unet('cascades.%d.model.unet.' % n, 2, 2, 6, 2, sd)
torch.save(sd, sys.argv[1] + '/varnet.pt')
torch.save({'state_dict': {'varnet.' + k: v for k, v in sd.items()}, 'epoch': 3}, sys.argv[1] + '/ckpt.pt')
u = {}
unet('', 1, 1, 5, 3, u)
torch.save(u, sys.argv[1] + '/unet.pt')
import collections
torch.save(collections.OrderedDict(u), sys.argv[1] + '/ordered.pt')
print(len(sd), sum(v.numel() for v in sd.values()), float(sd['cascades.1.model.unet.conv.layers.4.weight'].sum()))
)PY";
  std::ofstream(dir / "make.py") << py;
  ASSERT_EQ(run("/usr/bin/python3 " + (dir / "make.py").string() + " " + dir.string() + " > " +
                (dir / "out.txt").string()),
            0)
      << "python3-torch is required for this test (scripts/install-deps installs it)";
  int64_t n_py = 0, numel_py = 0;
  double sum_py = 0;
  std::ifstream(dir / "out.txt") >> n_py >> numel_py >> sum_py;

  auto r = convert_state_dict(dir / "varnet.pt", dir / "v.pt");
  EXPECT_EQ(r.model, "varnet");
  EXPECT_EQ(r.tensors, n_py);
  EXPECT_EQ(r.parameters, numel_py);
  Model m = Model::load(dir / "v.pt");
  EXPECT_EQ(m.spec().num_cascades, 3);
  EXPECT_EQ(m.spec().chans, 6);
  EXPECT_EQ(m.spec().pools, 2);
  EXPECT_EQ(m.spec().sens_chans, 4);
  EXPECT_EQ(m.spec().sens_pools, 2);
  auto params = m.module().named_parameters(true);
  EXPECT_FLOAT_EQ(params["cascades.2.dc_weight"].item<float>(), 2.5f);
  EXPECT_NEAR(params["cascades.1.model.unet.conv.layers.4.weight"].sum().item<double>(), sum_py,
              1e-3);

  auto rc = convert_state_dict(dir / "ckpt.pt", dir / "c.pt", "varnet.");
  EXPECT_EQ(rc.tensors, n_py);
  Model mc = Model::load(dir / "c.pt");
  for (const auto& p : m.module().named_parameters(true))
    EXPECT_TRUE(torch::equal(p.value(), mc.module().named_parameters(true)[p.key()])) << p.key();

  auto ru = convert_state_dict(dir / "unet.pt", dir / "u.pt");
  EXPECT_EQ(ru.model, "unet");
  Model mu = Model::load(dir / "u.pt");
  EXPECT_EQ(mu.spec().chans, 5);
  EXPECT_EQ(mu.spec().pools, 3);
  // an OrderedDict (what torch.save(model.state_dict()) writes) gets a message with the fix
  try {
    convert_state_dict(dir / "ordered.pt", dir / "o.pt");
    ADD_FAILURE() << "OrderedDict accepted?";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("dict(torch.load"), std::string::npos) << e.what();
  }
  EXPECT_THROW(convert_state_dict(dir / "nothing.pt", dir / "n.pt"), UserError);
  fs::remove_all(dir);
}

TEST(Pipeline, VendorNormalizeSwitchPadsOnlyGeLikeReadouts) {
  // The first shipped VarNet's format (readout 2x): GE-like readout 20 = recon width (no
  // oversampling) -> padded to 40 with normalize on, passed as is with normalize off;
  // Siemens-like (readout 40 = 2 x 20) unchanged by both.
  torch::manual_seed(4);
  Array<cfloat> k({2, 20, 16});
  auto r = torch::randn({2 * 20 * 16 * 2});
  std::memcpy(static_cast<void*>(k.data()), r.data_ptr<float>(), sizeof(float) * r.numel());
  IsmrmrdInfo ge;
  ge.recon_x = 20;
  ge.recon_y = 16;
  ModelSpec legacy = ModelSpec::defaults(ModelKind::VarNet);
  ASSERT_EQ(legacy.input.readout_oversampling, 2);
  std::vector<float> all(16, 1.f);
  SliceInput raw_in;
  raw_in.kspace = k.view();
  raw_in.mask = all;
  raw_in.header = &ge;
  EXPECT_EQ(make_model_input(legacy, raw_in, true).kspace.size(2), 40);
  auto off = make_model_input(legacy, raw_in, false).kspace;
  ASSERT_EQ(off.size(2), 20);
  EXPECT_TRUE(torch::equal(off, kspace_to_tensor(k.view())));
  IsmrmrdInfo siemens = ge;
  siemens.recon_x = 10;
  raw_in.header = &siemens;
  EXPECT_TRUE(torch::equal(make_model_input(legacy, raw_in, true).kspace, kspace_to_tensor(k.view())));

  // The learned methods take --param normalize (the one bool grammar of recon/params.hpp) and
  // reject anything else, naming it.
  auto dir = temp_dir("normalize");
  ModelSpec spec = ModelSpec::defaults(ModelKind::VarNet);
  spec.num_cascades = 1;
  spec.chans = 4;
  spec.pools = 2;
  spec.sens_chans = 4;
  spec.sens_pools = 2;
  Model(spec).save(dir / "v.pt");
  ReconMethodConfig cfg;
  cfg.weights = (dir / "v.pt").string();
  auto make = [&](const std::string& v) {
    cfg.params = {{"normalize", v}};
    return make_learned_method("varnet", cfg);
  };
  auto on = make("yes"), raw = make("0");
  try {
    make("maybe");
    ADD_FAILURE() << "normalize=maybe accepted";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("normalize=maybe"), std::string::npos) << e.what();
  }
  try {
    cfg.params = {{"normalise", "1"}};
    make_learned_method("varnet", cfg);
    ADD_FAILURE() << "unknown key accepted";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown key 'normalise'"), std::string::npos) << e.what();
  }
  std::vector<float> mask(16, 0.f);
  for (int j = 0; j < 16; j += 2) mask[j] = 1;
  for (int64_t i = 0; i < k.size(); ++i)
    if (mask[i % 16] == 0) k[i] = 0;
  SliceInput in;
  in.kspace = k.view();
  in.mask = mask;
  in.header = &ge;
  in.crop_h = 16;
  in.crop_w = 16;
  auto ya = on->reconstruct_slice(in), yb = raw->reconstruct_slice(in);
  ASSERT_EQ(ya.shape(), (Shape{16, 16}));
  ASSERT_EQ(yb.shape(), (Shape{16, 16}));
  EXPECT_NE(ya.vec(), yb.vec());  // the padded and the raw readout give different images
  in.header = &siemens;
  EXPECT_EQ(on->reconstruct_slice(in).vec(), raw->reconstruct_slice(in).vec());
  fs::remove_all(dir);
}
