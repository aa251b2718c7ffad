#include "reconbench/recon/vendor.hpp"

#include "reconbench/fft/fft.hpp"
#include "reconbench/fft/transforms.hpp"
#include "reconbench/recon/pics.hpp"

namespace rb::recon {

int64_t normalized_readout(int64_t phase, const IsmrmrdInfo* header, int64_t oversampling) {
  int64_t recon_w = phase;
  if (header && header->recon_x > 0) recon_w = header->recon_x;
  return oversampling * recon_w;
}

NormalizedSlice normalize_slice(ArrayView<const cfloat> kspace, const IsmrmrdInfo* header,
                                const VendorOptions& opt) {
  RB_ASSERT(kspace.ndim() == 3, "kspace [coil read phase]");
  NormalizedSlice ns;
  ns.input_read = kspace.dim(1);
  ns.input_coils = kspace.dim(0);
  Array<cfloat> k = Array<cfloat>::from_view(kspace);
  if (opt.readout) {
    const int64_t target = normalized_readout(kspace.dim(2), header, opt.readout_oversampling);
    if (target != k.dim(1)) {
      // image along the readout, centre pad/crop, back to k-space
      ifft1c(k.view(), 1);
      // move readout to the last axis for center_pad: [coil read phase] -> pad rows
      const int64_t nc = k.dim(0), H = k.dim(1), W = k.dim(2);
      Array<cfloat> r({nc, target, W});
      const int64_t off_in = std::max<int64_t>(0, (H - target) / 2);
      const int64_t off_out = std::max<int64_t>(0, (target - H) / 2);
      const int64_t n = std::min(H, target);
      for (int64_t c = 0; c < nc; ++c)
        for (int64_t i = 0; i < n; ++i)
          std::copy_n(k.data() + (c * H + off_in + i) * W, W, r.data() + (c * target + off_out + i) * W);
      fft1c(r.view(), 1);
      k = std::move(r);
    }
  }
  if (opt.virtual_coils > 0 && opt.virtual_coils < k.dim(0)) k = compress_coils(k.view(), opt.virtual_coils);
  if (opt.intensity) {
    const float s = estimate_scaling(k.view());
    ns.scale = opt.target_scale / s;
    for (auto& v : k.vec()) v *= ns.scale;
  }
  ns.output_read = k.dim(1);
  ns.output_coils = k.dim(0);
  ns.kspace = std::move(k);
  return ns;
}

}  // namespace rb::recon
