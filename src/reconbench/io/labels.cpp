// Label volumes (uint8 [slice y x]) through the HDF5 C API, under h5::lock().
#include "reconbench/core/error.hpp"
#include "reconbench/io/fastmri.hpp"
#include "reconbench/io/hdf5.hpp"

namespace rb {

Array<uint8_t> read_label_volume(const std::filesystem::path& path, const std::string& key) {
  auto lock = h5::lock();  // before the ids, so that they are closed under the lock
  h5::Id f = h5::open_readonly(path);
  RB_CHECK(H5Lexists(f, key.c_str(), H5P_DEFAULT) > 0, path.string(), ": no dataset '", key, "'");
  h5::Id d(H5Dopen2(f, key.c_str(), H5P_DEFAULT));
  RB_CHECK(d.valid(), h5::with_error(cat(path.string(), ": cannot open '", key, "'")));
  h5::Id type(H5Dget_type(d));
  RB_CHECK(H5Tget_class(type) == H5T_INTEGER && H5Tget_size(type) == 1, path.string(), ": '", key,
           "' is not an 8-bit integer dataset");
  h5::Id space(H5Dget_space(d));
  RB_CHECK(H5Sget_simple_extent_ndims(space) == 3, path.string(), ": '", key,
           "' is not [slice y x]");
  hsize_t dims[3];
  H5Sget_simple_extent_dims(space, dims, nullptr);
  for (hsize_t n : dims)
    RB_CHECK(n > 0 && n <= (hsize_t{1} << 16), path.string(), ": '", key, "' has an absurd shape");
  Array<uint8_t> m({static_cast<int64_t>(dims[0]), static_cast<int64_t>(dims[1]),
                    static_cast<int64_t>(dims[2])});
  RB_CHECK(H5Dread(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, m.data()) >= 0,
           h5::with_error(cat(path.string(), ": cannot read '", key, "'")));
  return m;
}

}  // namespace rb
