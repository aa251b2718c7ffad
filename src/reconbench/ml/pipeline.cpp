// Transforms, the Model wrapper, weights I/O, the learned ReconMethods and the state_dict
// converter (pipeline.hpp, infer.hpp).
#include "reconbench/ml/pipeline.hpp"

#include <cmath>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <set>

#include "reconbench/core/error.hpp"
#include "reconbench/core/fs.hpp"
#include "reconbench/core/parallel.hpp"
#include "reconbench/fft/transforms.hpp"
#include "reconbench/ml/allocator.hpp"
#include "reconbench/ml/infer.hpp"
#include "reconbench/ml/model_input.hpp"
#include "reconbench/ml/networks.hpp"
#include "reconbench/recon/vendor.hpp"

namespace rb::ml {

// ---------------------------------------------------------------------------------------
// Tensors <-> arrays

torch::Tensor kspace_to_tensor(ArrayView<const cfloat> kspace) {
  RB_ASSERT(kspace.ndim() == 3, "k-space slice must be [coil read phase]");
  auto c = torch::from_blob(const_cast<cfloat*>(kspace.data()),
                            {kspace.dim(0), kspace.dim(1), kspace.dim(2)}, torch::kComplexFloat);
  return torch::view_as_real(c).clone().unsqueeze(0);
}

torch::Tensor mask_to_tensor(std::span<const float> mask) {
  auto m = torch::empty({static_cast<int64_t>(mask.size())}, torch::kBool);
  auto* p = m.data_ptr<bool>();
  for (size_t j = 0; j < mask.size(); ++j) p[j] = mask[j] != 0.0f;
  return m.view({1, 1, 1, -1, 1});
}

Array<float> tensor_to_array(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU).to(torch::kFloat).contiguous();
  Shape shape(c.sizes().begin(), c.sizes().end());
  std::vector<float> data(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  return Array<float>(shape, std::move(data));
}

torch::Tensor array_to_tensor(ArrayView<const float> a) {
  return torch::from_blob(const_cast<float*>(a.data()), a.shape(), torch::kFloat).clone();
}

// ---------------------------------------------------------------------------------------
// Transforms

UnetInput unet_transform(ArrayView<const cfloat> masked_kspace, int64_t h, int64_t w) {
  // fastMRI: ifft2c, complex_center_crop to (h, w), abs, rss over coils (= rss, then crop)
  Array<float> zf = zero_filled_rss(masked_kspace, h, w);
  auto image = array_to_tensor(zf.view());
  // normalize_instance(image, eps=1e-11): torch std is unbiased
  UnetInput out;
  out.mean = image.mean().item<double>();
  out.std = image.std().item<double>();
  out.image = ((image - out.mean) / (out.std + 1e-11)).clamp(-6, 6).view({1, 1, h, w});
  return out;
}

torch::Tensor unet_target(const torch::Tensor& target, const UnetInput& in) {
  return ((target - in.mean) / (in.std + 1e-11)).clamp(-6, 6);
}

// ---------------------------------------------------------------------------------------
// Model

torch::Device parse_device(const std::string& name) {
  try {
    torch::Device d(name);
    RB_CHECK(!d.is_cuda() || torch::cuda::is_available(), "--device ", name,
             ": CUDA is not available in this LibTorch build/machine (use --device cpu)");
    RB_CHECK(d.is_cpu() || d.is_cuda(), "--device ", name, ": only cpu and cuda are supported");
    return d;
  } catch (const c10::Error&) {
    throw UserError("--device " + name + ": not a device name (cpu, cuda, cuda:N)");
  }
}

Model::Model(ModelSpec spec) : spec_(std::move(spec)) {
  if (!is_kspace_model(spec_.kind)) {
    unet = Unet(UnetOptions(spec_.in_chans, spec_.out_chans)
                    .chans(spec_.chans)
                    .num_pool_layers(spec_.pools)
                    .drop_prob(spec_.drop_prob));
    if (spec_.kind == ModelKind::UnetGrappa) zero_last_conv(unet);  // starts as GRAPPA
  } else if (is_varnet(spec_.kind)) {
    varnet = VarNet(VarNetOptions()
                        .num_cascades(spec_.num_cascades)
                        .sens_chans(spec_.sens_chans)
                        .sens_pools(spec_.sens_pools)
                        .chans(spec_.chans)
                        .pools(spec_.pools)
                        .mask_center(spec_.mask_center));
    knet = varnet.ptr();
  } else {
    knet = make_finalist_net(spec_);
  }
}

torch::nn::Module& Model::module() {
  return knet ? static_cast<torch::nn::Module&>(*knet) : static_cast<torch::nn::Module&>(*unet);
}
const torch::nn::Module& Model::module() const {
  return knet ? static_cast<const torch::nn::Module&>(*knet)
              : static_cast<const torch::nn::Module&>(*unet);
}

std::shared_ptr<torch::nn::Module> Model::module_ptr() const {
  if (knet) return knet;
  return unet.ptr();
}

void Model::to(torch::Device d) {
  module().to(d);
  device_ = d;
}

Model Model::load(const std::filesystem::path& weights) {
  RB_CHECK(std::filesystem::exists(weights), "weights ", weights.string(), ": file not found");
  Model m(read_spec(weights));
  try {
    auto module = m.module_ptr();
    torch::load(module, weights.string());
  } catch (const c10::Error& e) {
    std::string msg = e.what_without_backtrace();
    throw UserError("weights " + weights.string() + ": cannot load (" +
                    msg.substr(0, msg.find('\n')) + "); does " +
                    spec_path_for(weights).string() + " describe this file?");
  }
  return m;
}

void Model::save(const std::filesystem::path& weights) const {
  if (weights.has_parent_path()) std::filesystem::create_directories(weights.parent_path());
  AtomicOutput out(weights);
  auto save = [&](const Model& m) { torch::save(m.module_ptr(), out.tmp().string()); };
  if (device_.is_cpu()) {
    save(*this);
  } else {
    // save a CPU copy so that the file loads anywhere; building it must not disturb the
    // global RNG (training determinism)
    auto gen = at::detail::getDefaultCPUGenerator();
    auto state = gen.get_state();
    Model cpu(spec_);
    gen.set_state(state);
    torch::NoGradGuard ng;
    auto src = module().named_parameters(true);
    for (auto& p : cpu.module().named_parameters(true)) p.value().copy_(src[p.key()].cpu());
    save(cpu);
  }
  out.commit();
  write_file_atomic(spec_path_for(weights), to_json(spec_).dump(2) + "\n");
}

Array<float> Model::reconstruct(const SliceInput& in, bool vendor_normalize,
                               int64_t virtual_coils) {
  torch::NoGradGuard ng;
  module().eval();
  const ModelInput x = make_model_input(spec_, in, vendor_normalize, virtual_coils);
  auto y = model_forward(*this, x.to(device_)).to(torch::kCPU);
  return tensor_to_array(to_data_units(y, x));
}

// ---------------------------------------------------------------------------------------
// ReconMethods

namespace {

// A learned method over a model it owns (recon) or borrows (training validation).
class LearnedMethod final : public ReconMethod {
 public:
  LearnedMethod(std::string name, std::unique_ptr<Model> model, bool normalize, int64_t coils)
      : name_(std::move(name)), normalize_(normalize), coils_(coils), owned_(std::move(model)),
        model_(owned_.get()) {}
  LearnedMethod(std::string name, Model& model, bool normalize, int64_t coils)
      : name_(std::move(name)), normalize_(normalize), coils_(coils), model_(&model) {}
  std::string name() const override { return name_; }
  bool parallel_slices() const override { return false; }
  Array<float> reconstruct_slice(const SliceInput& in) const override {
    std::lock_guard lock(mutex_);
    return model_->reconstruct(in, normalize_, coils_);
  }

