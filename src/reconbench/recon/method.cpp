#include "reconbench/recon/method.hpp"

#include <mutex>

#include "reconbench/core/error.hpp"
#include "reconbench/fft/transforms.hpp"

namespace rb {
namespace {

struct Entry {
  std::string help;
  ReconMethodFactory factory;
};

std::mutex g_methods_mutex;
std::map<std::string, Entry>& methods() {
  static std::map<std::string, Entry> m;
  return m;
}

}  // namespace

void register_recon_method(const std::string& name, const std::string& help,
                           ReconMethodFactory factory) {
  RB_ASSERT(!name.empty() && factory, "recon method needs a name and a factory");
  std::lock_guard lock(g_methods_mutex);
  // Re-registration (register_*_methods() called twice) replaces the entry.
  methods()[name] = Entry{help, std::move(factory)};
}

std::unique_ptr<ReconMethod> make_recon_method(const std::string& name,
                                               const ReconMethodConfig& cfg) {
  ReconMethodFactory factory;
  {
    std::lock_guard lock(g_methods_mutex);
    auto it = methods().find(name);
    if (it == methods().end()) {
      std::string known;
      for (const auto& [n, e] : methods()) known += (known.empty() ? "" : ", ") + n;
      throw UserError(cat("--method: unknown reconstruction method '", name, "' (known: ",
                          known.empty() ? "none registered" : known, ")"));
    }
    factory = it->second.factory;
  }
  auto m = factory(cfg);
  RB_ASSERT(m != nullptr, "factory of method ", name, " returned null");
  return m;
}

std::vector<std::pair<std::string, std::string>> recon_method_names() {
  std::lock_guard lock(g_methods_mutex);
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [n, e] : methods()) out.emplace_back(n, e.help);
  return out;
}

std::pair<int64_t, int64_t> fastmri_crop_size(const IsmrmrdInfo* header, int64_t h, int64_t w) {
  int64_t ch = 320, cw = 320;
  if (header && header->recon_x > 0 && header->recon_y > 0) {
    ch = header->recon_x;
    cw = header->recon_y;
  }
  if (w < cw) ch = cw = w;  // FLAIR-203 rule
  return {std::min(ch, h), std::min(cw, w)};
}

Array<float> crop_for_output(ArrayView<const float> image, int64_t crop_h, int64_t crop_w) {
  RB_ASSERT(image.ndim() == 2);
  const int64_t h = image.dim(0), w = image.dim(1);
  if (w < crop_w) crop_h = crop_w = w;
  return center_crop<float>(image, std::min(crop_h, h), std::min(crop_w, w));
}

}  // namespace rb
