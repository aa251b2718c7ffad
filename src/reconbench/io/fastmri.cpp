// fastMRI HDF5 files through the HDF5 C API, in exactly the layout h5py produces:
//   complex64 -> compound {r: <f4 @0, i: <f4 @4} (size 8)
//   float32   -> IEEE F32LE;  bytes -> scalar fixed-length string 'S<n>' (NULLPAD, ASCII)
//   str attr  -> scalar variable-length string, UTF-8;  float attr -> F64LE; int -> I64LE
// Every HDF5 call runs under h5::lock() (Debian's libhdf5 is not thread-safe).
#include "reconbench/io/fastmri.hpp"

#include <cmath>
#include <cstring>
#include <fstream>
#include <mutex>

#include "reconbench/core/fs.hpp"
#include "reconbench/io/h5_types.hpp"
#include "reconbench/io/hdf5.hpp"

namespace fs = std::filesystem;

namespace rb {

static_assert(sizeof(cfloat) == 2 * sizeof(float), "cfloat must be interleaved (re, im)");
static_assert(sizeof(float) == 4 && sizeof(double) == 8);

namespace {

constexpr int64_t kMaxCoils = 256;
constexpr int64_t kMaxElements = int64_t{1} << 31;  // 16 GiB of complex64
constexpr int64_t kMaxDim = int64_t{1} << 20;
// String-like values (ismrmrd_header, string attrs): a real ISMRMRD header is a few KB. A
// tiny file can declare a chunked byte array of 2^40 elements; refuse before allocating.
constexpr int64_t kMaxStringBytes = int64_t{64} << 20;

std::string with_h5(const std::string& msg) { return h5::with_error(msg); }

// numpy-style name of an HDF5 datatype, for error messages.
std::string dtype_str(hid_t t) {
  size_t size = H5Tget_size(t);
  switch (H5Tget_class(t)) {
    case H5T_FLOAT:
      return "float" + std::to_string(size * 8);
    case H5T_INTEGER:
      return std::string(H5Tget_sign(t) == H5T_SGN_NONE ? "uint" : "int") +
             std::to_string(size * 8);
    case H5T_STRING:
      return H5Tis_variable_str(t) > 0 ? "str (variable-length)"
                                       : "bytes (S" + std::to_string(size) + ")";
    case H5T_COMPOUND: {
      int n = H5Tget_nmembers(t);
      std::string s = "compound{";
      for (int i = 0; i < n; ++i) {
        char* name = H5Tget_member_name(t, static_cast<unsigned>(i));
        h5::Id mt(H5Tget_member_type(t, static_cast<unsigned>(i)));
        s += (i ? ", " : "") + std::string(name ? name : "?") + ": " + dtype_str(mt);
        H5free_memory(name);
      }
      return s + "}";
    }
    case H5T_ENUM:
      return "enum (bool)";
    case H5T_OPAQUE:
      return "opaque";
    case H5T_ARRAY:
      return "array";
    case H5T_VLEN:
      return "vlen";
    default:
      return "unknown";
  }
}

// True if the root group has a link `name`; UserError if the group itself is unreadable.
bool link_exists(hid_t loc, const char* name, const fs::path& path) {
  htri_t r = H5Lexists(loc, name, H5P_DEFAULT);
  RB_CHECK(r >= 0, with_h5(cat(path.string(), ": cannot read the root group looking for '",
                               name, "' (corrupt file?)")));
  return r > 0;
}

bool attr_exists(hid_t obj, const char* name) {
  htri_t r = H5Aexists(obj, name);
  H5Eclear2(H5E_DEFAULT);
  return r > 0;
}

herr_t collect_name(hid_t, const char* name, const H5L_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->push_back(name);
  return 0;
}

// Names in the root group; nullopt if the group cannot be iterated (corrupt file).
std::optional<std::vector<std::string>> root_name_list(hid_t file) {
  std::vector<std::string> names;
  hsize_t idx = 0;
  herr_t r = H5Literate(file, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_name, &names);
  if (r < 0) return std::nullopt;
  return names;
}

std::string root_names(hid_t file) {
  auto names = root_name_list(file);
  H5Eclear2(H5E_DEFAULT);
  if (!names) return "unreadable root group";
  std::string s;
  for (const auto& n : *names) s += (s.empty() ? "" : ", ") + n;
  return s.empty() ? "none" : s;
}

Shape space_shape(hid_t space) {
  int rank = H5Sget_simple_extent_ndims(space);
  if (rank <= 0) return {};
  std::vector<hsize_t> d(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space, d.data(), nullptr);
  return Shape(d.begin(), d.end());
}

// Compound {r: f32, i: f32} in memory, with the member names the file uses (HDF5 matches
// compound members by name when converting).
h5::Id complex_mem_type(const std::string& rname = "r", const std::string& iname = "i") {
  h5::Id t(H5Tcreate(H5T_COMPOUND, sizeof(cfloat)));
  H5Tinsert(t, rname.c_str(), 0, H5T_NATIVE_FLOAT);
  H5Tinsert(t, iname.c_str(), sizeof(float), H5T_NATIVE_FLOAT);
  return t;
}

h5::Id complex_file_type() {
  h5::Id t(H5Tcreate(H5T_COMPOUND, 8));
  H5Tinsert(t, "r", 0, H5T_IEEE_F32LE);
  H5Tinsert(t, "i", 4, H5T_IEEE_F32LE);
  return t;
}

struct DatasetInfo {
  h5::Id ds;
  h5::Id type;
  Shape shape;
  bool scalar = false;
};

DatasetInfo open_dataset(hid_t file, const fs::path& path, const std::string& name) {
  DatasetInfo d;
  d.ds = h5::Id(H5Dopen2(file, name.c_str(), H5P_DEFAULT));
  RB_CHECK(d.ds.valid(), with_h5(cat(path.string(), ": '", name,
                                     "' is not a readable dataset (corrupt file?)")));
  d.type = h5::Id(H5Dget_type(d.ds));
  h5::Id space(H5Dget_space(d.ds));
  RB_CHECK(d.type.valid() && space.valid(),
           with_h5(cat(path.string(), ": cannot read the type of '", name, "' (corrupt file?)")));
  d.scalar = H5Sget_simple_extent_type(space) == H5S_SCALAR;
  d.shape = space_shape(space);
  return d;
}

void check_dims(const fs::path& path, const std::string& name, const Shape& shape) {
  for (int64_t n : shape)
    RB_CHECK(n > 0 && n <= kMaxDim, path.string(), ": '", name, "' has shape ", shape_str(shape),
             " (every dimension must be between 1 and ", kMaxDim, ")");
  RB_CHECK(shape_numel(shape) <= kMaxElements, path.string(), ": '", name, "' has shape ",
           shape_str(shape), ", more than 2^31 elements");
}

// Check that the dataset is complex (a compound of two floats) and return the memory type
// that converts it to complex64.
h5::Id complex_read_type(const fs::path& path, const std::string& name, hid_t ftype) {
  bool ok = H5Tget_class(ftype) == H5T_COMPOUND && H5Tget_nmembers(ftype) == 2;
  std::string names[2];
  for (unsigned i = 0; ok && i < 2; ++i) {
    h5::Id mt(H5Tget_member_type(ftype, i));
    ok = H5Tget_class(mt) == H5T_FLOAT;
    char* n = H5Tget_member_name(ftype, i);
    names[i] = n ? n : "";
    H5free_memory(n);
  }
  RB_CHECK(ok, path.string(), ": '", name, "' has dtype ", dtype_str(ftype),
           ", expected complex64 (HDF5 compound {r: float32, i: float32} as h5py writes)");
  return complex_mem_type(names[0], names[1]);
}

void check_float_class(const fs::path& path, const std::string& name, hid_t ftype) {
  RB_CHECK(H5Tget_class(ftype) == H5T_FLOAT, path.string(), ": '", name, "' has dtype ",
           dtype_str(ftype), ", expected float32");
}

// Read a whole string-like value: fixed/variable-length string (scalar or one element), or
// a 1-D uint8/int8 array of bytes. `is_attr` selects H5Aread vs H5Dread.
std::string read_string_value(hid_t obj, hid_t ftype, hid_t space, bool is_attr,
                              const fs::path& path, const std::string& name) {
  hssize_t npoints = H5Sget_simple_extent_npoints(space);
  H5T_class_t cls = H5Tget_class(ftype);
  auto read = [&](hid_t mtype, void* buf) {
    herr_t r = is_attr ? H5Aread(obj, mtype, buf) : H5Dread(obj, mtype, H5S_ALL, H5S_ALL,
                                                             H5P_DEFAULT, buf);
    RB_CHECK(r >= 0, with_h5(cat(path.string(), ": cannot read '", name, "'")));
  };
  if (cls == H5T_STRING) {
    RB_CHECK(npoints == 1, path.string(), ": '", name, "' holds ", npoints,
             " strings, expected one");
    RB_CHECK(H5Tis_variable_str(ftype) > 0 ||
                 static_cast<int64_t>(H5Tget_size(ftype)) <= kMaxStringBytes,
             path.string(), ": '", name, "' is a string of ", H5Tget_size(ftype),
             " bytes, more than ", kMaxStringBytes);
    h5::Id mt(H5Tcopy(H5T_C_S1));
    H5Tset_cset(mt, H5Tget_cset(ftype));
    if (H5Tis_variable_str(ftype) > 0) {
      H5Tset_size(mt, H5T_VARIABLE);
      char* p = nullptr;
      read(mt, &p);
      std::string s = p ? p : "";
      H5free_memory(p);
      return s;
    }
    size_t n = H5Tget_size(ftype);
    H5Tset_size(mt, n);
    H5Tset_strpad(mt, H5T_STR_NULLPAD);
    std::string buf(n, '\0');
    read(mt, buf.data());
    size_t end = buf.find('\0');
    if (end != std::string::npos) buf.resize(end);
    return buf;
  }
  if ((cls == H5T_INTEGER && H5Tget_size(ftype) == 1) || cls == H5T_OPAQUE) {
    size_t esize = H5Tget_size(ftype);
    RB_CHECK(npoints >= 0 && esize > 0 &&
                 npoints <= kMaxStringBytes / static_cast<int64_t>(esize),
             path.string(), ": '", name, "' holds ", npoints, " elements of ", esize,
             " bytes, more than the ", kMaxStringBytes, " bytes a string may have");
    std::string buf(static_cast<size_t>(npoints) * esize, '\0');
    h5::Id mt(H5Tcopy(ftype));
    read(mt, buf.data());
    size_t end = buf.find('\0');
    if (end != std::string::npos) buf.resize(end);
    return buf;
  }
  throw UserError(cat(path.string(), ": '", name, "' has dtype ", dtype_str(ftype),
                      ", expected a string"));
}

std::string read_string_attr(hid_t obj, const char* name, const fs::path& path) {
  if (!attr_exists(obj, name)) return "";
  h5::Id a(H5Aopen(obj, name, H5P_DEFAULT));
  RB_CHECK(a.valid(), with_h5(cat(path.string(), ": cannot open attribute '", name, "'")));
  h5::Id t(H5Aget_type(a));
  h5::Id space(H5Aget_space(a));
  return read_string_value(a, t, space, true, path, cat("attrs['", name, "']"));
}

template <class T>
std::optional<T> read_number_attr(hid_t obj, const char* name, const fs::path& path) {
  if (!attr_exists(obj, name)) return std::nullopt;
  h5::Id a(H5Aopen(obj, name, H5P_DEFAULT));
  RB_CHECK(a.valid(), with_h5(cat(path.string(), ": cannot open attribute '", name, "'")));
  h5::Id t(H5Aget_type(a));
  h5::Id space(H5Aget_space(a));
  H5T_class_t cls = H5Tget_class(t);
  RB_CHECK(cls == H5T_INTEGER || cls == H5T_FLOAT, path.string(), ": attrs['", name,
           "'] has dtype ", dtype_str(t), ", expected a number");
  RB_CHECK(H5Sget_simple_extent_npoints(space) == 1, path.string(), ": attrs['", name,
           "'] is an array, expected a single number");
  T value{};
  hid_t mt = std::is_same_v<T, double> ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64;
  RB_CHECK(H5Aread(a, mt, &value) >= 0,
           with_h5(cat(path.string(), ": cannot read attrs['", name, "']")));
  return value;
}

// Mask [phase] as float, from float32/float64/integer/bool (h5py bool = enum of int8).
std::vector<float> read_mask_dataset(hid_t file, const fs::path& path) {
  DatasetInfo d = open_dataset(file, path, "mask");
  int64_t n = shape_numel(d.shape);
  std::vector<float> out(static_cast<size_t>(n));
  H5T_class_t cls = H5Tget_class(d.type);
  if (cls == H5T_FLOAT || cls == H5T_INTEGER) {
    RB_CHECK(H5Dread(d.ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) >= 0,
             with_h5(cat(path.string(), ": cannot read 'mask' (truncated or corrupt file?)")));
    return out;
  }
  if (cls == H5T_ENUM) {
    h5::Id super(H5Tget_super(d.type));
    size_t size = H5Tget_size(super);
    bool is_signed = H5Tget_sign(super) != H5T_SGN_NONE;
    h5::Id mt(H5Tget_native_type(d.type, H5T_DIR_DEFAULT));
    std::vector<unsigned char> raw(static_cast<size_t>(n) * size);
    RB_CHECK(size == 1 || size == 2 || size == 4 || size == 8, path.string(),
             ": 'mask' has an unsupported enum type");
    RB_CHECK(H5Dread(d.ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data()) >= 0,
             with_h5(cat(path.string(), ": cannot read 'mask' (truncated or corrupt file?)")));
    for (int64_t i = 0; i < n; ++i) {
      const unsigned char* p = raw.data() + i * size;
      int64_t v = 0;
      if (size == 1) v = is_signed ? *reinterpret_cast<const int8_t*>(p) : *p;
      if (size == 2) {
        int16_t x;
        std::memcpy(&x, p, 2);
        v = is_signed ? x : static_cast<uint16_t>(x);
      }
      if (size == 4) {
        int32_t x;
        std::memcpy(&x, p, 4);
        v = is_signed ? x : static_cast<uint32_t>(x);
      }
      if (size == 8) std::memcpy(&v, p, 8);
      out[static_cast<size_t>(i)] = static_cast<float>(v);
    }
    return out;
  }
  throw UserError(cat(path.string(), ": 'mask' has dtype ", dtype_str(d.type),
                      ", expected float32 or bool"));
}

// Read a float dataset (hyperslab over the first axis when slice >= 0) into `out`.
void read_float_rows(const DatasetInfo& d, const fs::path& path, const std::string& name,
                     int64_t slice, float* out) {
  h5::Id fspace(H5Dget_space(d.ds));
  h5::Id mspace;
  if (slice >= 0) {
    std::vector<hsize_t> start(d.shape.size(), 0), count(d.shape.begin(), d.shape.end());
    start[0] = static_cast<hsize_t>(slice);
    count[0] = 1;
    H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
    mspace = h5::Id(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr));
  } else {
    mspace = h5::Id(H5Scopy(fspace));
  }
  RB_CHECK(H5Dread(d.ds, H5T_NATIVE_FLOAT, mspace, fspace, H5P_DEFAULT, out) >= 0,
           with_h5(cat(path.string(), ": cannot read '", name,
                       "' (truncated or corrupt file?)")));
}

// Every file is opened through the object-graph check of io/hdf5.hpp (no links out of the
// file, no virtual or external data).
h5::Id open_file_readonly(const fs::path& path) { return h5::open_readonly(path); }

}  // namespace

