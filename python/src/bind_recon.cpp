// Reconstruction (recon/method.hpp, recon/espirit.hpp) and fastMRI's image-domain helpers
// (fft/fft.hpp, fft/transforms.hpp).
//
//   recon(method, kspace, mask, header=None, **params)
//       kspace [slice coil read phase] (or one slice [coil read phase]) -> magnitude
//       [slice h w] (or [h w]) cropped as `reconbench recon` writes it; params are the
//       method's --param keys (`reconbench recon --list-methods`, methods()).
//   espirit, fft2c, ifft2c, rss
#include <pybind11/stl.h>

#include <cmath>
#include <map>

#include "common.hpp"
#include "reconbench/core/parallel.hpp"
#include "reconbench/core/progress.hpp"
#include "reconbench/fft/fft.hpp"
#include "reconbench/fft/transforms.hpp"
#include "reconbench/ml/loader.hpp"
#include "reconbench/recon/espirit.hpp"
#include "reconbench/recon/method.hpp"
#include "reconbench/recon/run.hpp"

namespace rbpy {

namespace {

// Python keyword arguments as the method's `--param key=value` strings (bools as 1/0).
std::map<std::string, std::string> method_params(const py::kwargs& kw) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : kw) {
    const std::string key = py::str(k);
    if (py::isinstance<py::bool_>(v)) {
      out[key] = v.cast<bool>() ? "1" : "0";
    } else if (PyIndex_Check(v.ptr()) || py::isinstance<py::float_>(v) ||
               py::isinstance<py::str>(v)) {
      out[key] = py::str(v);  // str(float) is the shortest repr that round-trips
    } else {
      throw rb::UserError(rb::cat("recon: parameter ", key, "=", std::string(py::repr(v)),
                                  ": expected a number, bool or string"));
    }
  }
  return out;
}

py::array recon(const std::string& method, const py::handle& kspace, const py::handle& mask,
                const py::object& header, const std::string& weights, int64_t num_low_frequency,
                bool progress, const py::kwargs& params) {
  auto k = complex_array(kspace, "recon: kspace");
  RB_CHECK(k.ndim() == 3 || k.ndim() == 4,
           "recon: kspace must be [slice coil read phase] or [coil read phase], got shape ",
           rb::shape_str(view(k).shape()));
  rb::ArrayView<const rb::cfloat> kv = view(k);
  if (k.ndim() == 3) kv = {kv.data(), {1, kv.dim(0), kv.dim(1), kv.dim(2)}};
  const int64_t W = kv.dim(3);
  std::vector<float> mk(static_cast<size_t>(W), 1.0f);  // None: fully sampled
  if (!mask.is_none()) {
    auto a = real_array(mask, "recon: mask");
    mk.assign(a.data(), a.data() + a.size());  // [phase] or fastMRI's [1, 1, phase, 1]
  }
  std::optional<rb::IsmrmrdInfo> hdr;
  if (!header.is_none())
    hdr = rb::parse_ismrmrd_header(py::cast<std::string>(header), "recon: header");
  rb::ReconMethodConfig cfg;
  cfg.weights = weights;
  cfg.params = method_params(params);
  rb::KspaceVolume vol;
  vol.kspace = kv;
  vol.mask = std::move(mk);
  vol.header = hdr ? &*hdr : nullptr;
  vol.num_low_frequency = num_low_frequency;
  vol.name = "recon: kspace";
  auto img = run_released([&] {
    auto m = rb::make_recon_method(method, cfg);
    std::optional<rb::Progress> bar;
    rb::RunOptions o;
    if (progress) o.progress = &bar.emplace("recon " + method, kv.dim(0), "slice");
    auto out = rb::reconstruct_volume(vol, *m, o);
    if (bar) bar->done();
    return out;
  });
  if (k.ndim() == 3) img.reshape({img.dim(1), img.dim(2)});
  return to_numpy(std::move(img));
}

py::object espirit(const py::handle& kspace, const rb::recon::EspiritOptions& o,
                   bool return_eigenvalues) {
  auto k = complex_array(kspace, "espirit: kspace");
  check_ndim(k, 3, "espirit: kspace", "[coil read phase]");
  auto r = run_released([&] { return rb::recon::espirit(view(k), o); });
  py::array maps = to_numpy(std::move(r.maps));
  if (!return_eigenvalues) return maps;
  return py::make_tuple(maps, to_numpy(std::move(r.eigenvalues)));
}

// rss over the coil axis of [... coil y x] (the axis third from last).
py::array rss(const py::handle& x, int axis) {
  const bool cplx = is_complex(x);
  py::array a = cplx ? py::array(complex_array(x, "rss: x")) : py::array(real_array(x, "rss: x"));
  const int nd = static_cast<int>(a.ndim());
  RB_CHECK(nd >= 3 && (axis == nd - 3 || axis == -3),
           "rss: the coil axis must be the third from last ([... coil y x]), got axis ", axis,
           " of a ", nd, "-D array");
  rb::Shape lead(a.shape(), a.shape() + nd - 3);
  const int64_t B = rb::shape_numel(lead), C = a.shape(nd - 3), H = a.shape(nd - 2),
                Wd = a.shape(nd - 1);
  auto out = run_released([&] {
    rb::Array<float> r({B, H, Wd});
    rb::parallel_for(B, [&](int64_t b) {
      rb::Array<float> img =
          cplx ? rb::rss(rb::ArrayView<const rb::cfloat>(
                     static_cast<const rb::cfloat*>(a.data()) + b * C * H * Wd, {C, H, Wd}))
               : rb::rss(rb::ArrayView<const float>(
                     static_cast<const float*>(a.data()) + b * C * H * Wd, {C, H, Wd}));
      std::copy(img.vec().begin(), img.vec().end(), r.data() + b * H * Wd);
    });
    return r;
  });
  lead.push_back(H);
  lead.push_back(Wd);
  out.reshape(lead);
  return to_numpy(std::move(out));
}

