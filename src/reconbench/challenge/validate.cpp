#include "reconbench/challenge/validate.hpp"

#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "reconbench/challenge/h5.hpp"
#include "reconbench/core/error.hpp"
#include "reconbench/fft/fft.hpp"
#include "reconbench/io/hdf5.hpp"

namespace rb::challenge {

namespace fs = std::filesystem;

std::map<std::string, fs::path> list_submission_dir(const fs::path& dir) {
  RB_CHECK(fs::is_directory(dir), dir.string(), ": not a directory");
  std::map<std::string, fs::path> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".h5")
      out[e.path().filename().string()] = e.path();
  return out;
}

double zero_filled_reference_max(const fs::path& kspace_file, int64_t recon_h, int64_t recon_w) {
  auto hl = rb::h5::lock();
  hid_t f = rb::h5::open_readonly(kspace_file).release();
  hid_t d = H5Dopen2(f, "kspace", rb::h5::dataset_access());
  if (d < 0) {
    H5Fclose(f);
    throw UserError(kspace_file.string() + ": no 'kspace' dataset");
  }
  hid_t space = H5Dget_space(d);
  hsize_t dims[4] = {0, 0, 0, 0};
  const int rank = H5Sget_simple_extent_ndims(space);
  bool ok = rank == 4;
  if (ok) H5Sget_simple_extent_dims(space, dims, nullptr);
  Array<cfloat> slice;
  if (ok) {
    hsize_t start[4] = {dims[0] / 2, 0, 0, 0}, count[4] = {1, dims[1], dims[2], dims[3]};
    H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, count, nullptr);
    hid_t mem = H5Screate_simple(4, count, nullptr);
    hid_t ct = H5Tcreate(H5T_COMPOUND, sizeof(cfloat));
    H5Tinsert(ct, "r", 0, H5T_NATIVE_FLOAT);
    H5Tinsert(ct, "i", sizeof(float), H5T_NATIVE_FLOAT);
    slice = Array<cfloat>({int64_t(dims[1]), int64_t(dims[2]), int64_t(dims[3])});
    ok = H5Dread(d, ct, mem, space, H5P_DEFAULT, slice.data()) >= 0;
    H5Tclose(ct);
    H5Sclose(mem);
  }
  H5Sclose(space);
  H5Dclose(d);
  H5Fclose(f);
  RB_CHECK(ok, kspace_file.string(), ": cannot read 'kspace' as complex64 [slice coil read phase]");
  ifft2c(slice.view());
  const int64_t C = slice.dim(0), H = slice.dim(1), W = slice.dim(2);
  const int64_t h = std::min(recon_h > 0 ? recon_h : H, H), w = std::min(recon_w > 0 ? recon_w : W, W);
  const int64_t y0 = (H - h) / 2, x0 = (W - w) / 2;
  double best = 0;
  for (int64_t y = y0; y < y0 + h; ++y)
    for (int64_t x = x0; x < x0 + w; ++x) {
      double s = 0;
      for (int64_t c = 0; c < C; ++c) s += std::norm(slice.at(c, y, x));
      best = std::max(best, std::sqrt(s));
    }
  return best;
}

namespace {

double reference_max(const ManifestFile& mf, const Manifest& m) {
  try {
    if (fs::exists(m.root / mf.file))
      return zero_filled_reference_max(m.root / mf.file, mf.recon_h, mf.recon_w);
  } catch (const UserError&) {
  }
  return 0;
}

}  // namespace