// ---------------------------------------------------------------------------------------
// FastMriFile

struct FastMriFile::Impl {
  fs::path path;
  h5::Id file;
  h5::Id kspace;
  h5::Id kspace_memtype;
  Shape kshape;
  bool has_target = false;
  Shape tshape;
  bool has_mask = false;
  bool has_header = false;
  std::string header_xml;
  mutable std::optional<IsmrmrdInfo> header;  // parsed on first use, under header_mutex
  mutable std::mutex header_mutex;
  std::string acquisition, patient_id;
  std::optional<double> max, norm;
  std::optional<int64_t> acceleration, num_low_frequency;

  ~Impl() {
    auto guard = h5::lock();
    kspace_memtype.reset();
    kspace.reset();
    file.reset();
  }
};

FastMriFile::FastMriFile(const fs::path& path) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.path = path;
  m.file = open_file_readonly(path);
  auto guard = h5::lock();
  const std::string p = path.string();

  RB_CHECK(link_exists(m.file, "kspace", path), p, ": no 'kspace' dataset (found: ",
           root_names(m.file), "); not a fastMRI k-space file");
  {
    DatasetInfo d = open_dataset(m.file, path, "kspace");
    m.kspace_memtype = complex_read_type(path, "kspace", d.type);
    RB_CHECK(d.shape.size() == 4, p, ": 'kspace' has rank ", d.shape.size(), " (shape ",
             shape_str(d.shape), "), expected 4: (slices, coils, readout, phase)");
    check_dims(path, "kspace", d.shape);
    RB_CHECK(d.shape[1] <= kMaxCoils, p, ": 'kspace' has ", d.shape[1],
             " coils (shape (slices, coils, readout, phase) = ", shape_str(d.shape),
             "), more than ", kMaxCoils);
    m.kshape = d.shape;
    m.kspace = std::move(d.ds);
  }

  if (link_exists(m.file, "reconstruction_rss", path)) {
    DatasetInfo d = open_dataset(m.file, path, "reconstruction_rss");
    check_float_class(path, "reconstruction_rss", d.type);
    RB_CHECK(d.shape.size() == 3, p, ": 'reconstruction_rss' has rank ", d.shape.size(),
             " (shape ", shape_str(d.shape), "), expected 3: (slices, y, x)");
    check_dims(path, "reconstruction_rss", d.shape);
    RB_CHECK(d.shape[0] == m.kshape[0], p, ": 'reconstruction_rss' has ", d.shape[0],
             " slices but 'kspace' has ", m.kshape[0]);
    m.has_target = true;
    m.tshape = d.shape;
  }

  if (link_exists(m.file, "mask", path)) {
    DatasetInfo d = open_dataset(m.file, path, "mask");
    check_dims(path, "mask", d.shape);  // before shape_numel, which must not overflow
    int64_t n = shape_numel(d.shape);
    int64_t non_unit = 0;
    for (int64_t s : d.shape) non_unit += s != 1;
    RB_CHECK(non_unit <= 1 && n == m.kshape[3], p, ": 'mask' has shape ", shape_str(d.shape),
             " but k-space has ", m.kshape[3], " phase-encoding columns (mask length must be W)");
    H5T_class_t cls = H5Tget_class(d.type);
    RB_CHECK(cls == H5T_FLOAT || cls == H5T_INTEGER || cls == H5T_ENUM, p, ": 'mask' has dtype ",
             dtype_str(d.type), ", expected float32 or bool");
    m.has_mask = true;
  }

  if (link_exists(m.file, "ismrmrd_header", path)) {
    DatasetInfo d = open_dataset(m.file, path, "ismrmrd_header");
    h5::Id space(H5Dget_space(d.ds));
    m.header_xml = read_string_value(d.ds, d.type, space, false, path, "ismrmrd_header");
    m.has_header = true;
  }

  m.acquisition = read_string_attr(m.file, "acquisition", path);
  m.patient_id = read_string_attr(m.file, "patient_id", path);
  m.max = read_number_attr<double>(m.file, "max", path);
  m.norm = read_number_attr<double>(m.file, "norm", path);
  m.acceleration = read_number_attr<int64_t>(m.file, "acceleration", path);
  m.num_low_frequency = read_number_attr<int64_t>(m.file, "num_low_frequency", path);
}