template <void (*F)(rb::ArrayView<rb::cfloat>)>
py::array centred_fft(const py::handle& x, const char* fn) {
  auto a = complex_array(x, rb::cat(fn, ": x"));
  RB_CHECK(a.ndim() >= 2, fn, ": expected [... H W], got shape ", rb::shape_str(view(a).shape()));
  return to_numpy(run_released([&] {
    auto out = rb::Array<rb::cfloat>::from_view(view(a));
    F(out.view());
    return out;
  }));
}

}  // namespace

void bind_recon(py::module_& m) {
  using namespace pybind11::literals;
  rb::register_classical_methods();
  rb::ml::register_learned_methods();  // torch-free; building one loads the LibTorch module
  m.def("recon", &recon, "method"_a, "kspace"_a, "mask"_a = py::none(), "header"_a = py::none(),
        py::kw_only(), "weights"_a = "", "num_low_frequency"_a = 0, "progress"_a = false,
        "Reconstruct undersampled k-space [slice coil read phase] (zeros where unsampled) "
        "with a registered method, as `reconbench recon` does a file: mask [phase] (None: "
        "fully sampled), header = the file's ISMRMRD XML (padding columns, reconSpace crop; "
        "None: 320x320 crop), num_low_frequency (0: derived from the mask). Keyword "
        "arguments are the method's parameters, e.g. recon('sense', k, m, iter=30, maps=1) "
        "or recon('cs-wavelet', k, m, **{'lambda': 0.005}) ('lambda' is a Python keyword). "
        "Learned methods load "
        "LibTorch on first use (weights: their .pt file). Returns float32 [slice h w].");
  m.def(
      "methods",
      [](bool learned) {
        py::dict d;
        for (const auto& info : rb::recon_methods()) {
          if (!learned && rb::ml::is_learned_method(info.name)) continue;
          py::list params;
          for (const auto& p : info.params)
            params.append(py::dict("key"_a = p.key, "type"_a = p.type,
                                   "default"_a = p.default_value, "help"_a = p.help));
          d[py::str(info.name)] = py::dict("help"_a = info.help, "params"_a = params);
        }
        return d;
      },
      "learned"_a = true,
      "{name: {'help', 'params': [{'key', 'type', 'default', 'help'}]}} of the reconstruction "
      "methods, as `reconbench recon --list-methods` (learned=False: the classical ones only). "
      "Listing never loads LibTorch.");
  m.def(
      "espirit",
      [](const py::handle& kspace, int64_t kernel, int64_t calib, float threshold, int64_t maps,
         float crop, bool soft_crop, bool fix_phase, int64_t min_windows, bool return_eigenvalues) {
        rb::recon::EspiritOptions o;
        o.kernel = kernel;
        o.calib_max = calib;
        o.min_windows = min_windows;
        o.threshold = threshold;
        o.maps = maps;
        o.crop = crop;
        o.soft_crop = soft_crop;
        o.fix_phase = fix_phase;
        return espirit(kspace, o, return_eigenvalues);
      },
      "kspace"_a, py::kw_only(), "kernel"_a = 6, "calib"_a = 24, "threshold"_a = 0.001f,
      "maps"_a = 2, "crop"_a = 0.8f, "soft_crop"_a = false, "fix_phase"_a = true,
      "min_windows"_a = rb::recon::EspiritOptions{}.min_windows, "return_eigenvalues"_a = false,
      "ESPIRiT coil sensitivities of one k-space slice [coil read phase] with BART ecalib's "
      "defaults (-k 6 -r 24 -t 0.001 -m 2 -c 0.8): maps complex64 [map coil read phase] "
      "(and eigenvalues float32 [map read phase]). min_windows: a calibration box axis "
      "holding fewer kernel positions gets a smaller kernel (>= 3); 0 = BART's fixed kernel.");
  m.def(
      "fft2c", [](const py::handle& x) { return centred_fft<rb::fft2c>(x, "fft2c"); }, "x"_a,
      "fastMRI fft2c: fftshift(fft2(ifftshift(x), norm='ortho')) over the last two axes, "
      "complex64.");
  m.def(
      "ifft2c", [](const py::handle& x) { return centred_fft<rb::ifft2c>(x, "ifft2c"); }, "x"_a,
      "fastMRI ifft2c: fftshift(ifft2(ifftshift(x), norm='ortho')) over the last two axes, "
      "complex64.");
  m.def("rss", &rss, "x"_a, "axis"_a = -3,
        "fastMRI rss: sqrt(sum |x|^2) over the coil axis of [... coil y x] (complex or real), "
        "accumulated in double; float32 [... y x].");
}

}  // namespace rbpy