 private:
  std::string name_;
  bool normalize_;
  int64_t coils_;
  mutable std::mutex mutex_;
  std::unique_ptr<Model> owned_;
  Model* model_;
};

}  // namespace

std::unique_ptr<ReconMethod> model_method(Model& model, bool vendor_normalize) {
  return std::make_unique<LearnedMethod>(model_kind_name(model.spec().kind), model,
                                         vendor_normalize, /*coils=*/-1);
}

std::unique_ptr<ReconMethod> make_learned_method(const std::string& kind,
                                                 const ReconMethodConfig& cfg) {
  return make_learned_method(kind, learned_param_table().parse(cfg.params, kind), cfg.weights);
}

std::unique_ptr<ReconMethod> make_learned_method(const std::string& kind, const LearnedParams& p,
                                                 const std::string& weights_file) {
  std::filesystem::path weights = weights_file;
  if (weights.empty()) {
    weights = source_dir() / "models" / (kind + "_small.pt");
    RB_CHECK(std::filesystem::exists(weights), "method ", kind,
             ": --weights FILE is required (no shipped weights at ", weights.string(), ")");
  }
  torch::set_num_threads(std::max(1, rb::num_threads()));
  keep_freed_memory();
  Model model = Model::load(weights);
  RB_CHECK(model_kind_name(model.spec().kind) == kind, "weights ", weights.string(), " hold a ",
           model_kind_name(model.spec().kind), " model, not ", kind);
  RB_CHECK(p.coils >= -1, "method ", kind, ": --param coils=", p.coils,
           ": expected virtual coils K >= 0 (0 = all coils; -1 = the model's)");
  model.to(parse_device(p.device));
  return std::make_unique<LearnedMethod>(kind, std::make_unique<Model>(std::move(model)),
                                         p.normalize, p.coils);
}

// ---------------------------------------------------------------------------------------
// Converter

namespace {

int64_t count_prefixed(const std::map<std::string, torch::Tensor>& sd, const std::string& prefix,
                       const std::string& suffix) {
  // number of distinct N in "<prefix>N<suffix>"
  int64_t n = 0;
  while (sd.count(prefix + std::to_string(n) + suffix)) ++n;
  return n;
}

const torch::Tensor& need(const std::map<std::string, torch::Tensor>& sd, const std::string& key,
                          const std::string& what) {
  auto it = sd.find(key);
  RB_CHECK(it != sd.end(), what, ": state_dict has no tensor '", key, "'");
  return it->second;
}

}  // namespace

ConvertReport convert_state_dict(const std::filesystem::path& in,
                                 const std::filesystem::path& out_weights,
                                 const std::string& strip_prefix) {
  const std::string what = in.string();
  RB_CHECK(std::filesystem::exists(in), what, ": file not found");
  std::ifstream f(in, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), {});
  c10::IValue root;
  try {
    root = torch::pickle_load(bytes);
  } catch (const c10::Error& e) {
    std::string msg = e.what_without_backtrace();
    throw UserError(what + ": cannot read as a torch.save'd dict of tensors (" +
                    msg.substr(0, msg.find('\n')) +
                    "). Save the state_dict as a plain dict first: python3 -c \"import torch; "
                    "torch.save(dict(torch.load('IN.pt', map_location='cpu')), 'plain.pt')\"");
  }
  RB_CHECK(root.isGenericDict(), what, ": expected a dict of tensors, found ", root.tagKind());
  auto dict = root.toGenericDict();
  if (dict.contains("state_dict") && dict.at("state_dict").isGenericDict())
    dict = dict.at("state_dict").toGenericDict();
  std::map<std::string, torch::Tensor> sd;
  for (const auto& kv : dict) {
    RB_CHECK(kv.key().isString(), what, ": state_dict keys must be strings");
    std::string key = kv.key().toStringRef();
    if (!strip_prefix.empty()) {
      if (key.rfind(strip_prefix, 0) != 0) continue;  // other sub-modules of a checkpoint
      key = key.substr(strip_prefix.size());
    }
    RB_CHECK(kv.value().isTensor(), what, ": entry '", key, "' is not a tensor");
    sd[key] = kv.value().toTensor();
  }
  RB_CHECK(!sd.empty(), what, ": no tensors", strip_prefix.empty() ? "" : " with prefix ",
           strip_prefix);