FastMriFile::~FastMriFile() = default;
FastMriFile::FastMriFile(FastMriFile&&) noexcept = default;
FastMriFile& FastMriFile::operator=(FastMriFile&&) noexcept = default;

const fs::path& FastMriFile::path() const { return impl_->path; }
int64_t FastMriFile::num_slices() const { return impl_->kshape[0]; }
int64_t FastMriFile::num_coils() const { return impl_->kshape[1]; }
int64_t FastMriFile::readout() const { return impl_->kshape[2]; }
int64_t FastMriFile::phase() const { return impl_->kshape[3]; }
Shape FastMriFile::kspace_shape() const { return impl_->kshape; }
bool FastMriFile::has_target() const { return impl_->has_target; }
Shape FastMriFile::target_shape() const { return impl_->tshape; }
bool FastMriFile::has_mask() const { return impl_->has_mask; }
const std::string& FastMriFile::header_xml() const { return impl_->header_xml; }
bool FastMriFile::has_header() const { return impl_->has_header; }
std::string FastMriFile::acquisition() const { return impl_->acquisition; }
std::optional<double> FastMriFile::attr_max() const { return impl_->max; }
std::optional<double> FastMriFile::attr_norm() const { return impl_->norm; }
std::string FastMriFile::patient_id() const { return impl_->patient_id; }
std::optional<int64_t> FastMriFile::acceleration() const { return impl_->acceleration; }
std::optional<int64_t> FastMriFile::num_low_frequency() const {
  return impl_->num_low_frequency;
}

