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
#include "reconbench/recon/params.hpp"

namespace rb {

// One undersampled slice and what a method needs to know about it.
struct SliceInput {
  ArrayView<const cfloat> kspace;  // [coil read phase], zeros where unsampled
  std::span<const float> mask;     // [phase], 1 = sampled (padding columns already 0)
  int64_t num_low_frequencies = 0;  // 0 = derive from the mask
  const IsmrmrdInfo* header = nullptr;  // the file's ISMRMRD header; may be null
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

// Registry so that the front ends find methods by name without knowing their modules; each
// module exposes a registration function called explicitly by the CLI (static registrars
// would be dropped from static libraries): recon/ register_classical_methods() (zero-filled,
// grappa, sense, cs-wavelet, cs-tv), ml/ register_learned_methods() (unet, varnet,
// unet-grappa, varnet-grappa; torch-free, built through the LibTorch plugin, ml/loader.hpp;
// register_ml_methods() builds them directly where LibTorch is linked). A method
// declares its parameters once, as a recon::ParamTable (params.hpp) over its options struct;
// the table parses `--param key=value`, and documents the keys for --list-methods and
// docs/commands.md.
struct ReconMethodConfig {
  std::string weights;                        // for learned methods
  std::map<std::string, std::string> params;  // --param key=value
};
struct MethodInfo {
  std::string name, help;
  std::vector<recon::ParamDoc> params;
};
using ReconMethodFactory = std::function<std::unique_ptr<ReconMethod>(const ReconMethodConfig&)>;
// Throws UserError for a parameter map the method does not accept.
using ReconParamCheck = std::function<void(const std::map<std::string, std::string>&)>;
void register_recon_method(MethodInfo info, ReconParamCheck check, ReconMethodFactory factory);

// Registers a method whose parameters are the table's: the factory receives them parsed.
template <class O>
void register_recon_method(
    const std::string& name, const std::string& help, recon::ParamTable<O> table,
    std::function<std::unique_ptr<ReconMethod>(const O&, const ReconMethodConfig&)> make) {
  auto t = std::make_shared<const recon::ParamTable<O>>(std::move(table));
  register_recon_method(
      MethodInfo{name, help, t->docs()},
      [t, name](const std::map<std::string, std::string>& p) { (void)t->parse(p, name); },
      [t, name, make](const ReconMethodConfig& cfg) { return make(t->parse(cfg.params, name), cfg); });
}

std::unique_ptr<ReconMethod> make_recon_method(const std::string& name,
                                               const ReconMethodConfig& cfg);
// UserError naming the method (unknown method) or the key (unknown or malformed parameter),
// without building the method (front ends check their whole configuration before work).
void check_recon_params(const std::string& name, const std::map<std::string, std::string>& params);
bool method_has_param(const std::string& name, const std::string& key);
// `METHOD:key=value` specs (the demo's --param) grouped per method, every one checked against
// its method's table before any work: UserError naming the spec.
std::map<std::string, std::map<std::string, std::string>> parse_method_params(
    const std::vector<std::string>& specs);
std::vector<MethodInfo> recon_methods();  // sorted by name
// Every method with its parameters (key, type, default, help), as plain text that is also
// Markdown: `recon --list-methods` and the recon section of docs/commands.md.
std::string recon_method_reference();
void register_classical_methods();  // defined in recon/

// fastMRI's output crop for an image [.. H W]: the header's reconSpace (x, y) matrix (320 x 320
// for brain; 320 x 320 without a header), with the FLAIR-203 rule: if W < crop width the
// crop is (W, W) (fastMRI pl_modules/varnet_module.py); never larger than (H, W).
std::pair<int64_t, int64_t> fastmri_crop_size(const IsmrmrdInfo* header, int64_t h, int64_t w);
// Centre crop of a magnitude image [H W] to (crop_h, crop_w) applying the same rules.
Array<float> crop_for_output(ArrayView<const float> image, int64_t crop_h, int64_t crop_w);

}  // namespace rb
