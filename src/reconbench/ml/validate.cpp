#include "reconbench/ml/validate.hpp"

#include "reconbench/core/error.hpp"
#include "reconbench/core/progress.hpp"
#include "reconbench/eval/metrics.hpp"
#include "reconbench/io/fastmri.hpp"
#include "reconbench/recon/run.hpp"

namespace rb::ml {

namespace {

// evaluate.py's SSIM of one reconstructed volume (eval::evaluate_volume: crop, data range,
// mean over slices), the same number `reconbench eval` reports for it.
double volume_ssim(const Array<float>& target, const Array<float>& pred) {
  eval::MetricOptions mo;
  mo.masked = false;
  return eval::evaluate_volume(target.view(), pred.view(), mo).ssim;
}

}  // namespace

ValResult validate(Model& model, const std::vector<std::filesystem::path>& files,
                   const MaskFuncOptions& masks, bool references) {
  if (files.empty()) return {};
  MaskFunc mf(masks);  // per-file seeds (temp_seed): its own state is irrelevant
  int64_t total = 0;
  for (const auto& f : files) total += FastMriFile(f).num_slices();
  Progress progress("validate", total * (references ? 3 : 1), "slice");
  // The model and the references through the one reconstruction loop (recon/run.hpp), as
  // `reconbench recon --method zero-filled|grappa` would reconstruct them.
  const auto method = model_method(model);
  std::unique_ptr<ReconMethod> zero_filled, grappa;
  if (references) {
    register_classical_methods();
    zero_filled = make_recon_method("zero-filled", {});
    grappa = make_recon_method("grappa", {});
  }
  double sum = 0, sum_zf = 0, sum_g = 0;
  for (const auto& path : files) {
    FastMriFile file(path);
    const auto target = file.read_target();  // [S h w]
    // The file's validation mask (seeded by its name), as fastMRI's validation.
    const Mask m = mf(file.phase(), seed_from_filename(path.filename().string()));
    RunOptions ro;
    ro.undersample = &m;
    ro.crop_h = target.dim(1);
    ro.crop_w = target.dim(2);
    ro.progress = &progress;
    auto ssim_of = [&](const ReconMethod& r) {
      return volume_ssim(target, reconstruct_volume(file, r, ro));
    };
    sum += ssim_of(*method);
    if (!references) continue;
    sum_zf += ssim_of(*zero_filled);
    if (grappa) {
      try {
        sum_g += ssim_of(*grappa);
      } catch (const UserError&) {  // GRAPPA impossible on these masks (no reference)
        grappa.reset();
      }
    }
  }
  progress.done();
  const double n = static_cast<double>(files.size());
  ValResult r;
  r.ssim = sum / n;
  if (references) r.ssim_zero_filled = sum_zf / n;
  if (grappa) r.ssim_grappa = sum_g / n;
  return r;
}

}  // namespace rb::ml