const IsmrmrdInfo& FastMriFile::header() const {
  RB_CHECK(impl_->has_header, impl_->path.string(), ": no 'ismrmrd_header' dataset");
  std::lock_guard lock(impl_->header_mutex);
  if (!impl_->header)
    impl_->header = parse_ismrmrd_header(impl_->header_xml,
                                         impl_->path.string() + ": 'ismrmrd_header'");
  return *impl_->header;
}

Array<cfloat> FastMriFile::read_kspace() const {
  const Impl& m = *impl_;
  Array<cfloat> out(m.kshape);
  auto guard = h5::lock();
  RB_CHECK(H5Dread(m.kspace, m.kspace_memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) >= 0,
           with_h5(cat(m.path.string(), ": cannot read 'kspace' (truncated or corrupt file?)")));
  return out;
}

Array<cfloat> FastMriFile::read_kspace_slice(int64_t s) const {
  const Impl& m = *impl_;
  RB_CHECK(s >= 0 && s < m.kshape[0], m.path.string(), ": slice ", s, " out of range (file has ",
           m.kshape[0], " slices)");
  Array<cfloat> out({m.kshape[1], m.kshape[2], m.kshape[3]});
  auto guard = h5::lock();
  h5::Id fspace(H5Dget_space(m.kspace));
  hsize_t start[4] = {static_cast<hsize_t>(s), 0, 0, 0};
  hsize_t count[4] = {1, static_cast<hsize_t>(m.kshape[1]), static_cast<hsize_t>(m.kshape[2]),
                      static_cast<hsize_t>(m.kshape[3])};
  H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, nullptr, count, nullptr);
  h5::Id mspace(H5Screate_simple(3, count + 1, nullptr));
  RB_CHECK(H5Dread(m.kspace, m.kspace_memtype, mspace, fspace, H5P_DEFAULT, out.data()) >= 0,
           with_h5(cat(m.path.string(), ": cannot read slice ", s,
                       " of 'kspace' (truncated or corrupt file?)")));
  return out;
}

