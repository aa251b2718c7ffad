// The classical methods of `reconbench recon --method NAME`, registered by
// register_classical_methods(). Keys of --param per method are listed in each help text and
// map one-to-one onto the Options structs (recon/espirit.hpp, pics.hpp, grappa.hpp,
// vendor.hpp).
#include <cmath>

#include "reconbench/fft/fft.hpp"
#include "reconbench/fft/transforms.hpp"
#include "reconbench/recon/espirit.hpp"
#include "reconbench/recon/grappa.hpp"
#include "reconbench/recon/method.hpp"
#include "reconbench/recon/params.hpp"
#include "reconbench/recon/pics.hpp"
#include "reconbench/recon/vendor.hpp"

namespace rb {
namespace {

using namespace rb::recon;

EspiritOptions read_espirit(Params& p) {
  EspiritOptions o;
  o.maps = p.get("maps", int64_t{1});  // BART's default is 2; one map is the usual SENSE choice
  o.kernel = p.get("kernel", o.kernel);
  o.calib_max = p.get("calib", o.calib_max);
  o.threshold = p.get("threshold", o.threshold);
  o.crop = p.get("crop", o.crop);
  o.soft_crop = p.get("soft_crop", o.soft_crop);
  return o;
}

VendorOptions read_vendor(Params& p) {
  VendorOptions o;
  o.enabled = p.get("normalize", false);
  o.virtual_coils = p.get("coils", o.virtual_coils);
  o.target_scale = p.get("target_scale", o.target_scale);
  return o;
}

// Shared frame: optional vendor normalisation, the method's complex/magnitude image, the
// crop, and the inverse of the intensity normalisation.
class ClassicalMethod : public ReconMethod {
 public:
  ClassicalMethod(std::string name, VendorOptions vendor)
      : name_(std::move(name)), vendor_(vendor) {}
  std::string name() const override { return name_; }

  Array<float> reconstruct_slice(const SliceInput& in) const override {
    header_ = in.header;
    RB_CHECK(in.kspace.ndim() == 3, name_, ": k-space slice must be [coil read phase], got ",
             shape_str(in.kspace.shape()));
    RB_CHECK(static_cast<int64_t>(in.mask.size()) == in.kspace.dim(2), name_, ": mask length ",
             in.mask.size(), " does not match the phase size ", in.kspace.dim(2));
    if (!vendor_.enabled) {
      auto img = magnitude(in.kspace, in.mask, in.slice_index);
      return crop_for_output(img.view(), in.crop_h, in.crop_w);
    }
    NormalizedSlice ns = normalize_slice(in.kspace, in.header, vendor_);
    auto img = magnitude(ns.kspace.view(), in.mask, in.slice_index);
    auto out = crop_for_output(img.view(), in.crop_h, in.crop_w);
    for (auto& v : out.vec()) v /= ns.scale;  // invert the intensity normalisation
    return out;
  }

 protected:
  // [read phase] magnitude image of kspace [coil read phase].
  virtual Array<float> magnitude(ArrayView<const cfloat> kspace, std::span<const float> mask,
                                 int64_t slice) const = 0;

 private:
  std::string name_;
  VendorOptions vendor_;

 protected:
  static thread_local const IsmrmrdInfo* header_;  // of the slice being reconstructed
};
thread_local const IsmrmrdInfo* ClassicalMethod::header_ = nullptr;

class ZeroFilled final : public ClassicalMethod {
 public:
  using ClassicalMethod::ClassicalMethod;
  Array<float> magnitude(ArrayView<const cfloat> k, std::span<const float>, int64_t) const override {
    auto img = ifft2c_copy(k);
    return rss(img.view());
  }
};

class GrappaMethod final : public ClassicalMethod {
 public:
  GrappaMethod(VendorOptions v, GrappaOptions o) : ClassicalMethod("grappa", v), opt_(o) {}
  Array<float> magnitude(ArrayView<const cfloat> k, std::span<const float> mask, int64_t) const override {
    GrappaOptions o = opt_;
    if (header_) {  // fill only the acquired phase range [padding_left, padding_right)
      const int64_t pl = header_->padding_left(), pr = header_->padding_right();
      if (pl >= 0 && pr <= k.dim(2) && pl < pr) {
        o.fill_begin = pl;
        o.fill_end = pr;
      }
    }
    auto filled = grappa(k, mask, o);
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
  Array<float> magnitude(ArrayView<const cfloat> k, std::span<const float> mask, int64_t) const override {
    auto maps = espirit(k, esp_);
    return combine_maps(sense_recon(k, maps.maps.view(), mask, opt_).view());
  }

 private:
  EspiritOptions esp_;
  SenseOptions opt_;
};

class CsMethod final : public ClassicalMethod {
 public:
  CsMethod(std::string name, VendorOptions v, EspiritOptions e, CsOptions c)
      : ClassicalMethod(std::move(name), v), esp_(e), opt_(c) {}
  Array<float> magnitude(ArrayView<const cfloat> k, std::span<const float> mask,
                         int64_t slice) const override {
    auto maps = espirit(k, esp_);
    CsOptions o = opt_;
    o.seed = opt_.seed + static_cast<uint32_t>(slice);  // per slice, not per thread
    return combine_maps(cs_recon(k, maps.maps.view(), mask, o).view());
  }

