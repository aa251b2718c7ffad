// Metrics (eval/metrics.hpp, eval/mask.hpp, eval/evaluate.hpp).
//
//   ssim, psnr, nmse, mse       fastmri/evaluate.py's functions on gt, pred [slice y x]:
//                               no crop; data range = maxval, default max(gt volume);
//                               SSIM = mean over slices of skimage structural_similarity
//   volume_metrics, *_masked    `reconbench eval`'s per-volume numbers (evaluate_volume):
//                               evaluate.py's driver crop (W_t, W_t), data range = max of the
//                               cropped gt, background-masked variants (paper Fig. S1)
//   evaluate                    `reconbench eval --json` of two directories, as a dict
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <cmath>

#include "common.hpp"
#include "reconbench/core/parallel.hpp"
#include "reconbench/eval/evaluate.hpp"

namespace rbpy {

namespace {

namespace ev = rb::eval;

struct VolumePair {
  CArray<float> gt, pred;
};

// evaluate.py's checks: 3-D gt, pred of the same shape; the library refuses NaN/Inf.
VolumePair volume_pair(const py::handle& gt, const py::handle& pred, const char* fn) {
  VolumePair p{real_array(gt, rb::cat(fn, ": gt")), real_array(pred, rb::cat(fn, ": pred"))};
  check_ndim(p.gt, 3, rb::cat(fn, ": gt"), "[slice y x]");
  RB_CHECK(view(p.gt).shape() == view(p.pred).shape(), fn, ": gt ",
           rb::shape_str(view(p.gt).shape()), " and pred ", rb::shape_str(view(p.pred).shape()),
           " differ in shape");
  RB_CHECK(view(p.gt).size() > 0, fn, ": empty volume");
  return p;
}

// NaN/Inf in either volume make every metric non-finite (they reach the running sums), so
// the inputs are scanned (naming the first bad voxel) only when a result is not finite;
// a non-finite result of finite volumes (PSNR of identical volumes) is returned as is.
double checked(double result, const VolumePair& p, const char* fn) {
  if (!std::isfinite(result)) {
    ev::check_finite(view(p.gt), rb::cat(fn, ": gt"));
    ev::check_finite(view(p.pred), rb::cat(fn, ": pred"));
  }
  return result;
}

// evaluate.py: maxval = gt.max() (numpy's own, called with the GIL) unless given.
double data_range(const VolumePair& p, const std::optional<double>& maxval) {
  return maxval ? *maxval : p.gt.attr("max")().cast<double>();
}

double ssim(const py::handle& gt, const py::handle& pred, std::optional<double> maxval) {
  const VolumePair p = volume_pair(gt, pred, "ssim");
  const double R = data_range(p, maxval);
  return run_released([&] {
    checked(R, p, "ssim");
    const auto x = view(p.gt), y = view(p.pred);
    std::vector<double> per(static_cast<size_t>(x.dim(0)));
    rb::parallel_for(x.dim(0), [&](int64_t s) {
      rb::check_interrupted();
      per[s] = ev::ssim_2d(x(s), y(s), R);
    });
    double sum = 0;
    for (double v : per) sum += v;  // slice order: independent of the thread count
    return checked(sum / static_cast<double>(per.size()), p, "ssim");
  });
}

double psnr(const py::handle& gt, const py::handle& pred, std::optional<double> maxval) {
  const VolumePair p = volume_pair(gt, pred, "psnr");
  const double R = data_range(p, maxval);
  return run_released([&] {
    checked(R, p, "psnr");
    return checked(ev::psnr(view(p.gt), view(p.pred), R), p, "psnr");
  });
}

template <double (*F)(rb::ArrayView<const float>, rb::ArrayView<const float>)>
double plain_metric(const py::handle& gt, const py::handle& pred, const char* fn) {
  const VolumePair p = volume_pair(gt, pred, fn);
  return run_released([&] { return checked(F(view(p.gt), view(p.pred)), p, fn); });
}

ev::VolumeMetrics volume_metrics(const py::handle& gt, const py::handle& pred, bool masked,
                                 const char* fn) {
  const VolumePair p = volume_pair(gt, pred, fn);
  ev::MetricOptions o;
  o.masked = masked;
  return run_released(
      [&] { return ev::evaluate_volume(view(p.gt), view(p.pred), o, "gt", "pred"); });
}

// The per-volume object of `reconbench eval --json` without the file's attributes.
py::object metrics_dict(const ev::VolumeMetrics& m) {
  ev::VolumeResult r;
  r.metrics = m;
  nlohmann::json j = ev::to_json(r);
  for (const char* k : {"file", "acquisition", "acceleration", "vendor"}) j.erase(k);
  return to_python(j);
}

py::object evaluate(const std::filesystem::path& target_dir,
                    const std::filesystem::path& predictions_dir,
                    const std::vector<std::string>& acquisitions,
                    std::optional<int64_t> acceleration, bool allow_missing, int64_t bootstrap,
                    uint64_t seed, bool check, bool progress) {
  ev::EvalOptions o;
  o.acquisitions = acquisitions;
  o.acceleration = acceleration;
  o.allow_missing = allow_missing;
  RB_CHECK(bootstrap >= 1, "evaluate: bootstrap must be >= 1, got ", bootstrap);
  o.bootstrap.resamples = bootstrap;
  o.bootstrap.seed = seed;
  o.progress = progress;
  ev::EvalRun run =
      run_released([&] { return ev::evaluate_directories(target_dir, predictions_dir, o); });
  if (check && run.failed()) {
    // The lines `reconbench eval` prints before exiting with status 2.
    std::string msg =
        rb::cat(run.errors.size(), " file(s) could not be evaluated",
                allow_missing ? "" : " (allow_missing=True tolerates missing/extra files)");
    for (const auto& e : run.errors) msg += rb::cat("\n", e.file, ": ", e.kind, ": ", e.reason);
    throw rb::UserError(msg);
  }
  return to_python(ev::to_json(run));
}

}  // namespace

void bind_eval(py::module_& m) {
  using namespace pybind11::literals;
  m.def("ssim", &ssim, "gt"_a, "pred"_a, "maxval"_a = py::none(),
        "fastmri.evaluate.ssim: mean over slices of skimage structural_similarity(gt[s], "
        "pred[s], data_range=maxval) (7x7 uniform window, K1 0.01, K2 0.03, sample "
        "covariance); gt, pred [slice y x]; maxval defaults to gt.max(). No crop.");
  m.def("psnr", &psnr, "gt"_a, "pred"_a, "maxval"_a = py::none(),
        "fastmri.evaluate.psnr: 10 log10(maxval^2 / mean((gt - pred)^2)) over the volume; "
        "maxval defaults to gt.max().");
  m.def(
      "nmse", [](const py::handle& gt, const py::handle& pred) {
        return plain_metric<ev::nmse>(gt, pred, "nmse");
      },
      "gt"_a, "pred"_a,
        "fastmri.evaluate.nmse: ||gt - pred||^2 / ||gt||^2 over the volume.");
  m.def(
      "mse", [](const py::handle& gt, const py::handle& pred) {
        return plain_metric<ev::mse>(gt, pred, "mse");
      },
      "gt"_a, "pred"_a,
        "fastmri.evaluate.mse: mean((gt - pred)^2) over the volume.");
  m.def(
      "volume_metrics",
      [](const py::handle& gt, const py::handle& pred, bool masked) {
        return metrics_dict(volume_metrics(gt, pred, masked, "volume_metrics"));
      },
      "gt"_a, "pred"_a, "masked"_a = true,
      "`reconbench eval`'s numbers of one volume pair [slice y x] as a dict (the keys of a "
      "`volumes` entry of its JSON): both cropped to (c, c), c = min(H, W) of gt "
      "(evaluate.py's driver), data_range = max of the cropped gt, ssim/psnr/nmse/mse, "
      "per-slice SSIM and, with masked, the background-masked variants.");
  auto masked = [&m](const char* name, double ev::VolumeMetrics::*field, const char* doc) {
    m.def(
        name,
        [name, field](const py::handle& gt, const py::handle& pred) {
          return volume_metrics(gt, pred, true, name).*field;
        },
        "gt"_a, "pred"_a, doc);
  };
  masked("ssim_masked", &ev::VolumeMetrics::ssim_masked,
         "Background-masked SSIM (paper Fig. S1) as `reconbench eval`: mean over slices with "
         "a non-empty foreground mask of the mean SSIM over windows centred in the mask; NaN "
         "if the mask is empty. Cropped as volume_metrics.");
  masked("psnr_masked", &ev::VolumeMetrics::psnr_masked,
         "PSNR over the foreground-mask voxels (data range = max of the cropped gt).");
  masked("nmse_masked", &ev::VolumeMetrics::nmse_masked,
         "NMSE over the foreground-mask voxels.");
  m.def(
      "foreground_mask",
      [](const py::handle& gt) {
        auto g = real_array(gt, "foreground_mask: gt");
        check_ndim(g, 3, "foreground_mask: gt", "[slice y x]");
        return to_numpy(run_released([&] { return ev::foreground_mask(view(g)); }));
      },
      "gt"_a,
      "The foreground (head) mask [slice y x] uint8 of a ground-truth volume, recipe rb-fg-1 "
      "(eval/mask.hpp), as the masked metrics use it.");
  m.def("evaluate", &evaluate, "target_dir"_a, "predictions_dir"_a, py::kw_only(),
        "acquisitions"_a = std::vector<std::string>{}, "acceleration"_a = py::none(),
        "allow_missing"_a = false, "bootstrap"_a = ev::BootstrapOptions{}.resamples,
        "seed"_a = ev::BootstrapOptions{}.seed, "check"_a = true,
        "progress"_a = true,
        "`reconbench eval --json` as a dict: every ground-truth .h5 of target_dir against the "
        "same name in predictions_dir (volumes, summary, errors, spec). With check, per-file "
        "problems raise ValueError listing them (as the CLI exits 2); check=False returns "
        "them in 'errors'.");
}

}  // namespace rbpy
