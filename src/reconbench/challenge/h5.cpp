#include "reconbench/challenge/h5.hpp"

#include <hdf5.h>

#include "reconbench/core/fs.hpp"
#include "reconbench/io/hdf5.hpp"

namespace rb::challenge {
namespace {

// RAII for hid_t handles.
struct H {
  hid_t id = -1;
  herr_t (*close)(hid_t) = nullptr;
  H(hid_t i, herr_t (*c)(hid_t)) : id(i), close(c) {}
  ~H() {
    if (id >= 0 && close) close(id);
  }
  H(const H&) = delete;
  H& operator=(const H&) = delete;
};

// Through the object-graph check (io/hdf5.hpp): a submission's 'reconstruction' that is a
// link to another file, a virtual dataset or external storage is refused (h5::UnsafeFile).
hid_t open_file(const std::filesystem::path& file) { return rb::h5::open_readonly(file).release(); }

}  // namespace

DatasetInfo inspect_dataset(const std::filesystem::path& file, const std::string& key) {
  auto hl = rb::h5::lock();
  H f(open_file(file), H5Fclose);
  DatasetInfo info;
  if (H5Lexists(f.id, key.c_str(), rb::h5::link_access()) <= 0) return info;
  H d(H5Dopen2(f.id, key.c_str(), rb::h5::dataset_access()), H5Dclose);
  RB_CHECK(d.id >= 0, file.string(), ": '", key, "' is not a dataset");
  info.exists = true;
  H t(H5Dget_type(d.id), H5Tclose);
  H5T_class_t cls = H5Tget_class(t.id);
  size_t size = H5Tget_size(t.id);
  if (cls == H5T_FLOAT)
    info.type = size == 4 ? "float32" : size == 8 ? "float64" : "other";
  else if (cls == H5T_INTEGER)
    info.type = "int";
  else
    info.type = "other";
  H s(H5Dget_space(d.id), H5Sclose);
  int rank = H5Sget_simple_extent_ndims(s.id);
  RB_CHECK(rank >= 0 && rank <= 8, file.string(), ": '", key, "' has an unreadable shape");
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(s.id, dims.data(), nullptr);
  for (auto v : dims) info.dims.push_back(static_cast<int64_t>(v));
  return info;
}

Array<float> read_float32(const std::filesystem::path& file, const std::string& key) {
  auto info = inspect_dataset(file, key);
  RB_CHECK(info.exists, file.string(), ": no dataset '", key, "'");
  RB_CHECK(info.type == "float32" || info.type == "float64", file.string(), ": '", key,
           "' is ", info.type, ", expected float32");
  RB_CHECK(info.dims.size() == 3, file.string(), ": '", key, "' has shape ",
           shape_str(info.dims), ", expected (slices, y, x)");
  auto hl = rb::h5::lock();
  H f(open_file(file), H5Fclose);
  H d(H5Dopen2(f.id, key.c_str(), rb::h5::dataset_access()), H5Dclose);
  Array<float> out(info.dims);
  RB_CHECK(H5Dread(d.id, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) >= 0,
           file.string(), ": cannot read '", key, "' (truncated file?)");
  return out;
}

void write_float_volume(const std::filesystem::path& file, const std::string& key,
                        const Array<float>& data,
                        const std::map<std::string, std::string>& string_attrs,
                        const std::map<std::string, double>& double_attrs) {
  AtomicOutput out(file);
  {
    auto hl = rb::h5::lock();
    H f(H5Fcreate(out.tmp().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    RB_CHECK(f.id >= 0, "cannot create ", file.string());
    std::vector<hsize_t> dims(data.shape().begin(), data.shape().end());
    H s(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
    H d(H5Dcreate2(f.id, key.c_str(), H5T_IEEE_F32LE, s.id, H5P_DEFAULT, H5P_DEFAULT,
                   H5P_DEFAULT),
        H5Dclose);
    RB_CHECK(d.id >= 0 && H5Dwrite(d.id, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                   data.data()) >= 0,
             "cannot write ", file.string());
    H scalar(H5Screate(H5S_SCALAR), H5Sclose);
    for (const auto& [name, value] : string_attrs) {
      H t(H5Tcopy(H5T_C_S1), H5Tclose);
      H5Tset_size(t.id, value.size() + 1);
      H a(H5Acreate2(f.id, name.c_str(), t.id, scalar.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
      H5Awrite(a.id, t.id, value.c_str());
    }
    for (const auto& [name, value] : double_attrs) {
      H a(H5Acreate2(f.id, name.c_str(), H5T_IEEE_F64LE, scalar.id, H5P_DEFAULT, H5P_DEFAULT),
          H5Aclose);
      H5Awrite(a.id, H5T_NATIVE_DOUBLE, &value);
    }
  }
  out.commit();
}

}  // namespace rb::challenge