Array<float> FastMriFile::read_target() const {
  const Impl& m = *impl_;
  RB_CHECK(m.has_target, m.path.string(), ": no 'reconstruction_rss' (ground truth) dataset");
  Array<float> out(m.tshape);
  {
    auto guard = h5::lock();
    DatasetInfo d = open_dataset(m.file, m.path, "reconstruction_rss");
    read_float_rows(d, m.path, "reconstruction_rss", -1, out.data());
  }
  check_finite(out, m.path.string() + ": 'reconstruction_rss'");
  return out;
}

Array<float> FastMriFile::read_target_slice(int64_t s) const {
  const Impl& m = *impl_;
  RB_CHECK(m.has_target, m.path.string(), ": no 'reconstruction_rss' (ground truth) dataset");
  RB_CHECK(s >= 0 && s < m.tshape[0], m.path.string(), ": slice ", s,
           " out of range (file has ", m.tshape[0], " slices)");
  Array<float> out({m.tshape[1], m.tshape[2]});
  {
    auto guard = h5::lock();
    DatasetInfo d = open_dataset(m.file, m.path, "reconstruction_rss");
    read_float_rows(d, m.path, "reconstruction_rss", s, out.data());
  }
  check_finite(out, cat(m.path.string(), ": 'reconstruction_rss' slice ", s));
  return out;
}

