// Writing fastMRI and reconstruction files through the HDF5 C API, in exactly the layout
// h5py produces (io/fastmri.cpp has the layout notes and the readers). Every HDF5 call runs
// under h5::lock(); object time stamps are off, so the same data gives the same bytes.
#include <cmath>

#include "reconbench/core/fs.hpp"
#include "reconbench/io/fastmri.hpp"
#include "reconbench/io/h5_types.hpp"
#include "reconbench/io/hdf5.hpp"

namespace fs = std::filesystem;

namespace rb {

namespace {

void write_dataset(hid_t file, const fs::path& path, const std::string& name, hid_t ftype,
                   hid_t mtype, const Shape& shape, const void* data,
                   const std::vector<hsize_t>& chunk = {}) {
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  h5::Id space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  h5::Id dcpl(H5Pcreate(H5P_DATASET_CREATE));
  if (!chunk.empty()) H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data());
  // No modification times in the object headers: the same data gives the same bytes.
  H5Pset_obj_track_times(dcpl, false);
  h5::Id ds(H5Dcreate2(file, name.c_str(), ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
  RB_CHECK(ds.valid(), h5::with_error(cat(path.string(), ": cannot create dataset '", name, "'")));
  RB_CHECK(H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0,
           h5::with_error(cat(path.string(), ": cannot write dataset '", name, "' (disk full?)")));
}

void write_bytes_dataset(hid_t file, const fs::path& path, const std::string& name,
                         const std::string& bytes) {
  // h5py: create_dataset(name, data=b"...") -> scalar, fixed-length 'S<n>', NULLPAD, ASCII.
  h5::Id t(H5Tcopy(H5T_C_S1));
  H5Tset_size(t, bytes.size());
  H5Tset_strpad(t, H5T_STR_NULLPAD);
  H5Tset_cset(t, H5T_CSET_ASCII);
  h5::Id space(H5Screate(H5S_SCALAR));
  h5::Id dcpl(H5Pcreate(H5P_DATASET_CREATE));
  H5Pset_obj_track_times(dcpl, false);
  h5::Id ds(H5Dcreate2(file, name.c_str(), t, space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
  RB_CHECK(ds.valid(), h5::with_error(cat(path.string(), ": cannot create dataset '", name, "'")));
  RB_CHECK(H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data()) >= 0,
           h5::with_error(cat(path.string(), ": cannot write dataset '", name, "'")));
}

void write_string_attr(hid_t obj, const fs::path& path, const char* name,
                       const std::string& value) {
  // h5py: attrs[name] = "str" -> scalar variable-length UTF-8 string.
  h5::Id t(H5Tcopy(H5T_C_S1));
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  h5::Id space(H5Screate(H5S_SCALAR));
  h5::Id a(H5Acreate2(obj, name, t, space, H5P_DEFAULT, H5P_DEFAULT));
  const char* p = value.c_str();
  RB_CHECK(a.valid() && H5Awrite(a, t, &p) >= 0,
           h5::with_error(cat(path.string(), ": cannot write attribute '", name, "'")));
}

template <class T>
void write_number_attr(hid_t obj, const fs::path& path, const char* name, T value) {
  constexpr bool is_double = std::is_same_v<T, double>;
  hid_t ftype = is_double ? H5T_IEEE_F64LE : H5T_STD_I64LE;
  hid_t mtype = is_double ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64;
  h5::Id space(H5Screate(H5S_SCALAR));
  h5::Id a(H5Acreate2(obj, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT));
  RB_CHECK(a.valid() && H5Awrite(a, mtype, &value) >= 0,
           h5::with_error(cat(path.string(), ": cannot write attribute '", name, "'")));
}

h5::Id create_file(const fs::path& final_path, const fs::path& tmp) {
  h5::Id fapl(H5Pcreate(H5P_FILE_ACCESS));
  H5Pset_file_locking(fapl, false, true);
  h5::Id fcpl(H5Pcreate(H5P_FILE_CREATE));
  H5Pset_obj_track_times(fcpl, false);  // root group without timestamps: reproducible bytes
  h5::Id f(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, fcpl, fapl));
  RB_CHECK(f.valid(), h5::with_error(cat(final_path.string(), ": cannot create HDF5 file")));
  return f;
}

void close_file(h5::Id& f, const fs::path& path) {
  RB_CHECK(H5Fclose(f.release()) >= 0,
           h5::with_error(cat(path.string(), ": cannot close HDF5 file (disk full?)")));
}

}  // namespace

void write_fastmri(const fs::path& path, const FastMriVolume& vol) {
  const std::string p = path.string();
  const Shape& ks = vol.kspace.shape();
  RB_CHECK(ks.size() == 4, p, ": k-space to write has shape ", shape_str(ks),
           ", expected (slices, coils, readout, phase)");
  for (int64_t n : ks) RB_CHECK(n > 0, p, ": k-space to write has shape ", shape_str(ks));
  if (vol.mask)
    RB_CHECK(static_cast<int64_t>(vol.mask->size()) == ks[3], p, ": mask has length ",
             vol.mask->size(), " but k-space has ", ks[3], " phase-encoding columns");
  if (vol.target) {
    const Shape& ts = vol.target->shape();
    RB_CHECK(ts.size() == 3 && ts[0] == ks[0] && ts[1] > 0 && ts[2] > 0, p,
             ": target has shape ", shape_str(ts), ", expected (", ks[0], ", y, x)");
  }

  AtomicOutput out(path);
  {
    auto guard = h5::lock();
    h5::Id f = create_file(path, out.tmp());
    h5::Id ctype = h5::complex_file_type();
    h5::Id mtype = h5::complex_mem_type();
    // One chunk per slice (1, C, H, W), uncompressed: slice reads touch one chunk. HDF5
    // chunks must stay below 4 GiB; fall back to one coil per chunk beyond that.
    std::vector<hsize_t> chunk = {1, static_cast<hsize_t>(ks[1]), static_cast<hsize_t>(ks[2]),
                                  static_cast<hsize_t>(ks[3])};
    if (ks[1] * ks[2] * ks[3] * 8 >= (int64_t{1} << 32)) chunk[1] = 1;
    write_dataset(f, path, "kspace", ctype, mtype, ks, vol.kspace.data(), chunk);
    if (vol.target)
      write_dataset(f, path, "reconstruction_rss", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT,
                    vol.target->shape(), vol.target->data());
    if (vol.mask)
      write_dataset(f, path, "mask", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT,
                    {static_cast<int64_t>(vol.mask->size())}, vol.mask->data());
    if (!vol.header_xml.empty()) write_bytes_dataset(f, path, "ismrmrd_header", vol.header_xml);
    if (!vol.acquisition.empty()) write_string_attr(f, path, "acquisition", vol.acquisition);
    if (vol.max) write_number_attr(f, path, "max", *vol.max);
    if (vol.norm) write_number_attr(f, path, "norm", *vol.norm);
    if (!vol.patient_id.empty()) write_string_attr(f, path, "patient_id", vol.patient_id);
    if (vol.acceleration) write_number_attr(f, path, "acceleration", *vol.acceleration);
    if (vol.num_low_frequency)
      write_number_attr(f, path, "num_low_frequency", *vol.num_low_frequency);
    close_file(f, path);
  }
  out.commit();
}

void write_reconstruction(const fs::path& path, const Array<float>& recon,
                          const std::string& acquisition) {
  const Shape& s = recon.shape();
  RB_CHECK(s.size() == 3 && s[0] > 0 && s[1] > 0 && s[2] > 0, path.string(),
           ": reconstruction to write has shape ", shape_str(s), ", expected (slices, y, x)");
  AtomicOutput out(path);
  {
    auto guard = h5::lock();
    h5::Id f = create_file(path, out.tmp());
    write_dataset(f, path, "reconstruction", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, s, recon.data());
    if (!acquisition.empty()) write_string_attr(f, path, "acquisition", acquisition);
    close_file(f, path);
  }
  out.commit();
}

}  // namespace rb