  ModelSpec spec;
  if (sd.count("cascades.0.dc_weight")) {
    spec = ModelSpec::defaults(ModelKind::VarNet);
    const std::string c0 = "cascades.0.model.unet.", s0 = "sens_net.norm_unet.unet.";
    spec.num_cascades = count_prefixed(sd, "cascades.", ".dc_weight");
    spec.chans = need(sd, c0 + "down_sample_layers.0.layers.0.weight", what).size(0);
    spec.pools = count_prefixed(sd, c0 + "down_sample_layers.", ".layers.0.weight");
    spec.sens_chans = need(sd, s0 + "down_sample_layers.0.layers.0.weight", what).size(0);
    spec.sens_pools = count_prefixed(sd, s0 + "down_sample_layers.", ".layers.0.weight");
  } else if (sd.count("down_sample_layers.0.layers.0.weight")) {
    spec = ModelSpec::defaults(ModelKind::Unet);
    const auto& w0 = sd.at("down_sample_layers.0.layers.0.weight");
    spec.chans = w0.size(0);
    spec.in_chans = w0.size(1);
    spec.pools = count_prefixed(sd, "down_sample_layers.", ".layers.0.weight");
    spec.out_chans =
        need(sd, "up_conv." + std::to_string(spec.pools - 1) + ".1.weight", what).size(0);
  } else {
    throw UserError(what + ": neither a fastMRI VarNet (cascades.N.*) nor a U-Net "
                           "(down_sample_layers.*) state_dict" +
                    (strip_prefix.empty() ? std::string(" (keys with a prefix? use --strip-prefix)")
                                          : std::string()));
  }
  Model model(spec);
  int64_t copied = 0;
  std::set<std::string> used;
  {
    torch::NoGradGuard ng;
    for (auto& p : model.module().named_parameters(true)) {
      const auto& t = need(sd, p.key(), what);
      RB_CHECK(t.sizes() == p.value().sizes(), what, ": tensor '", p.key(), "' has shape ",
               t.sizes(), ", the model expects ", p.value().sizes());
      p.value().copy_(t.to(torch::kFloat));
      used.insert(p.key());
      ++copied;
    }
  }
  for (const auto& [k, t] : sd)
    RB_CHECK(used.count(k), what, ": unexpected tensor '", k, "' (not a parameter of the ",
             model_kind_name(spec.kind), " rebuilt from the shapes)");
  model.spec().training = {{"converted_from", in.filename().string()}};
  model.save(out_weights);
  ConvertReport r;
  r.model = model_kind_name(spec.kind);
  r.tensors = copied;
  r.parameters = count_parameters(model.module());
  r.spec_json = to_json(model.spec()).dump();
  return r;
}

}  // namespace rb::ml