std::vector<float> FastMriFile::read_mask() const {
  const Impl& m = *impl_;
  RB_CHECK(m.has_mask, m.path.string(), ": no 'mask' dataset");
  auto guard = h5::lock();
  return read_mask_dataset(m.file, m.path);
}

FastMriVolume FastMriFile::read_all() const {
  FastMriVolume v;
  v.kspace = read_kspace();
  if (has_target()) v.target = read_target();
  if (has_mask()) v.mask = read_mask();
  v.header_xml = impl_->header_xml;
  v.acquisition = impl_->acquisition;
  v.max = impl_->max;
  v.norm = impl_->norm;
  v.patient_id = impl_->patient_id;
  v.acceleration = impl_->acceleration;
  v.num_low_frequency = impl_->num_low_frequency;
  return v;
}

Array<float> read_reconstruction(const fs::path& path, const std::string& key) {
  Array<float> out;
  {
    auto guard = h5::lock();  // before `f`, so that `f` is closed under the lock
    h5::Id f = open_file_readonly(path);
    RB_CHECK(link_exists(f, key.c_str(), path), path.string(), ": no '", key, "' dataset (found: ",
             root_names(f), ")");
    DatasetInfo d = open_dataset(f, path, key);
    check_float_class(path, key, d.type);
    RB_CHECK(d.shape.size() == 3, path.string(), ": '", key, "' has rank ", d.shape.size(),
             " (shape ", shape_str(d.shape), "), expected 3: (slices, y, x)");
    check_dims(path, key, d.shape);
    out = Array<float>(d.shape);
    read_float_rows(d, path, key, -1, out.data());
  }
  check_finite(out, path.string() + ": '" + key + "'");
  return out;
}

