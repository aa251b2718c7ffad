// Structure-aware HDF5 fuzzing: the input is decoded into a file layout -- which of the
// fastMRI datasets exist (kspace, reconstruction_rss, mask, ismrmrd_header, reconstruction),
// each with a dtype (floats, ints, compounds with any member names/types, strings of every
// kind, bool enums, opaque, array, vlen), a rank, dims (zero, small or absurd), a storage
// layout and maybe data, plus the root attributes (acquisition, max, norm, patient_id,
// acceleration, num_low_frequency) with arbitrary types and shapes -- written with libhdf5
// and read by every reconbench reader (hdf5_readers.hpp). This reaches the shape/dtype/
// attribute checks far more often than byte mutation of a file whose parser (libhdf5) is
// not instrumented.
#include <fuzzer/FuzzedDataProvider.h>
#include <hdf5.h>

#include <vector>

#include "hdf5_readers.hpp"
#include "reconbench/io/hdf5.hpp"

namespace {

using rb::h5::Id;

Id make_type(FuzzedDataProvider& in, int depth = 0) {
  switch (in.ConsumeIntegralInRange<int>(0, 15)) {
    case 0: return Id(H5Tcopy(H5T_IEEE_F32LE));
    case 1: return Id(H5Tcopy(H5T_IEEE_F64LE));
    case 2: return Id(H5Tcopy(H5T_IEEE_F32BE));
    case 3: return Id(H5Tcopy(H5T_STD_I8LE));
    case 4: return Id(H5Tcopy(H5T_STD_U8LE));
    case 5: return Id(H5Tcopy(H5T_STD_I64LE));
    case 6: return Id(H5Tcopy(H5T_STD_U16BE));
    case 7: case 8: {  // compound, h5py complex64 = {r: f4, i: f4}
      const int n = in.ConsumeIntegralInRange<int>(0, 3);
      std::vector<Id> members;
      std::vector<std::string> names;
      size_t size = 0;
      for (int i = 0; i < n; ++i) {
        members.push_back(depth < 2 ? make_type(in, depth + 1) : Id(H5Tcopy(H5T_IEEE_F32LE)));
        std::string name = in.ConsumeBool() ? (i == 0 ? "r" : "i") : in.ConsumeRandomLengthString(8);
        if (name.empty()) name = "m" + std::to_string(i);
        names.push_back(name);
        size += H5Tget_size(members.back());
      }
      Id t(H5Tcreate(H5T_COMPOUND, size ? size : 1));
      size_t off = 0;
      for (int i = 0; i < n; ++i) {
        H5Tinsert(t, names[static_cast<size_t>(i)].c_str(), off, members[static_cast<size_t>(i)]);
        off += H5Tget_size(members[static_cast<size_t>(i)]);
      }
      return t;
    }
    case 9: {  // fixed-length string
      Id t(H5Tcopy(H5T_C_S1));
      H5Tset_size(t, in.ConsumeIntegralInRange<size_t>(1, 64));
      H5Tset_strpad(t, in.ConsumeBool() ? H5T_STR_NULLPAD : H5T_STR_NULLTERM);
      H5Tset_cset(t, in.ConsumeBool() ? H5T_CSET_UTF8 : H5T_CSET_ASCII);
      return t;
    }
    case 10: {  // variable-length string
      Id t(H5Tcopy(H5T_C_S1));
      H5Tset_size(t, H5T_VARIABLE);
      H5Tset_cset(t, in.ConsumeBool() ? H5T_CSET_UTF8 : H5T_CSET_ASCII);
      return t;
    }
    case 11: {  // h5py bool: enum of int8 {FALSE: 0, TRUE: 1}
      Id base(H5Tcopy(in.ConsumeBool() ? H5T_NATIVE_INT8 : H5T_NATIVE_INT32));
      Id t(H5Tenum_create(base));
      int64_t v0 = 0, v1 = in.ConsumeIntegralInRange<int>(1, 100);
      if (H5Tget_size(base) == 1) {
        int8_t a = 0, b = static_cast<int8_t>(v1);
        H5Tenum_insert(t, "FALSE", &a);
        H5Tenum_insert(t, "TRUE", &b);
      } else {
        int32_t a = static_cast<int32_t>(v0), b = static_cast<int32_t>(v1);
        H5Tenum_insert(t, "FALSE", &a);
        H5Tenum_insert(t, "TRUE", &b);
      }
      return t;
    }
    case 12: {
      Id t(H5Tcreate(H5T_OPAQUE, in.ConsumeIntegralInRange<size_t>(1, 16)));
      H5Tset_tag(t, "fuzz");
      return t;
    }
    case 13: {
      hsize_t d[2] = {in.ConsumeIntegralInRange<hsize_t>(1, 4), 2};
      Id base = depth < 2 ? make_type(in, depth + 1) : Id(H5Tcopy(H5T_IEEE_F32LE));
      return Id(H5Tarray_create2(base, in.ConsumeBool() ? 1 : 2, d));
    }
    case 14: {
      Id base = depth < 2 ? make_type(in, depth + 1) : Id(H5Tcopy(H5T_IEEE_F32LE));
      return Id(H5Tvlen_create(base));
    }
    default: return Id(H5Tcopy(H5T_STD_I32LE));
  }
}

// True if the type holds pointers in memory (vlen, variable-length strings, nested anywhere):
// such data cannot be filled from fuzz bytes.
bool has_pointers(hid_t t) {
  if (H5Tis_variable_str(t) > 0) return true;
  switch (H5Tget_class(t)) {
    case H5T_VLEN: return true;
    case H5T_ARRAY: {
      Id super(H5Tget_super(t));
      return has_pointers(super);
    }
    case H5T_COMPOUND:
      for (int i = 0; i < H5Tget_nmembers(t); ++i) {
        Id m(H5Tget_member_type(t, static_cast<unsigned>(i)));
        if (has_pointers(m)) return true;
      }
      return false;
    default: return false;
  }
}

std::vector<hsize_t> make_dims(FuzzedDataProvider& in, bool& huge) {
  const int rank = in.ConsumeIntegralInRange<int>(0, 5);
  std::vector<hsize_t> d(static_cast<size_t>(rank));
  for (auto& v : d) {
    switch (in.ConsumeIntegralInRange<int>(0, 7)) {
      case 0: v = 0; break;
      case 1: v = in.ConsumeIntegralInRange<hsize_t>(1u << 16, hsize_t{1} << 40); huge = true; break;
      default: v = in.ConsumeIntegralInRange<hsize_t>(1, 12);
    }
  }
  return d;
}

// Writes dataset `name`; data (fuzzed bytes, cycled) only when it is small, fixed-size and
// not a vlen type.
void add_dataset(hid_t file, const char* name, FuzzedDataProvider& in) {
  Id type = make_type(in);
  if (!type.valid()) return;
  bool huge = false;
  auto dims = make_dims(in, huge);
  Id space(dims.empty() ? H5Screate(H5S_SCALAR)
                        : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  Id dcpl(H5Pcreate(H5P_DATASET_CREATE));
  H5Pset_obj_track_times(dcpl, false);
  bool zero = false;
  for (auto v : dims) zero = zero || v == 0;
  if (!dims.empty() && (huge || in.ConsumeBool()) && !zero) {
    std::vector<hsize_t> chunk(dims.size());
    for (size_t i = 0; i < dims.size(); ++i) chunk[i] = std::min<hsize_t>(dims[i], 4);
    H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data());
    if (in.ConsumeBool()) H5Pset_deflate(dcpl, 1);
  }
  Id ds(H5Dcreate2(file, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
  if (!ds.valid() || huge) return;
  if (has_pointers(type)) {
    if (H5Tis_variable_str(type) > 0 && dims.empty()) {
      std::string s = in.ConsumeRandomLengthString(4096);
      const char* p = s.c_str();
      H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, &p);
    }
    return;
  }
  hssize_t n = H5Sget_simple_extent_npoints(space);
  const size_t bytes = static_cast<size_t>(n) * H5Tget_size(type);
  if (n <= 0 || bytes > (1u << 20) || !in.ConsumeBool()) return;
  std::string src = in.ConsumeRandomLengthString(8192);
  if (src.empty()) src = "\x01";
  std::vector<char> buf(bytes);
  for (size_t i = 0; i < bytes; ++i) buf[i] = src[i % src.size()];
  Id mtype(H5Tcopy(type));
  H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data());
}

void add_attr(hid_t file, const char* name, FuzzedDataProvider& in) {
  Id type = make_type(in);
  if (!type.valid()) return;
  bool huge = false;
  auto dims = make_dims(in, huge);
  if (huge) dims.assign(1, 3);
  Id space(dims.empty() ? H5Screate(H5S_SCALAR)
                        : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  Id a(H5Acreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT));
  if (!a.valid()) return;
  hssize_t n = H5Sget_simple_extent_npoints(space);
  if (H5Tis_variable_str(type) > 0) {
    std::vector<std::string> strs(static_cast<size_t>(std::max<hssize_t>(n, 0)));
    std::vector<const char*> ptrs;
    for (auto& s : strs) {
      s = in.ConsumeRandomLengthString(64);
      ptrs.push_back(s.c_str());
    }
    if (!ptrs.empty()) H5Awrite(a, type, ptrs.data());
    return;
  }
  if (has_pointers(type) || n <= 0) return;
  const size_t bytes = static_cast<size_t>(n) * H5Tget_size(type);
  if (bytes > (1u << 16)) return;
  std::string src = in.ConsumeRandomLengthString(256);
  if (src.empty()) src = "\x04";
  std::vector<char> buf(bytes);
  for (size_t i = 0; i < bytes; ++i) buf[i] = src[i % src.size()];
  H5Awrite(a, type, buf.data());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const auto path = rb::fuzz::scratch() / "layout.h5";
  {
    auto guard = rb::h5::lock();
    Id fcpl(H5Pcreate(H5P_FILE_CREATE));
    H5Pset_obj_track_times(fcpl, false);
    Id file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl, H5P_DEFAULT));
    if (!file.valid()) std::abort();
    static const char* const datasets[] = {"kspace", "reconstruction_rss", "mask", "ismrmrd_header",
                                           "reconstruction"};
    for (const char* name : datasets)
      if (in.ConsumeBool()) add_dataset(file, name, in);
    if (in.ConsumeBool()) {  // the header as h5py writes it, with fuzzed XML
      std::string xml = in.ConsumeRandomLengthString(8192);
      if (!xml.empty() && H5Lexists(file, "ismrmrd_header", H5P_DEFAULT) <= 0) {
        Id t(H5Tcopy(H5T_C_S1));
        H5Tset_size(t, xml.size());
        H5Tset_strpad(t, H5T_STR_NULLPAD);
        Id space(H5Screate(H5S_SCALAR));
        Id ds(H5Dcreate2(file, "ismrmrd_header", t, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
        H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, xml.data());
      }
    }
    static const char* const attrs[] = {"acquisition", "max", "norm", "patient_id", "acceleration",
                                        "num_low_frequency"};
    for (const char* name : attrs)
      if (in.ConsumeBool()) add_attr(file, name, in);
    // A dangling soft link where a dataset is expected, or a group of that name.
    for (const char* name : datasets) {
      if (H5Lexists(file, name, H5P_DEFAULT) > 0 || !in.ConsumeBool()) continue;
      if (in.ConsumeBool())
        H5Lcreate_soft("/nowhere", file, name, H5P_DEFAULT, H5P_DEFAULT);
      else
        Id(H5Gcreate2(file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    }
    H5Eclear2(H5E_DEFAULT);
  }
  rb::fuzz::read_all_ways(path);
  return 0;
}
