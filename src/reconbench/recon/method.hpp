// The reconstruction-method interface shared by classical methods (recon/) and learned ones
// (ml/). A method turns one test/challenge-style volume into a magnitude image volume
// cropped as fastMRI does (reconSpace, normally 320x320).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "reconbench/core/array.hpp"
#include "reconbench/io/fastmri.hpp"

namespace rb {

// One undersampled slice and what a method needs to know about it.
struct SliceInput {
  ArrayView<const cfloat> kspace;  // [coil read phase], zeros where unsampled
  std::span<const float> mask;     // [phase], 1 = sampled (padding columns already 0)
  int64_t num_low_frequencies = 0;  // 0 = derive from the mask
  double acceleration = 0;
  const IsmrmrdInfo* header = nullptr;  // may be null
  int64_t crop_h = 320, crop_w = 320;   // output size (fastMRI crop incl. FLAIR-203 rule)
  int64_t slice_index = 0;              // index in the volume (seeds per-slice randomness)
};

class ReconMethod {
 public:
  virtual ~ReconMethod() = default;
  virtual std::string name() const = 0;
  // [crop_h crop_w] magnitude image of one slice. Must be thread-safe if
  // parallel_slices() is true (called concurrently for different slices).
  virtual Array<float> reconstruct_slice(const SliceInput& in) const = 0;
  virtual bool parallel_slices() const { return true; }
};

// Registry so that cli/cmd_recon.cpp finds methods by name without knowing their modules;
// each module exposes a registration function called explicitly by the CLI (static
// registrars would be dropped from static libraries): recon/ register_classical_methods()
// (zero-filled, grappa, sense, cs-wavelet, cs-tv), ml/ register_ml_methods() (unet,
// varnet). Options come as key=value strings parsed by the method (documented in its
// Options struct).
struct ReconMethodConfig {
  std::string weights;                       // for learned methods
  std::map<std::string, std::string> params; // --param key=value
};
using ReconMethodFactory = std::function<std::unique_ptr<ReconMethod>(const ReconMethodConfig&)>;
void register_recon_method(const std::string& name, const std::string& help,
                           ReconMethodFactory factory);
std::unique_ptr<ReconMethod> make_recon_method(const std::string& name,
                                               const ReconMethodConfig& cfg);
std::vector<std::pair<std::string, std::string>> recon_method_names();  // (name, help)
void register_classical_methods();  // defined in recon/

// fastMRI's output crop for an image [.. H W]: the header's reconSpace (x, y) matrix (320 x 320
// for brain; 320 x 320 without a header), with the FLAIR-203 rule: if W < crop width the
// crop is (W, W) (fastMRI pl_modules/varnet_module.py); never larger than (H, W).
std::pair<int64_t, int64_t> fastmri_crop_size(const IsmrmrdInfo* header, int64_t h, int64_t w);
// Centre crop of a magnitude image [H W] to (crop_h, crop_w) applying the same rules.
Array<float> crop_for_output(ArrayView<const float> image, int64_t crop_h, int64_t crop_w);

}  // namespace rb