 private:
  EspiritOptions esp_;
  CsOptions opt_;
};

const char* kVendorKeys = "normalize=0|1 (vendor normalisation, recon/vendor.hpp), coils=K "
                          "(SVD coil compression with normalize=1, 0 = keep)";

}  // namespace

void register_classical_methods() {
  register_recon_method(
      "zero-filled",
      cat("inverse FFT of the zero-filled k-space, RSS over coils, fastMRI crop. Params: ",
          kVendorKeys),
      [](const ReconMethodConfig& cfg) -> std::unique_ptr<ReconMethod> {
        Params p(cfg.params, "zero-filled");
        auto v = read_vendor(p);
        p.finish();
        return std::make_unique<ZeroFilled>("zero-filled", v);
      });
  register_recon_method(
      "grappa",
      cat("GRAPPA with one Tikhonov-regularised kernel per local sampling geometry, RSS. "
          "Params: kernel_read=5, sources=1 (per side), lambda=0.1 (x trace(S^H S)/n), "
          "train_rows=192; ",
          kVendorKeys),
      [](const ReconMethodConfig& cfg) -> std::unique_ptr<ReconMethod> {
        Params p(cfg.params, "grappa");
        GrappaOptions o;
        o.kernel_read = p.get("kernel_read", o.kernel_read);
        o.sources_per_side = p.get("sources", o.sources_per_side);
        o.lambda = p.get("lambda", o.lambda);
        o.train_rows = p.get("train_rows", o.train_rows);
        auto v = read_vendor(p);
        p.finish();
        return std::make_unique<GrappaMethod>(v, o);
      });
  register_recon_method(
      "sense",
      cat("CG-SENSE with ESPIRiT maps and BART data scaling (bart ecalib -m1 + pics -l2 -r "
          "lambda -S). Params: lambda=0.01, iter=30, maps=1, kernel=6, calib=24, "
          "threshold=0.001, crop=0.8, soft_crop=0; ",
          kVendorKeys),
      [](const ReconMethodConfig& cfg) -> std::unique_ptr<ReconMethod> {
        Params p(cfg.params, "sense");
        SenseOptions s;
        s.lambda = p.get("lambda", s.lambda);
        s.max_iter = p.get("iter", s.max_iter);
        auto e = read_espirit(p);
        auto v = read_vendor(p);
        p.finish();
        return std::make_unique<SenseMethod>(v, e, s);
      });
  auto cs = [](CsOptions::Reg reg, const char* name, float lambda, int iter) {
    return [=](const ReconMethodConfig& cfg) -> std::unique_ptr<ReconMethod> {
      Params p(cfg.params, name);
      CsOptions c;
      c.reg = reg;
      c.lambda = p.get("lambda", lambda);
      c.max_iter = p.get("iter", iter);
      c.seed = static_cast<uint32_t>(p.get("seed", int64_t{0}));
      if (reg == CsOptions::Reg::L1Wavelet) {
        c.cycle_spin = p.get("cycle_spin", c.cycle_spin);
      } else {
        c.rho = p.get("rho", c.rho);
      }
      auto e = read_espirit(p);
      auto v = read_vendor(p);
      p.finish();
      return std::make_unique<CsMethod>(name, v, e, c);
    };
  };
  register_recon_method(
      "cs-wavelet",
      cat("L1-wavelet compressed sensing with ESPIRiT maps, = bart pics -S -R W:7:0:lambda -i iter "
          "(BART data scaling, BART's Daubechies-2 wavelet, FISTA and cycle-spinning shifts; "
          "same result as bart to float rounding). Params: lambda=0.005, "
          "iter=50, seed=0 (0 = bart's shifts), cycle_spin=1, ESPIRiT keys as sense; ",
          kVendorKeys),
      cs(CsOptions::Reg::L1Wavelet, "cs-wavelet", 0.005f, 50));
  register_recon_method(
      "cs-tv",
      cat("isotropic total-variation compressed sensing with ESPIRiT maps, = bart pics -S "
          "-R T:7:0:lambda -i iter (ADMM rho 0.5, over-relaxation 1.6, inner CG <= 10; iter bounds "
          "the total inner CG iterations, as in bart; 200 as fastMRI's TV baseline). Params: "
          "lambda=0.001, iter=200, rho=0.5, ESPIRiT keys as sense; ",
          kVendorKeys),
      cs(CsOptions::Reg::TV, "cs-tv", 0.001f, 200));
}

}  // namespace rb
