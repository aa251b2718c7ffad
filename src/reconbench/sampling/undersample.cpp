#include "reconbench/sampling/undersample.hpp"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "reconbench/core/error.hpp"

namespace fs = std::filesystem;

namespace rb {

MaskSeed undersample_seed(const UndersampleOptions& opts, const std::string& basename) {
  if (opts.seed_mode == SeedMode::Fixed) return MaskSeed{opts.seed};
  return seed_from_filename(basename);
}

UndersampledVolume undersample_volume(FastMriVolume full, MaskFunc& func,
                                      const MaskSeed& seed, bool with_target,
                                      const std::string& what) {
  const Shape ks = full.kspace.shape();
  RB_CHECK(ks.size() == 4, what, ": k-space has shape ", shape_str(ks),
           ", expected (slices, coils, readout, phase)");
  RB_CHECK(!full.mask && !full.acceleration, what,
           ": already undersampled (has a 'mask' dataset or an 'acceleration' attribute); "
           "undersample needs fully sampled input");
  RB_CHECK(!with_target || full.target, what,
           ": no 'reconstruction_rss' dataset, so no ground-truth file can be written "
           "(drop --targets or use fully sampled train/val files)");
  const int64_t w = ks[3];

  UndersampledVolume r;
  r.pad_left = 0;
  r.pad_right = w;
  if (!full.header_xml.empty()) {
    const IsmrmrdInfo info = parse_ismrmrd_header(full.header_xml, what + ": ismrmrd_header");
    const auto cols = info.acquired_columns(w);
    RB_CHECK(cols, what, ": ismrmrd_header gives acquired phase-encode columns [",
             info.padding_left(), ", ", info.padding_right(), ") (encodedSpace y ", info.enc_y,
             ", kspace_encoding_step_1 center ", info.pe_center, ", maximum ", info.pe_max,
             ") which do not fit ", w, " columns");
    std::tie(r.pad_left, r.pad_right) = *cols;
  }

  r.mask = func(w, seed);
  RB_CHECK(r.mask.acceleration == std::floor(r.mask.acceleration), what,
           ": acceleration ", r.mask.acceleration,
           " is not an integer; the test file's 'acceleration' attribute is an int");

  if (with_target) {
    FastMriVolume t;
    t.kspace = full.kspace;  // copy before masking: the target file stays fully sampled
    t.target = std::move(full.target);
    t.header_xml = full.header_xml;
    t.acquisition = full.acquisition;
    t.patient_id = full.patient_id;
    const auto flat = t.target->flat();
    t.max = full.max ? *full.max : static_cast<double>(*std::max_element(flat.begin(), flat.end()));
    if (full.norm) {
      t.norm = *full.norm;
    } else {
      double ss = 0;  // L2 norm of the RSS volume (np.linalg.norm), accumulated in double
      for (float v : flat) ss += static_cast<double>(v) * v;
      t.norm = std::sqrt(ss);
    }
    t.acceleration = static_cast<int64_t>(r.mask.acceleration);
    t.num_low_frequency = r.mask.num_low_frequencies;
    r.target = std::move(t);
  }

  FastMriVolume& test = r.test;
  test.kspace = std::move(full.kspace);
  test.mask = apply_mask_inplace(test.kspace.view(), r.mask.mask, r.pad_left, r.pad_right);
  test.header_xml = std::move(full.header_xml);
  test.acquisition = std::move(full.acquisition);
  test.patient_id = std::move(full.patient_id);
  test.acceleration = static_cast<int64_t>(r.mask.acceleration);
  test.num_low_frequency = r.mask.num_low_frequencies;
  return r;
}

Mask undersample_file(const fs::path& in, const fs::path& out,
                      const std::optional<fs::path>& target_out, MaskFunc& func,
                      const UndersampleOptions& opts) {
  std::error_code ec;
  auto same = [&](const fs::path& a, const fs::path& b) {
    return fs::exists(b) && fs::equivalent(a, b, ec);
  };
  RB_CHECK(!same(in, out), in.string(), ": output ", out.string(), " is the input file itself");
  RB_CHECK(!target_out || !same(in, *target_out), in.string(), ": target output ",
           target_out->string(), " is the input file itself");
  FastMriVolume full;
  {
    FastMriFile f(in);
    full = f.read_all();
  }
  const std::string name = in.filename().string();
  auto r = undersample_volume(std::move(full), func, undersample_seed(opts, name),
                              target_out.has_value(), in.string());
  write_fastmri(out, r.test);
  if (target_out) write_fastmri(*target_out, *r.target);
  Mask applied = std::move(r.mask);
  applied.mask = std::move(*r.test.mask);
  return applied;
}

}  // namespace rb
