// Reading the float volume and attributes evaluation needs from an HDF5 file (ground truth
// with `reconstruction_rss`, or a reconstruction file with `reconstruction`), without
// requiring k-space. All HDF5 calls hold rb::h5::lock() (io/hdf5.hpp).
#include <fcntl.h>
#include <hdf5.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <utility>

#include "reconbench/eval/evaluate.hpp"
#include "reconbench/io/fastmri.hpp"
#include "reconbench/io/hdf5.hpp"

namespace rb::eval {

namespace fs = std::filesystem;

namespace {

std::string with_h5(const std::string& msg) { return h5::with_error(msg); }
using h5::open_readonly;
using h5::read_string;

bool link_exists(hid_t f, const char* name) { return H5Lexists(f, name, h5::link_access()) > 0; }

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
    // Bounded before the cast: a double beyond int64 (1e300) converts with undefined behaviour.
    RB_CHECK(std::isfinite(v) && v == std::floor(v) && v > 0 && v <= 1e6, path.string(),
             ": attrs['acceleration'] = ", v, " is not a positive integer (at most 10^6)");
    in.acceleration = static_cast<int64_t>(v);
  }
  if (link_exists(f, "ismrmrd_header")) {
    h5::Id d(H5Dopen2(f, "ismrmrd_header", h5::dataset_access()));
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

namespace {

// The dataset `keys` names in an open file, validated as a rank-3 real array; the lock is
// held by the caller.
struct OpenedVolume {
  std::string key;
  h5::Id d, t, s;
  Shape shape;
};

OpenedVolume open_volume(hid_t f, const fs::path& path, const std::vector<std::string>& keys) {
  OpenedVolume v;
  for (const auto& k : keys)
    if (link_exists(f, k.c_str())) {
      v.key = k;
      break;
    }
  if (v.key.empty()) {
    std::string names;
    for (const auto& k : keys) names += (names.empty() ? "'" : " or '") + k + "'";
    throw UserError(cat(path.string(), ": no ", names, " dataset"));
  }
  v.d = h5::Id(H5Dopen2(f, v.key.c_str(), h5::dataset_access()));
  RB_CHECK(v.d.valid(), with_h5(cat(path.string(), ": cannot open '", v.key, "'")));
  v.t = h5::Id(H5Dget_type(v.d));
  v.s = h5::Id(H5Dget_space(v.d));
  const H5T_class_t cls = H5Tget_class(v.t);
  RB_CHECK(cls == H5T_FLOAT || cls == H5T_INTEGER, path.string(), ": '", v.key,
           "' is not a real-valued float array (HDF5 class ", static_cast<int>(cls),
           "); expected float32 (slices, y, x)");
  const int rank = H5Sget_simple_extent_ndims(v.s);
  RB_CHECK(rank == 3, path.string(), ": '", v.key, "' has rank ", rank,
           ", expected 3: (slices, y, x)");
  hsize_t dims[3] = {0, 0, 0};
  H5Sget_simple_extent_dims(v.s, dims, nullptr);
  v.shape = {static_cast<int64_t>(dims[0]), static_cast<int64_t>(dims[1]),
             static_cast<int64_t>(dims[2])};
  RB_CHECK(v.shape[0] > 0 && v.shape[1] > 0 && v.shape[2] > 0 && v.shape[1] <= 65536 &&
               v.shape[2] <= 65536 && v.shape[0] <= 100000,
           path.string(), ": '", v.key, "' has an unusable shape ", shape_str(v.shape));
  return v;
}

void read_all(const OpenedVolume& v, const fs::path& path, float* out) {
  RB_CHECK(H5Dread(v.d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0,
           with_h5(cat(path.string(), ": cannot read '", v.key, "' (truncated or corrupt?)")));
}

// Rows [slice, row, :] read through HDF5 (to check a memory map against).
std::vector<float> read_row(const OpenedVolume& v, int64_t slice, int64_t row) {
  std::vector<float> out(static_cast<size_t>(v.shape[2]));
  h5::Id fs(H5Scopy(v.s));
  const hsize_t start[3] = {static_cast<hsize_t>(slice), static_cast<hsize_t>(row), 0};
  const hsize_t count[3] = {1, 1, static_cast<hsize_t>(v.shape[2])};
  const hsize_t mdim[1] = {static_cast<hsize_t>(v.shape[2])};
  h5::Id ms(H5Screate_simple(1, mdim, nullptr));
  if (H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, nullptr, count, nullptr) < 0 ||
      H5Dread(v.d, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, out.data()) < 0)
    out.clear();
  return out;
}

// File offset of the raw data if the dataset can be memory-mapped as float32, else -1.
int64_t mappable_offset(const OpenedVolume& v) {
  if (H5Tequal(v.t, H5T_IEEE_F32LE) <= 0 || H5Tequal(H5T_NATIVE_FLOAT, H5T_IEEE_F32LE) <= 0)
    return -1;
  h5::Id dcpl(H5Dget_create_plist(v.d));
  if (!dcpl.valid() || H5Pget_layout(dcpl) != H5D_CONTIGUOUS || H5Pget_external_count(dcpl) != 0 ||
      H5Pget_nfilters(dcpl) != 0)
    return -1;
  const haddr_t off = H5Dget_offset(v.d);
  const hsize_t bytes = static_cast<hsize_t>(shape_numel(v.shape)) * sizeof(float);
  if (off == HADDR_UNDEF || off % alignof(float) != 0 || H5Dget_storage_size(v.d) != bytes)
    return -1;
  return static_cast<int64_t>(off);
}

// mmap [offset, offset + bytes) of the file read-only; nullptr if that fails or the file is
// shorter. Returns the mapping (page-aligned) and its length through base/len.
const float* map_region(const fs::path& path, int64_t offset, size_t bytes, const void*& base,
                        size_t& len) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  struct stat st {};
  const float* data = nullptr;
  if (::fstat(fd, &st) == 0 && st.st_size >= offset + static_cast<int64_t>(bytes)) {
    const int64_t page = ::sysconf(_SC_PAGESIZE);
    const int64_t start = offset / page * page;
    len = static_cast<size_t>(offset - start) + bytes;
    void* p = ::mmap(nullptr, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, start);
    if (p != MAP_FAILED) {
      base = p;
      data = reinterpret_cast<const float*>(static_cast<const char*>(p) + (offset - start));
    }
  }
  ::close(fd);
  return data;
}

}  // namespace

VolumeData::VolumeData(Array<float> owned) : owned_(std::move(owned)) {
  data_ = owned_.data();
  shape_ = owned_.shape();
}

VolumeData::VolumeData(const void* map, size_t map_len, const float* data, Shape shape)
    : map_(map), map_len_(map_len), data_(data), shape_(std::move(shape)) {}

VolumeData::VolumeData(VolumeData&& o) noexcept { *this = std::move(o); }

VolumeData& VolumeData::operator=(VolumeData&& o) noexcept {
  if (this != &o) {
    release();
    owned_ = std::move(o.owned_);
    map_ = std::exchange(o.map_, nullptr);
    map_len_ = std::exchange(o.map_len_, 0);
    shape_ = std::move(o.shape_);
    data_ = map_ ? std::exchange(o.data_, nullptr) : owned_.data();
    o.data_ = nullptr;
  }
  return *this;
}

VolumeData::~VolumeData() { release(); }

void VolumeData::release() {
  if (map_) ::munmap(const_cast<void*>(map_), map_len_);
  map_ = nullptr;
  map_len_ = 0;
  data_ = nullptr;
}

EvalVolume read_eval_volume(const fs::path& path, const std::vector<std::string>& keys) {
  EvalVolume out;
  int64_t offset = -1;
  std::vector<float> first, last;
  Shape shape;
  {
    auto guard = h5::lock();
    h5::Id f = open_readonly(path);
    OpenedVolume v = open_volume(f, path, keys);
    out.key = v.key;
    shape = v.shape;
    EvalInput attrs;
    read_attrs(f, path, attrs);
    out.acquisition = std::move(attrs.acquisition);
    out.acceleration = attrs.acceleration;
    out.vendor = std::move(attrs.vendor);
    offset = mappable_offset(v);
    if (offset >= 0) {
      first = read_row(v, 0, 0);
      last = read_row(v, shape[0] - 1, shape[1] - 1);
      if (first.empty() || last.empty()) offset = -1;
    }
    if (offset < 0) {
      Array<float> a(shape);
      read_all(v, path, a.data());
      out.volume = VolumeData(std::move(a));
      return out;
    }
  }
  // Outside the HDF5 lock: map the raw data and check it against what HDF5 read.
  const size_t n = static_cast<size_t>(shape_numel(shape));
  const void* base = nullptr;
  size_t len = 0;
  const float* data = map_region(path, offset, n * sizeof(float), base, len);
  if (data) {
    VolumeData vd(base, len, data, shape);
    const size_t w = static_cast<size_t>(shape[2]);
    if (std::memcmp(data, first.data(), w * sizeof(float)) == 0 &&
        std::memcmp(data + n - w, last.data(), w * sizeof(float)) == 0) {
      out.volume = std::move(vd);
      return out;
    }
  }
  auto guard = h5::lock();
  h5::Id f = open_readonly(path);
  OpenedVolume v = open_volume(f, path, keys);
  Array<float> a(v.shape);
  read_all(v, path, a.data());
  out.volume = VolumeData(std::move(a));
  return out;
}

EvalInput read_eval_input(const fs::path& path, const std::vector<std::string>& keys) {
  auto guard = h5::lock();
  h5::Id f = open_readonly(path);
  OpenedVolume v = open_volume(f, path, keys);
  EvalInput in;
  in.key = v.key;
  in.volume = Array<float>(v.shape);
  read_all(v, path, in.volume.data());
  read_attrs(f, path, in);
  return in;
}

}  // namespace rb::eval