ValidationReport validate_submission(const std::map<std::string, fs::path>& files,
                                     const Manifest& manifest, const std::string& phase,
                                     const Track& track, const ValidationOptions& opts) {
  ValidationReport r;
  r.track = track.name;
  r.phase = phase;
  const auto expected = track_files(manifest, phase, track);
  auto error = [&](std::string file, std::string kind, std::string reason) {
    if (static_cast<int64_t>(r.errors.size()) < opts.max_issues)
      r.errors.push_back({std::move(file), std::move(kind), std::move(reason)});
  };
  if (expected.empty()) {
    error("", "empty", "track " + track.name + " has no files in phase " + phase);
    return r;
  }
  std::set<std::string> names;
  for (const auto& e : expected) names.insert(e.name);
  for (const auto& [name, path] : files)
    if (!names.count(name))
      error(name, "unknown", "not a file of track " + track.name + " (" + phase +
                                 " phase); expected names like " + expected.front().name);
  for (const auto& e : expected) {
    auto it = files.find(e.name);
    if (it == files.end()) {
      error(e.name, "missing", "no reconstruction for this volume (all " +
                                   std::to_string(expected.size()) + " volumes are required)");
      continue;
    }
    ++r.files_checked;
    if (opts.on_file) opts.on_file(e.name);
    DatasetInfo info;
    try {
      info = inspect_dataset(it->second, "reconstruction");
    } catch (const h5::UnsafeFile& u) {
      error(e.name, "unsafe", u.reason());
      continue;
    } catch (const UserError&) {
      error(e.name, "unreadable", "not a readable HDF5 file");
      continue;
    }
    if (!info.exists) {
      error(e.name, "unreadable", "no dataset 'reconstruction'");
      continue;
    }
    if (info.type != "float32") {
      error(e.name, "dtype", "'reconstruction' is " + info.type + ", expected float32");
      continue;
    }
    if (info.dims.size() != 3) {
      error(e.name, "shape", "'reconstruction' has shape " + shape_str(info.dims) +
                                 ", expected (slices, y, x)");
      continue;
    }
    if (e.slices > 0 && info.dims[0] != e.slices) {
      error(e.name, "shape", "'reconstruction' has " + std::to_string(info.dims[0]) +
                                 " slices, the volume has " + std::to_string(e.slices));
      continue;
    }
    if (e.recon_h > 0 && (info.dims[1] != e.recon_h || info.dims[2] != e.recon_w)) {
      error(e.name, "shape", "'reconstruction' slices are " + std::to_string(info.dims[1]) +
                                 "x" + std::to_string(info.dims[2]) + ", expected " +
                                 std::to_string(e.recon_h) + "x" + std::to_string(e.recon_w));
      continue;
    }
    Array<float> vol;
    try {
      vol = read_float32(it->second, "reconstruction");
    } catch (const UserError&) {
      error(e.name, "unreadable", "cannot read 'reconstruction' (truncated file?)");
      continue;
    }
    int64_t nonfinite = 0, negative = 0, first_bad = -1;
    for (int64_t i = 0; i < vol.size(); ++i) {
      const float v = vol[i];
      if (!std::isfinite(v)) {
        if (first_bad < 0) first_bad = i;
        ++nonfinite;
      } else if (v < 0) {
        ++negative;
      }
    }
    if (nonfinite > 0) {
      const int64_t plane = vol.dim(1) * vol.dim(2);
      std::ostringstream os;
      os << nonfinite << " NaN/Inf values (first at slice " << first_bad / plane << ", y "
         << (first_bad % plane) / vol.dim(2) << ", x " << first_bad % vol.dim(2) << ")";
      error(e.name, "nonfinite", os.str());
      continue;
    }
    if (negative > 0)
      r.warnings.push_back({e.name, "negative",
                            std::to_string(negative) +
                                " negative values (RSS magnitudes are >= 0; scored as given)"});
    if (opts.scale != ScaleReference::none) {
      const double ref = reference_max(e, manifest);
      const auto mid = vol(vol.dim(0) / 2);
      double mx = 0;
      for (float v : mid.flat()) mx = std::max(mx, double(std::fabs(v)));
      if (ref > 0 && (mx < ref / opts.scale_factor || mx > ref * opts.scale_factor)) {
        std::ostringstream os;
        os << "intensity scale looks wrong: middle-slice max " << mx
           << " vs reference " << ref
           << " (reconstructions must be RSS magnitudes on the scale of the input k-space)";
        r.warnings.push_back({e.name, "scale", os.str()});
      }
    }
    if (opts.on_accepted) opts.on_accepted(e.name, vol);
  }
  return r;
}

nlohmann::json to_json(const ValidationReport& r) {
  // Names and reasons can carry bytes of the submitted file (HDF5 object names, attribute
  // text) that are not UTF-8; nlohmann's replace handler maps each invalid byte to U+FFFD so
  // the report always serialises (dump() would throw type_error 316 otherwise).
  auto text = [](const std::string& s) {
    using J = nlohmann::json;
    return J::parse(J(s).dump(-1, ' ', false, J::error_handler_t::replace)).get<std::string>();
  };
  auto issues = [&](const std::vector<ValidationIssue>& v) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& i : v)
      a.push_back({{"file", text(i.file)}, {"kind", i.kind}, {"reason", text(i.reason)}});
    return a;
  };
  return {{"ok", r.ok()},         {"track", r.track},
          {"phase", r.phase},     {"files_checked", r.files_checked},
          {"errors", issues(r.errors)}, {"warnings", issues(r.warnings)}};
}

std::string to_text(const ValidationReport& r) {
  std::ostringstream os;
  os << (r.ok() ? "OK" : "INVALID") << ": track " << r.track << ", phase " << r.phase << ", "
     << r.files_checked << " files checked, " << r.errors.size() << " errors, "
     << r.warnings.size() << " warnings\n";
  for (const auto& i : r.errors)
    os << "  error   " << (i.file.empty() ? "-" : i.file) << " [" << i.kind << "] " << i.reason << "\n";
  for (const auto& i : r.warnings)
    os << "  warning " << i.file << " [" << i.kind << "] " << i.reason << "\n";
  return os.str();
}

}  // namespace rb::challenge
