// reconbench convert: fastMRI .h5 <-> BART .cfl/.hdr, and slice previews as PNG.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>

#include "reconbench/cli/command.hpp"
#include "reconbench/core/error.hpp"
#include "reconbench/core/parallel.hpp"
#include "reconbench/core/progress.hpp"
#include "reconbench/fft/transforms.hpp"
#include "reconbench/io/cfl.hpp"
#include "reconbench/io/fastmri.hpp"
#include "reconbench/io/png.hpp"

namespace fs = std::filesystem;

namespace {

// numpy.percentile(x, q) with linear interpolation (type 7).
float percentile(std::vector<float> v, double q) {
  RB_ASSERT(!v.empty());
  std::sort(v.begin(), v.end());
  const double pos = q / 100.0 * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return static_cast<float>(v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo)));
}

fs::path stem_path(const fs::path& in) {
  fs::path p = in;
  return p.replace_extension();
}

bool is_cfl_input(const fs::path& in) {
  if (in.extension() == ".cfl" || in.extension() == ".hdr") return true;
  fs::path hdr = in;
  hdr += ".hdr";
  return fs::exists(hdr);
}

struct ConvertCmd final : rb::cli::Command {
  std::string input, to, out, acquisition;
  int64_t slice = -1;
  double window_percentile = 99.5;
  bool no_header = false;

  void declare(CLI::App& app) override {
    app.add_option("input", input,
                   "input: a fastMRI .h5 file, or a BART array (base name, base.cfl or "
                   "base.hdr)")
        ->required();
    app.add_option("--to", to,
                   "output format: cfl (BART k-space [read phase 1 coil ...], slices in dim "
                   "13), h5 (fastMRI k-space file from a BART array, or a fastMRI file rewritten by "
                   "reconbench's writer), png (zero-filled RSS "
                   "image of one slice)")
        ->required()
        ->check(CLI::IsMember({"cfl", "png", "h5"}));
    app.add_option("--slice", slice,
                   "slice index; for cfl, export only this slice (default: the whole "
                   "volume); for png, the slice to show (default: the middle slice)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("-o,--out", out,
                   "output path (default: next to the input: NAME.cfl/.hdr, NAME.h5, "
                   "NAME_slice<N>.png; cfl outputs take a base name)");
    app.add_option("--acquisition", acquisition,
                   "h5 output: value of the `acquisition` attribute (e.g. AXT2)");
    app.add_flag("--no-header", no_header,
                 "h5 output: do not write an ismrmrd_header (by default one is generated: "
                 "encoded size = k-space size, recon size = min(readout, phase) squared, "
                 "all phase lines acquired)");
    app.add_option("--percentile", window_percentile,
                   "png output: grey window is [0, this percentile of the image]")
        ->check(CLI::Range(1.0, 100.0))
        ->capture_default_str();
  }

  int run() override {
    const fs::path in(input);
    if (rb::is_hdf5(in)) {
      if (to == "h5") return h5_to_h5(in);
      return to == "cfl" ? h5_to_cfl(in) : h5_to_png(in);
    }
    RB_CHECK(fs::exists(in) || is_cfl_input(in), input, ": no such file");
    RB_CHECK(is_cfl_input(in), input,
             ": neither an HDF5 file nor a BART array (no .hdr next to it)");
    RB_CHECK(to != "cfl", input, ": is already a BART array (use --to h5 or --to png)");
    const fs::path base = rb::cfl_base(in);
    rb::CflArray a = rb::read_cfl(base);
    rb::Array<rb::cfloat> vol = rb::cfl_to_kspace_volume(a, base.string() + ".cfl");
    if (to == "h5") return cfl_to_h5(base, std::move(vol));
    return kspace_to_png(base, vol.dim(0), [&](int64_t s) {
      return rb::Array<rb::cfloat>::from_view(vol(s));
    }, std::nullopt);
  }

  // Rewrite through reconbench's writer: every dataset and attribute, kspace chunked per
  // slice, masks as float32.
  int h5_to_h5(const fs::path& in) {
    RB_CHECK(!out.empty(), input, ": --to h5 from an HDF5 file needs -o/--out");
    std::error_code ec;
    RB_CHECK(!fs::equivalent(in, out, ec), out, ": output would overwrite the input");
    rb::FastMriFile f(in);
    rb::FastMriVolume v = f.read_all();
    if (!acquisition.empty()) v.acquisition = acquisition;
    if (no_header) v.header_xml.clear();
    rb::write_fastmri(out, v);
    std::cout << "wrote " << out << " kspace " << rb::shape_str(v.kspace.shape()) << "\n";
    return 0;
  }

  int h5_to_cfl(const fs::path& in) {
    rb::FastMriFile f(in);
    if (slice >= 0) {
      rb::CflArray a = rb::kspace_slice_to_cfl(f.read_kspace_slice(slice).view());
      fs::path dst = out.empty() ? fs::path(stem_path(in).string() + "_slice" +
                                            std::to_string(slice))
                                 : rb::cfl_base(out);
      rb::write_cfl(dst, a);
      std::cout << "wrote " << dst.string() << ".cfl/.hdr " << rb::shape_str(a.dims) << "\n";
      return 0;
    }
    // Whole volume: BART [read phase 1 coil 1 ... slice(13)], slices are the outermost
    // column-major blocks, so each slice is mapped independently.
    rb::CflArray a;
    a.dims.assign(rb::kBartDims, 1);
    a.dims[rb::kBartReadDim] = f.readout();
    a.dims[rb::kBartPhs1Dim] = f.phase();
    a.dims[rb::kBartCoilDim] = f.num_coils();
    a.dims[rb::kBartSliceDim] = f.num_slices();
    const int64_t per = f.num_coils() * f.readout() * f.phase();
    a.data.resize(static_cast<size_t>(per * f.num_slices()));
    rb::Progress progress("convert", f.num_slices(), "slice");
    for (int64_t s = 0; s < f.num_slices(); ++s) {
      rb::check_interrupted();
      rb::CflArray one = rb::kspace_slice_to_cfl(f.read_kspace_slice(s).view());
      std::copy(one.data.begin(), one.data.end(), a.data.begin() + s * per);
      progress.tick();
    }
    progress.done();
    fs::path dst = out.empty() ? stem_path(in) : rb::cfl_base(out);
    rb::write_cfl(dst, a);
    std::cout << "wrote " << dst.string() << ".cfl/.hdr " << rb::shape_str(a.dims) << "\n";
    return 0;
  }

