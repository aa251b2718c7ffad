// Data transforms (fastmri/data/transforms.py UnetDataTransform / VarNetDataTransform), the
// model wrapper used by training and inference, and weights I/O. Includes torch: ml/ only.
#pragma once

#include <filesystem>
#include <span>
#include <string>

#include "reconbench/core/array.hpp"
#include "reconbench/ml/models.hpp"
#include "reconbench/ml/spec.hpp"
#include "reconbench/recon/method.hpp"

namespace rb::ml {

// [coil read phase] complex64 -> [1 C H W 2] float32 (fastMRI's real view)
torch::Tensor kspace_to_tensor(ArrayView<const cfloat> kspace);
// [phase] 0/1 -> [1 1 1 W 1] bool
torch::Tensor mask_to_tensor(std::span<const float> mask);
// float tensor of any shape (squeezed of leading 1s by the caller) -> Array
Array<float> tensor_to_array(const torch::Tensor& t);
torch::Tensor array_to_tensor(ArrayView<const float> a);

// U-Net input: zero-filled RSS of the (masked) k-space, centre-cropped to (h, w),
// normalize_instance (mean, unbiased std, eps 1e-11), clamped to [-6, 6].
struct UnetInput {
  torch::Tensor image;  // [1 1 h w]
  double mean = 0, std = 1;
};
UnetInput unet_transform(ArrayView<const cfloat> masked_kspace, int64_t h, int64_t w);
// The training target under the same normalisation: (target - mean) / (std + eps), clamped.
torch::Tensor unet_target(const torch::Tensor& target, const UnetInput& in);

// A U-Net, VarNet or finalist network (any ModelKind) with its spec.
class Model {
 public:
  explicit Model(ModelSpec spec);  // freshly initialised (torch's RNG)
  // torch::load + the JSON beside it. UserError naming the file on a missing/corrupt file or
  // mismatching parameters.
  static Model load(const std::filesystem::path& weights);
  // Atomic write of weights.pt and weights.json.
  void save(const std::filesystem::path& weights) const;

  const ModelSpec& spec() const { return spec_; }
  ModelSpec& spec() { return spec_; }
  torch::nn::Module& module();
  const torch::nn::Module& module() const;
  std::shared_ptr<torch::nn::Module> module_ptr() const;  // for torch::save/load
  std::vector<torch::Tensor> parameters() { return module().parameters(); }
  void to(torch::Device d);
  torch::Device device() const { return device_; }
  void train(bool on) { module().train(on); }

  // One slice: [crop_h crop_w] magnitude image (inference, eval mode, no grad), through
  // the spec's input format (ml/model_input.hpp). vendor_normalize = false skips the
  // readout and intensity normalisation (the Transfer "without normalisation" variant);
  // virtual_coils >= 0 overrides the spec's coil compression.
  Array<float> reconstruct(const SliceInput& in, bool vendor_normalize = true,
                           int64_t virtual_coils = -1);

  Unet unet{nullptr};      // unet kinds
  VarNet varnet{nullptr};  // varnet kinds (also knet)
  std::shared_ptr<KspaceNetImpl> knet;  // every k-space kind (spec.hpp is_kspace_model)

 private:
  ModelSpec spec_;
  torch::Device device_{torch::kCPU};
};

// The model as a ReconMethod (Model::reconstruct per slice) without taking it over: for
// reconstruct_volume (recon/run.hpp) during training. The model must outlive the method.
std::unique_ptr<ReconMethod> model_method(Model& model, bool vendor_normalize = true);

// "cpu" | "cuda" | "cuda:N"; UserError if CUDA is asked for but unavailable.
torch::Device parse_device(const std::string& name);

}  // namespace rb::ml
