// The classical methods of `reconbench recon --method NAME`, registered by
// register_classical_methods(), with their parameter tables: each key sets one member of the
// Options structs (recon/espirit.hpp, pics.hpp, grappa.hpp, vendor.hpp).
#include <cmath>

#include "reconbench/fft/fft.hpp"
#include "reconbench/fft/transforms.hpp"
#include "reconbench/recon/espirit.hpp"
#include "reconbench/recon/grappa.hpp"
#include "reconbench/recon/method.hpp"
#include "reconbench/recon/pics.hpp"
#include "reconbench/recon/vendor.hpp"

namespace rb {
namespace {

using namespace rb::recon;

// The options struct of every classical method: the one it uses of each group, with the
// method's defaults (parameter tables below).
struct ClassicalParams {
  VendorOptions vendor;
  GrappaOptions grappa;
  EspiritOptions espirit = sense_espirit();
  SenseOptions sense;
  CsOptions cs;

  // SENSE/CS maps: BART's two ESPIRiT maps, the first never cropped, the second cropped at
  // 0.8 (present only where a second eigenvalue is near 1: aliased FOVs), kernels fitted to
  // the calibration box (min_windows, recon/espirit.hpp). BART's `ecalib -m1` + `pics`:
  // maps=1 crop_first=-1 min_windows=0.
  static EspiritOptions sense_espirit() {
    EspiritOptions e;
    e.maps = 2;
    e.crop_first = 0;
    return e;
  }
};
using P = ClassicalParams;

std::vector<Param<P>> vendor_rows() {
  return {RB_PARAM(P, "normalize", vendor.enabled,
                   "vendor normalisation (recon/vendor.hpp): readout to 2x the recon width, "
                   "intensity scale, optional coil compression"),
          RB_PARAM(P, "coils", vendor.virtual_coils,
                   "with normalize: SVD coil compression to K virtual coils (0 = keep)"),
          RB_PARAM(P, "target_scale", vendor.target_scale,
                   "with normalize: image intensity after normalisation")};
}

std::vector<Param<P>> espirit_rows() {
  return {RB_PARAM(P, "maps", espirit.maps, "ESPIRiT sensitivity sets (bart ecalib -m)"),
          RB_PARAM(P, "kernel", espirit.kernel, "ESPIRiT kernel size (bart ecalib -k)"),
          RB_PARAM(P, "calib", espirit.calib_max, "largest calibration box per axis (bart ecalib -r)"),
          RB_PARAM(P, "threshold", espirit.threshold,
                   "keep calibration kernels with sigma_i/sigma_0 > sqrt(t) (bart ecalib -t)"),
          RB_PARAM(P, "min_windows", espirit.min_windows,
                   "shrink the kernel (>= 3) per axis until the calibration box holds this many "
                   "kernel positions (0 = bart: fixed kernel)"),
          RB_PARAM(P, "crop", espirit.crop, "zero maps where the eigenvalue <= crop (bart ecalib -c)"),
          RB_PARAM(P, "crop_first", espirit.crop_first,
                   "crop of the first map (0 = uncropped; < 0 = crop, as bart)"),
          RB_PARAM(P, "soft_crop", espirit.soft_crop, "soft s-curve weighting instead of the crop (bart ecalib -S)")};
}

ParamTable<P> zero_filled_table() { return ParamTable<P>(vendor_rows()); }

ParamTable<P> grappa_table() {
  ParamTable<P> t({RB_PARAM(P, "kernel_read", grappa.kernel_read, "readout extent of the source window (odd)"),
                   RB_PARAM(P, "sources", grappa.sources_per_side, "nearest sampled columns used on each side"),
                   RB_PARAM(P, "lambda", grappa.lambda, "Tikhonov weight, x trace(S^H S)/n"),
                   RB_PARAM(P, "train_rows", grappa.train_rows, "central readout rows used for fitting (0 = all)")});
  return t.add(vendor_rows());
}

ParamTable<P> sense_table() {
  ParamTable<P> t({RB_PARAM(P, "lambda", sense.lambda, "Tikhonov weight (bart pics -l2 -r)"),
                   RB_PARAM(P, "iter", sense.max_iter, "CG iterations (bart pics -i)")});
  return t.add(espirit_rows()).add(vendor_rows());
}

ParamTable<P> cs_table(CsOptions::Reg reg) {
  P d;
  d.cs.reg = reg;
  std::vector<Param<P>> rows = {
      RB_PARAM(P, "lambda", cs.lambda,
               reg == CsOptions::Reg::TV ? "TV weight (bart pics -R T:7:0:lambda)"
                                         : "L1-wavelet weight (bart pics -R W:7:0:lambda)"),
      RB_PARAM(P, "iter", cs.max_iter,
               reg == CsOptions::Reg::TV ? "ADMM total inner CG iterations (bart pics -i)"
                                         : "FISTA iterations (bart pics -i)"),
      RB_PARAM(P, "seed", cs.seed, "cycle-spinning shifts seed (0 = bart's own sequence)")};
  if (reg == CsOptions::Reg::L1Wavelet) {
    rows.push_back(RB_PARAM(P, "cycle_spin", cs.cycle_spin, "random circular shift every iteration (bart default)"));
  } else {
    d.cs.lambda = 0.001f;
    d.cs.max_iter = 200;  // fastMRI's TV baseline
    rows.push_back(RB_PARAM(P, "rho", cs.rho, "ADMM penalty (bart pics -u)"));
  }
  ParamTable<P> t(rows, d);
  return t.add(espirit_rows()).add(vendor_rows());
}

// Shared frame: optional vendor normalisation, the method's complex/magnitude image, the
// crop, and the inverse of the intensity normalisation.
class ClassicalMethod : public ReconMethod {
 public:
  ClassicalMethod(std::string name, VendorOptions vendor)
      : name_(std::move(name)), vendor_(vendor) {}
  std::string name() const override { return name_; }

