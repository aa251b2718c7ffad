// Reading the float volume and attributes evaluation needs from an HDF5 file (ground truth
// with `reconstruction_rss`, or a reconstruction file with `reconstruction`), without
// requiring k-space. All HDF5 calls hold rb::h5::lock() (io/hdf5.hpp).
#include <hdf5.h>

#include <cmath>
#include <cstring>

#include "reconbench/eval/evaluate.hpp"
#include "reconbench/io/fastmri.hpp"
#include "reconbench/io/hdf5.hpp"

namespace rb::eval {

namespace fs = std::filesystem;

namespace {

std::string with_h5(const std::string& msg) { return h5::with_error(msg); }
using h5::open_readonly;
using h5::read_string;

bool link_exists(hid_t f, const char* name) { return H5Lexists(f, name, H5P_DEFAULT) > 0; }

void read_attrs(hid_t f, const fs::path& path, EvalInput& in) {
  in.acquisition = h5::read_attr_string(f, "acquisition", path);
  if (H5Aexists(f, "acceleration") > 0) {
    h5::Id a(H5Aopen(f, "acceleration", H5P_DEFAULT));
    RB_CHECK(a.valid(), with_h5(path.string() + ": cannot open attrs['acceleration']"));
    h5::Id t(H5Aget_type(a)), s(H5Aget_space(a));
    const H5T_class_t cls = H5Tget_class(t);
    RB_CHECK((cls == H5T_INTEGER || cls == H5T_FLOAT) && H5Sget_simple_extent_npoints(s) == 1,
             path.string(), ": attrs['acceleration'] must be a single number");
    double v = 0;
    RB_CHECK(H5Aread(a, H5T_NATIVE_DOUBLE, &v) >= 0,
             with_h5(path.string() + ": cannot read attrs['acceleration']"));
    RB_CHECK(std::isfinite(v) && v == std::floor(v) && v > 0, path.string(),
             ": attrs['acceleration'] = ", v, " is not a positive integer");
    in.acceleration = static_cast<int64_t>(v);
  }
  if (link_exists(f, "ismrmrd_header")) {
    h5::Id d(H5Dopen2(f, "ismrmrd_header", H5P_DEFAULT));
    if (d.valid()) {
      h5::Id t(H5Dget_type(d)), s(H5Dget_space(d));
      std::string xml;
      try {
        xml = read_string(d, t, s, false, path, "'ismrmrd_header'");
        // The vendor only labels a summary group; a header the parser rejects leaves it empty.
        in.vendor = parse_ismrmrd_header(xml, path.string()).vendor;
      } catch (const UserError&) {
        in.vendor.clear();
      }
    }
  }
}

}  // namespace

EvalInput read_eval_attrs(const fs::path& path) {
  auto guard = h5::lock();
  h5::Id f = open_readonly(path);
  EvalInput in;
  read_attrs(f, path, in);
  return in;
}

EvalInput read_eval_input(const fs::path& path, const std::vector<std::string>& keys) {
  auto guard = h5::lock();
  h5::Id f = open_readonly(path);
  EvalInput in;
  for (const auto& k : keys)
    if (link_exists(f, k.c_str())) {
      in.key = k;
      break;
    }
  if (in.key.empty()) {
    std::string names;
    for (const auto& k : keys) names += (names.empty() ? "'" : " or '") + k + "'";
    throw UserError(cat(path.string(), ": no ", names, " dataset"));
  }
  h5::Id d(H5Dopen2(f, in.key.c_str(), H5P_DEFAULT));
  RB_CHECK(d.valid(), with_h5(cat(path.string(), ": cannot open '", in.key, "'")));
  h5::Id t(H5Dget_type(d)), s(H5Dget_space(d));
  const H5T_class_t cls = H5Tget_class(t);
  RB_CHECK(cls == H5T_FLOAT || cls == H5T_INTEGER, path.string(), ": '", in.key,
           "' is not a real-valued float array (HDF5 class ", static_cast<int>(cls),
           "); expected float32 (slices, y, x)");
  const int rank = H5Sget_simple_extent_ndims(s);
  RB_CHECK(rank == 3, path.string(), ": '", in.key, "' has rank ", rank,
           ", expected 3: (slices, y, x)");
  hsize_t dims[3] = {0, 0, 0};
  H5Sget_simple_extent_dims(s, dims, nullptr);
  Shape shape{static_cast<int64_t>(dims[0]), static_cast<int64_t>(dims[1]),
              static_cast<int64_t>(dims[2])};
  RB_CHECK(shape[0] > 0 && shape[1] > 0 && shape[2] > 0 && shape[1] <= 65536 &&
               shape[2] <= 65536 && shape[0] <= 100000,
           path.string(), ": '", in.key, "' has an unusable shape ", shape_str(shape));
  in.volume = Array<float>(shape);
  RB_CHECK(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, in.volume.data()) >= 0,
           with_h5(cat(path.string(), ": cannot read '", in.key, "' (truncated or corrupt?)")));
  read_attrs(f, path, in);
  return in;
}

}  // namespace rb::eval