  int h5_to_png(const fs::path& in) {
    std::vector<std::string> names = rb::list_datasets(in);
    auto has = [&](const char* n) { return std::find(names.begin(), names.end(), n) != names.end(); };
    if (!has("kspace")) {
      // A reconstruction file: show the stored image itself.
      const char* key = has("reconstruction") ? "reconstruction" : "reconstruction_rss";
      RB_CHECK(has(key), input, ": has neither 'kspace' nor 'reconstruction' datasets");
      rb::Array<float> r = rb::read_reconstruction(in, key);
      const int64_t s = slice >= 0 ? slice : r.dim(0) / 2;
      RB_CHECK(s < r.dim(0), input, ": slice ", s, " out of range (", r.dim(0), " slices)");
      return write_image(stem_path(in), s, rb::Array<float>::from_view(r(s)));
    }
    rb::FastMriFile f(in);
    std::optional<std::pair<int64_t, int64_t>> crop;
    if (f.has_header()) crop = std::make_pair(f.header().recon_x, f.header().recon_y);
    return kspace_to_png(stem_path(in), f.num_slices(),
                         [&](int64_t s) { return f.read_kspace_slice(s); }, crop);
  }

  template <class ReadSlice>
  int kspace_to_png(const fs::path& stem, int64_t num_slices, ReadSlice read_slice,
                    std::optional<std::pair<int64_t, int64_t>> crop) {
    const int64_t s = slice >= 0 ? slice : num_slices / 2;
    RB_CHECK(s < num_slices, input, ": slice ", s, " out of range (", num_slices, " slices)");
    rb::Array<rb::cfloat> k = read_slice(s);
    const int64_t H = k.dim(1), W = k.dim(2);
    // Crop to the ISMRMRD reconSpace (x <-> readout, y <-> phase), as fastMRI's targets;
    // without a header, to the largest centred square.
    int64_t h = std::min(H, W), w = std::min(H, W);
    if (crop && crop->first > 0 && crop->second > 0) {
      h = std::min(crop->first, H);
      w = std::min(crop->second, W);
    }
    return write_image(stem, s, rb::zero_filled_rss(k.view(), h, w));
  }

  int write_image(const fs::path& stem, int64_t s, const rb::Array<float>& img) {
    const float hi = percentile(img.vec(), window_percentile);
    rb::Image8 g = rb::to_grey(img.view(), 0.f, hi > 0 ? hi : 1.f);
    fs::path dst = out.empty() ? fs::path(stem.string() + "_slice" + std::to_string(s) + ".png")
                               : fs::path(out);
    rb::write_png(dst, g);
    std::cout << "wrote " << dst.string() << " (" << g.height << "x" << g.width
              << ", window 0.." << hi << ")\n";
    return 0;
  }

  int cfl_to_h5(const fs::path& base, rb::Array<rb::cfloat> vol) {
    rb::FastMriVolume v;
    const int64_t H = vol.dim(2), W = vol.dim(3);
    v.kspace = std::move(vol);
    if (!no_header) {
      rb::IsmrmrdInfo info;
      info.enc_x = H;
      info.enc_y = W;
      info.recon_x = info.recon_y = std::min(H, W);
      info.pe_min = 0;
      info.pe_max = W - 1;
      info.pe_center = W / 2;
      info.receiver_channels = v.kspace.dim(1);
      v.header_xml = rb::make_ismrmrd_header(info);
    }
    v.acquisition = acquisition;
    fs::path dst = out.empty() ? fs::path(base.string() + ".h5") : fs::path(out);
    rb::write_fastmri(dst, v);
    std::cout << "wrote " << dst.string() << " kspace " << rb::shape_str(v.kspace.shape())
              << "\n";
    return 0;
  }
};

const rb::cli::Registrar reg(
    {"convert", "convert between fastMRI .h5, BART .cfl/.hdr and PNG previews",
     "fastMRI .h5 -> BART: k-space of one slice (--slice N) as [read phase 1 coil], or the "
     "whole volume with slices in BART's SLICE_DIM (13); complex64, column-major, exactly "
     "as BART's readcfl expects. BART -> fastMRI .h5: a k-space-only file (complex64 "
     "(slices, coils, readout, phase)) with a generated ISMRMRD header. fastMRI .h5 -> .h5 "
     "rewrites every dataset and attribute through reconbench's writer (k-space chunked "
     "per slice, mask as float32). --to png writes the "
     "zero-filled RSS image of one slice (centred inverse FFT, root-sum-of-squares, cropped "
     "to the header's reconSpace, grey window 0..99.5th percentile); on a reconstruction "
     "file it shows the stored image.",
     {"reconbench convert file_brain_AXT2_200_2000019.h5 --to cfl --slice 5 -o ksp",
      "reconbench convert ksp --to h5 --acquisition AXT2 -o ksp.h5",
      "reconbench convert file_brain_AXT2_200_2000019.h5 --to png --slice 5 -o s5.png"},
     11},
    [] { return std::make_unique<ConvertCmd>(); });

}  // namespace