  Array<float> reconstruct_slice(const SliceInput& in) const override {
    RB_CHECK(in.kspace.ndim() == 3, name_, ": k-space slice must be [coil read phase], got ",
             shape_str(in.kspace.shape()));
    RB_CHECK(static_cast<int64_t>(in.mask.size()) == in.kspace.dim(2), name_, ": mask length ",
             in.mask.size(), " does not match the phase size ", in.kspace.dim(2));
    if (!vendor_.enabled) {
      auto img = magnitude(in.kspace, in);
      return crop_for_output(img.view(), in.crop_h, in.crop_w);
    }
    NormalizedSlice ns = normalize_slice(in.kspace, in.header, vendor_);
    auto img = magnitude(ns.kspace.view(), in);
    auto out = crop_for_output(img.view(), in.crop_h, in.crop_w);
    for (auto& v : out.vec()) v /= ns.scale;  // invert the intensity normalisation
    return out;
  }

 protected:
  // [read phase] magnitude image of kspace [coil read phase] (the slice's k-space, or its
  // vendor-normalised version; the phase axis is the slice's).
  virtual Array<float> magnitude(ArrayView<const cfloat> kspace, const SliceInput& in) const = 0;

 private:
  std::string name_;
  VendorOptions vendor_;
};

class ZeroFilled final : public ClassicalMethod {
 public:
  using ClassicalMethod::ClassicalMethod;
  Array<float> magnitude(ArrayView<const cfloat> k, const SliceInput&) const override {
    auto img = ifft2c_copy(k);
    return rss(img.view());
  }
};

class GrappaMethod final : public ClassicalMethod {
 public:
  GrappaMethod(VendorOptions v, GrappaOptions o) : ClassicalMethod("grappa", v), opt_(o) {}
  Array<float> magnitude(ArrayView<const cfloat> k, const SliceInput& in) const override {
    GrappaOptions o = opt_;
    fill_acquired_range_only(o, in.header, k.dim(2));
    auto filled = grappa(k, in.mask, o);
    ifft2c(filled.view());
    return rss(filled.view());
  }