std::vector<std::string> list_datasets(const fs::path& path) {
  auto guard = h5::lock();
  h5::Id f = open_file_readonly(path);
  auto names = root_name_list(f);
  RB_CHECK(names, with_h5(cat(path.string(), ": cannot list the root group (corrupt file?)")));
  return *names;
}

bool is_hdf5(const fs::path& path) {
  static const char sig[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec) return false;
  // HDF5 looks for its signature at 0, 512, 1024, 2048, ... (a user block may precede it).
  for (uint64_t off = 0; off + 8 <= size; off = off ? off * 2 : 512) {
    char buf[8];
    f.seekg(static_cast<std::streamoff>(off));
    if (!f.read(buf, 8)) return false;
    if (std::memcmp(buf, sig, 8) == 0) return true;
  }
  return false;
}

void check_finite(ArrayView<const float> a, const std::string& what) {
  int64_t bad = 0, first = -1;
  const float* d = a.data();
  for (int64_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(d[i])) {
      if (first < 0) first = i;
      ++bad;
    }
  }
  RB_CHECK(bad == 0, what, ": ", bad, " non-finite value", bad == 1 ? "" : "s",
           " (first at flat index ", first, ": ", first >= 0 ? d[first] : 0.0f, ")");
}

namespace h5 {
std::string read_string(hid_t obj, hid_t ftype, hid_t space, bool is_attr, const fs::path& path,
                        const std::string& name) {
  return read_string_value(obj, ftype, space, is_attr, path, name);
}
std::string read_attr_string(hid_t obj, const char* name, const fs::path& path) {
  return read_string_attr(obj, name, path);
}
Id complex_mem_type(const std::string& rname, const std::string& iname) {
  return ::rb::complex_mem_type(rname, iname);
}
Id complex_file_type() { return ::rb::complex_file_type(); }
}  // namespace h5

}  // namespace rb
