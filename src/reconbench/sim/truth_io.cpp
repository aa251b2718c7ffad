#include "reconbench/sim/truth_io.hpp"

#include <hdf5.h>

#include "reconbench/core/error.hpp"
#include "reconbench/core/fs.hpp"
#include "reconbench/io/hdf5.hpp"

namespace rb::sim {
namespace {

namespace fs = std::filesystem;

std::string h5err(const std::string& what) {
  const std::string e = h5::last_error();
  return e.empty() ? what : what + " (" + e + ")";
}

class Writer {
 public:
  Writer(const fs::path& final_path, const fs::path& tmp) : path_(final_path) {
    h5::Id fapl(H5Pcreate(H5P_FILE_ACCESS));
    H5Pset_file_locking(fapl, false, true);
    f_ = h5::Id(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl));
    RB_CHECK(f_.valid(), h5err(path_.string() + ": cannot create HDF5 file"));
  }
  hid_t file() const { return f_; }

  void dataset(const std::string& name, hid_t ftype, hid_t mtype, const Shape& shape, const void* data) {
    std::vector<hsize_t> dims(shape.begin(), shape.end());
    h5::Id space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
    h5::Id dcpl(H5Pcreate(H5P_DATASET_CREATE));
    H5Pset_obj_track_times(dcpl, false);
    h5::Id ds(H5Dcreate2(f_, name.c_str(), ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
    RB_CHECK(ds.valid(), h5err(path_.string() + ": cannot create dataset '" + name + "'"));
    RB_CHECK(H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0,
             h5err(path_.string() + ": cannot write dataset '" + name + "' (disk full?)"));
  }
  void complex_dataset(const std::string& name, const Shape& shape, const cfloat* data) {
    h5::Id ft(H5Tcreate(H5T_COMPOUND, 8));
    H5Tinsert(ft, "r", 0, H5T_IEEE_F32LE);
    H5Tinsert(ft, "i", 4, H5T_IEEE_F32LE);
    h5::Id mt(H5Tcreate(H5T_COMPOUND, sizeof(cfloat)));
    H5Tinsert(mt, "r", 0, H5T_NATIVE_FLOAT);
    H5Tinsert(mt, "i", sizeof(float), H5T_NATIVE_FLOAT);
    dataset(name, ft, mt, shape, data);
  }
  void bytes(const std::string& name, const std::string& s) {
    h5::Id t(H5Tcopy(H5T_C_S1));
    H5Tset_size(t, std::max<size_t>(1, s.size()));
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    h5::Id space(H5Screate(H5S_SCALAR));
    h5::Id dcpl(H5Pcreate(H5P_DATASET_CREATE));
    H5Pset_obj_track_times(dcpl, false);
    h5::Id ds(H5Dcreate2(f_, name.c_str(), t, space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
    RB_CHECK(ds.valid() && H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, s.data()) >= 0,
             h5err(path_.string() + ": cannot write dataset '" + name + "'"));
  }
  void attr(const std::string& name, const std::string& value) {
    h5::Id t(H5Tcopy(H5T_C_S1));
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    h5::Id space(H5Screate(H5S_SCALAR));
    h5::Id a(H5Acreate2(f_, name.c_str(), t, space, H5P_DEFAULT, H5P_DEFAULT));
    const char* p = value.c_str();
    RB_CHECK(a.valid() && H5Awrite(a, t, &p) >= 0,
             h5err(path_.string() + ": cannot write attribute '" + name + "'"));
  }
  template <class T>
  void attr(const std::string& name, T value) {
    constexpr bool is_double = std::is_floating_point_v<T>;
    h5::Id space(H5Screate(H5S_SCALAR));
    h5::Id a(H5Acreate2(f_, name.c_str(), is_double ? H5T_IEEE_F64LE : H5T_STD_I64LE, space,
                        H5P_DEFAULT, H5P_DEFAULT));
    if constexpr (is_double) {
      const double v = value;
      RB_CHECK(a.valid() && H5Awrite(a, H5T_NATIVE_DOUBLE, &v) >= 0,
               h5err(path_.string() + ": cannot write attribute '" + name + "'"));
    } else {
      const int64_t v = value;
      RB_CHECK(a.valid() && H5Awrite(a, H5T_NATIVE_INT64, &v) >= 0,
               h5err(path_.string() + ": cannot write attribute '" + name + "'"));
    }
  }
  void close() {
    RB_CHECK(H5Fclose(f_.release()) >= 0, h5err(path_.string() + ": cannot close HDF5 file"));
  }

 private:
  fs::path path_;
  h5::Id f_;
};

}  // namespace

void write_truth_file(const fs::path& path, const SimulatedVolume& vol, const std::string& name) {
  AtomicOutput out(path);
  {
    auto guard = h5::lock();
    Writer w(path, out.tmp());
    w.complex_dataset("image_complex", vol.image_complex.shape(), vol.image_complex.data());
    if (!vol.image_complex_nolesion.empty())
      w.complex_dataset("image_complex_nolesion", vol.image_complex_nolesion.shape(),
                        vol.image_complex_nolesion.data());
    w.complex_dataset("sens", vol.sens.shape(), vol.sens.data());
    w.dataset("labels", H5T_STD_U8LE, H5T_NATIVE_UINT8, vol.labels.shape(), vol.labels.data());
    w.dataset("lesion_mask", H5T_STD_U8LE, H5T_NATIVE_UINT8, vol.lesion_mask.shape(),
              vol.lesion_mask.data());
    const int64_t C = vol.spec.coils;
    std::vector<cfloat> cov(vol.noise_cov.size());
    for (size_t q = 0; q < cov.size(); ++q) cov[q] = cfloat(vol.noise_cov[q]);
    w.complex_dataset("noise_cov", {C, C}, cov.data());
    w.bytes("params", vol.params.dump(1));
    w.attr("file", name);
    std::string names;
    for (int t = 0; t < kNumTissues; ++t) names += std::string(t ? "," : "") + tissue_name(t);
    w.attr("label_names", names);
    w.close();
  }
  out.commit();
}

void write_ground_truth_file(const fs::path& path, const Array<float>& rss,
                             const std::string& header_xml, const std::string& acquisition,
                             double max, double norm, const std::string& patient_id,
                             int64_t acceleration, int64_t num_low_frequency) {
  AtomicOutput out(path);
  {
    auto guard = h5::lock();
    Writer w(path, out.tmp());
    w.dataset("reconstruction_rss", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, rss.shape(), rss.data());
    w.bytes("ismrmrd_header", header_xml);
    w.attr("acquisition", acquisition);
    w.attr("max", max);
    w.attr("norm", norm);
    w.attr("patient_id", patient_id);
    w.attr("acceleration", acceleration);
    w.attr("num_low_frequency", num_low_frequency);
    w.close();
  }
  out.commit();
}

}  // namespace rb::sim