 private:
  GrappaOptions opt_;
};

class SenseMethod final : public ClassicalMethod {
 public:
  SenseMethod(VendorOptions v, EspiritOptions e, SenseOptions s)
      : ClassicalMethod("sense", v), esp_(e), opt_(s) {}
  Array<float> magnitude(ArrayView<const cfloat> k, const SliceInput& in) const override {
    auto maps = espirit(k, esp_);
    drop_empty_maps(maps);
    return combine_maps(sense_recon(k, maps.maps.view(), in.mask, opt_).view());
  }

 private:
  EspiritOptions esp_;
  SenseOptions opt_;
};

class CsMethod final : public ClassicalMethod {
 public:
  CsMethod(std::string name, VendorOptions v, EspiritOptions e, CsOptions c)
      : ClassicalMethod(std::move(name), v), esp_(e), opt_(c) {}
  Array<float> magnitude(ArrayView<const cfloat> k, const SliceInput& in) const override {
    auto maps = espirit(k, esp_);
    drop_empty_maps(maps);
    CsOptions o = opt_;
    o.seed = opt_.seed + static_cast<uint32_t>(in.slice_index);  // per slice, not per thread
    return combine_maps(cs_recon(k, maps.maps.view(), in.mask, o).view());
  }

 private:
  EspiritOptions esp_;
  CsOptions opt_;
};

using Made = std::unique_ptr<ReconMethod>;

}  // namespace

void register_classical_methods() {
  register_recon_method<P>(
      "zero-filled", "inverse FFT of the zero-filled k-space, RSS over coils, fastMRI crop",
      zero_filled_table(),
      [](const P& p, const ReconMethodConfig&) -> Made {
        return std::make_unique<ZeroFilled>("zero-filled", p.vendor);
      });
  register_recon_method<P>(
      "grappa", "GRAPPA with one Tikhonov-regularised kernel per local sampling geometry, RSS",
      grappa_table(),
      [](const P& p, const ReconMethodConfig&) -> Made {
        return std::make_unique<GrappaMethod>(p.vendor, p.grappa);
      });
  register_recon_method<P>(
      "sense",
      "CG-SENSE with ESPIRiT maps and BART data scaling (bart pics -l2 -r lambda -S; maps as "
      "bart ecalib but the first map uncropped and the kernel fitted to the calibration box; "
      "maps=1 crop_first=-1 min_windows=0 = bart ecalib -m1)",
      sense_table(),
      [](const P& p, const ReconMethodConfig&) -> Made {
        return std::make_unique<SenseMethod>(p.vendor, p.espirit, p.sense);
      });
  const std::pair<CsOptions::Reg, const char*> cs[] = {
      {CsOptions::Reg::L1Wavelet,
       "L1-wavelet compressed sensing with ESPIRiT maps (as sense), = bart pics -S -R W:7:0:lambda -i iter "
       "(BART data scaling, Daubechies-2 wavelet, FISTA, cycle spinning; bart's result to float "
       "rounding)"},
      {CsOptions::Reg::TV,
       "isotropic total-variation compressed sensing with ESPIRiT maps (as sense), = bart pics -S -R "
       "T:7:0:lambda -i iter (ADMM rho 0.5, over-relaxation 1.6, inner CG <= 10; iter bounds the "
       "total inner CG iterations, as in bart)"}};
  for (const auto& [reg, help] : cs) {
    const std::string name = reg == CsOptions::Reg::TV ? "cs-tv" : "cs-wavelet";
    register_recon_method<P>(name, help, cs_table(reg),
                             [name](const P& p, const ReconMethodConfig&) -> Made {
                               return std::make_unique<CsMethod>(name, p.vendor, p.espirit, p.cs);
                             });
  }
}

}  // namespace rb
