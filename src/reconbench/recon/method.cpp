#include "reconbench/recon/method.hpp"

#include <mutex>

#include "reconbench/core/error.hpp"
#include "reconbench/fft/transforms.hpp"

namespace rb {
namespace {

struct Entry {
  MethodInfo info;
  ReconParamCheck check;
  ReconMethodFactory factory;
};

std::mutex g_methods_mutex;
std::map<std::string, Entry>& methods() {
  static std::map<std::string, Entry> m;
  return m;
}

Entry entry(const std::string& name) {
  std::lock_guard lock(g_methods_mutex);
  auto it = methods().find(name);
  if (it == methods().end()) {
    std::string known;
    for (const auto& [n, e] : methods()) known += (known.empty() ? "" : ", ") + n;
    throw UserError(cat("--method: unknown reconstruction method '", name, "' (known: ",
                        known.empty() ? "none registered" : known, ")"));
  }
  return it->second;
}

}  // namespace

void register_recon_method(MethodInfo info, ReconParamCheck check, ReconMethodFactory factory) {
  RB_ASSERT(!info.name.empty() && check && factory, "recon method needs a name, a check and a factory");
  std::lock_guard lock(g_methods_mutex);
  // Re-registration (register_*_methods() called twice) replaces the entry.
  const std::string name = info.name;
  methods()[name] = Entry{std::move(info), std::move(check), std::move(factory)};
}

std::unique_ptr<ReconMethod> make_recon_method(const std::string& name,
                                               const ReconMethodConfig& cfg) {
  auto m = entry(name).factory(cfg);
  RB_ASSERT(m != nullptr, "factory of method ", name, " returned null");
  return m;
}

void check_recon_params(const std::string& name, const std::map<std::string, std::string>& params) {
  entry(name).check(params);
}

bool method_has_param(const std::string& name, const std::string& key) {
  for (const auto& p : entry(name).info.params)
    if (p.key == key) return true;
  return false;
}

std::map<std::string, std::map<std::string, std::string>> parse_method_params(
    const std::vector<std::string>& specs) {
  std::map<std::string, std::map<std::string, std::string>> out;
  for (const auto& s : specs) {
    const auto colon = s.find(':'), eq = s.find('=');
    RB_CHECK(colon != std::string::npos && colon > 0 && eq != std::string::npos && eq > colon + 1,
             "--param '", s, "': expected METHOD:key=value");
    const std::string method = s.substr(0, colon);
    std::map<std::string, std::string> one{{s.substr(colon + 1, eq - colon - 1), s.substr(eq + 1)}};
    try {
      check_recon_params(method, one);
    } catch (const UserError& e) {
      throw UserError(cat("--param '", s, "': ", e.what()));
    }
    for (const auto& [k, v] : one) out[method][k] = v;  // a later spec wins
  }
  return out;
}

std::vector<MethodInfo> recon_methods() {
  std::lock_guard lock(g_methods_mutex);
  std::vector<MethodInfo> out;
  for (const auto& [n, e] : methods()) out.push_back(e.info);
  return out;
}

std::string recon_method_reference() {
  std::string s =
      "Method parameters (`--param KEY=VALUE`; int, float, bool = 1/true/yes/on or "
      "0/false/no/off, string):\n";
  for (const auto& m : recon_methods()) {
    s += cat("\n- `", m.name, "`: ", m.help, "\n");
    for (const auto& p : m.params)
      s += cat("  - `", p.key, "=", p.default_value, "` (", p.type, "): ", p.help, "\n");
  }
  return s;
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
