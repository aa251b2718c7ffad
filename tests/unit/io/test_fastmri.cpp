// fastMRI HDF5 files: round trips of every dataset and attribute, slice-wise reads, the dtype
// variants h5py produces, and malformed inputs (each must be a UserError naming the file).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "reconbench/core/fs.hpp"
#include "reconbench/io/fastmri.hpp"
#include "reconbench/io/hdf5.hpp"

namespace fs = std::filesystem;
using namespace rb;

namespace {

fs::path temp_dir() {
  static fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("rb_test_io_" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

IsmrmrdInfo sample_info() {
  IsmrmrdInfo i;
  i.enc_x = 16;
  i.enc_y = 12;
  i.recon_x = 8;
  i.recon_y = 8;
  i.enc_fov_x = 440;
  i.enc_fov_y = 220;
  i.enc_fov_z = 7.5;
  i.recon_fov_x = 220;
  i.recon_fov_y = 220;
  i.recon_fov_z = 7.5;
  i.pe_min = 0;
  i.pe_max = 9;
  i.pe_center = 5;
  i.vendor = "SIEMENS";
  i.model = "Skyra";
  i.field_strength_t = 2.89362001;
  i.receiver_channels = 2;
  i.tr_ms = 250;
  i.te_ms = 2.64;
  i.ti_ms = 300;
  i.flip_angle_deg = 70;
  i.protocol_name = "AX T1";
  return i;
}

FastMriVolume sample_volume(int64_t S = 3, int64_t C = 2, int64_t H = 16, int64_t W = 12) {
  std::mt19937 rng(7);
  std::normal_distribution<float> n(0.f, 1.f);
  FastMriVolume v;
  v.kspace = Array<cfloat>({S, C, H, W});
  for (auto& x : v.kspace.flat()) x = {n(rng), n(rng)};
  Array<float> t({S, 8, 8});
  for (auto& x : t.flat()) x = std::abs(n(rng));
  v.target = t;
  std::vector<float> m(static_cast<size_t>(W), 0.f);
  for (int64_t i = 0; i < W; i += 3) m[static_cast<size_t>(i)] = 1.f;
  v.mask = m;
  v.header_xml = make_ismrmrd_header(sample_info());
  v.acquisition = "AXT1POST";
  v.max = 0.000123;
  v.norm = 0.0456;
  v.patient_id = "abc123";
  v.acceleration = 4;
  v.num_low_frequency = 26;
  return v;
}

// Expect a UserError whose message names the file and contains `needle`.
template <class F>
void expect_user_error(F&& f, const fs::path& file, const std::string& needle) {
  try {
    f();
    FAIL() << "no UserError for " << file << " (expected '" << needle << "')";
  } catch (const UserError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(file.string()), std::string::npos) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
  }
}

// Raw HDF5 writers for layouts that write_fastmri refuses to produce.
struct RawFile {
  std::unique_lock<std::recursive_mutex> guard = h5::lock();
  h5::Id f;
  explicit RawFile(const fs::path& p)
      : f(H5Fcreate(p.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)) {
    EXPECT_TRUE(f.valid());
  }
  ~RawFile() { f.reset(); }
  void dataset(const char* name, hid_t ftype, hid_t mtype, std::vector<hsize_t> dims,
               const void* data) {
    h5::Id space(dims.empty() ? H5Screate(H5S_SCALAR)
                              : H5Screate_simple(static_cast<int>(dims.size()), dims.data(),
                                                 nullptr));
    h5::Id ds(H5Dcreate2(f, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    ASSERT_TRUE(ds.valid());
    ASSERT_GE(H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0);
  }
  void complex_dataset(const char* name, std::vector<hsize_t> dims) {
    size_t n = 1;
    for (auto d : dims) n *= d;
    std::vector<cfloat> data(n, cfloat(1.f, -2.f));
    h5::Id t(H5Tcreate(H5T_COMPOUND, 8));
    H5Tinsert(t, "r", 0, H5T_NATIVE_FLOAT);
    H5Tinsert(t, "i", 4, H5T_NATIVE_FLOAT);
    dataset(name, t, t, dims, data.data());
  }
};

TEST(FastMri, RoundTripEveryDatasetAndAttribute) {
  fs::path p = temp_dir() / "roundtrip.h5";
  FastMriVolume v = sample_volume();
  write_fastmri(p, v);
  EXPECT_TRUE(is_hdf5(p));
  FastMriFile f(p);
  EXPECT_EQ(f.path(), p);
  EXPECT_EQ(f.kspace_shape(), (Shape{3, 2, 16, 12}));
  EXPECT_EQ(f.num_slices(), 3);
  EXPECT_EQ(f.num_coils(), 2);
  EXPECT_EQ(f.readout(), 16);
  EXPECT_EQ(f.phase(), 12);
  EXPECT_TRUE(f.has_target());
  EXPECT_EQ(f.target_shape(), (Shape{3, 8, 8}));
  EXPECT_TRUE(f.has_mask());
  EXPECT_TRUE(f.has_header());
  EXPECT_EQ(f.acquisition(), "AXT1POST");
  EXPECT_EQ(f.patient_id(), "abc123");
  EXPECT_EQ(f.attr_max(), 0.000123);
  EXPECT_EQ(f.attr_norm(), 0.0456);
  EXPECT_EQ(f.acceleration(), 4);
  EXPECT_EQ(f.num_low_frequency(), 26);
  EXPECT_EQ(f.header_xml(), v.header_xml);

  FastMriVolume r = f.read_all();
  EXPECT_EQ(r.kspace.shape(), v.kspace.shape());
  EXPECT_EQ(r.kspace.vec(), v.kspace.vec());  // bit exact
  ASSERT_TRUE(r.target && r.mask);
  EXPECT_EQ(r.target->shape(), v.target->shape());
  EXPECT_EQ(r.target->vec(), v.target->vec());
  EXPECT_EQ(*r.mask, *v.mask);
  EXPECT_EQ(r.header_xml, v.header_xml);
  EXPECT_EQ(r.acquisition, v.acquisition);
  EXPECT_EQ(r.max, v.max);
  EXPECT_EQ(r.norm, v.norm);
  EXPECT_EQ(r.patient_id, v.patient_id);
  EXPECT_EQ(r.acceleration, v.acceleration);
  EXPECT_EQ(r.num_low_frequency, v.num_low_frequency);

  const IsmrmrdInfo& h = f.header();
  EXPECT_EQ(h.enc_x, 16);
  EXPECT_EQ(h.enc_y, 12);
  EXPECT_EQ(h.padding_left(), 1);
  EXPECT_EQ(h.padding_right(), 11);
}

TEST(FastMri, OptionalPartsAbsent) {
  fs::path p = temp_dir() / "minimal.h5";
  FastMriVolume v;
  v.kspace = Array<cfloat>({1, 1, 4, 4}, cfloat(0.5f, 0.25f));
  write_fastmri(p, v);
  FastMriFile f(p);
  EXPECT_FALSE(f.has_target());
  EXPECT_TRUE(f.target_shape().empty());
  EXPECT_FALSE(f.has_mask());
  EXPECT_FALSE(f.has_header());
  EXPECT_EQ(f.acquisition(), "");
  EXPECT_EQ(f.patient_id(), "");
  EXPECT_FALSE(f.attr_max());
  EXPECT_FALSE(f.attr_norm());
  EXPECT_FALSE(f.acceleration());
  EXPECT_FALSE(f.num_low_frequency());
  expect_user_error([&] { f.read_target(); }, p, "reconstruction_rss");
  expect_user_error([&] { f.read_mask(); }, p, "mask");
  expect_user_error([&] { f.header(); }, p, "ismrmrd_header");
  FastMriVolume r = f.read_all();
  EXPECT_FALSE(r.target || r.mask);
  EXPECT_EQ(r.kspace.vec(), v.kspace.vec());
}

TEST(FastMri, SliceReadEqualsFullRead) {
  fs::path p = temp_dir() / "slices.h5";
  FastMriVolume v = sample_volume(4, 3, 10, 6);
  write_fastmri(p, v);
  FastMriFile f(p);
  Array<cfloat> full = f.read_kspace();
  Array<float> tfull = f.read_target();
  for (int64_t s = 0; s < 4; ++s) {
    Array<cfloat> k = f.read_kspace_slice(s);
    ASSERT_EQ(k.shape(), (Shape{3, 10, 6}));
    auto ref = full(s);
    for (int64_t i = 0; i < k.size(); ++i) ASSERT_EQ(k[i], ref[i]) << "slice " << s;
    Array<float> t = f.read_target_slice(s);
    ASSERT_EQ(t.shape(), (Shape{8, 8}));
    auto tref = tfull(s);
    for (int64_t i = 0; i < t.size(); ++i) ASSERT_EQ(t[i], tref[i]);
  }
  expect_user_error([&] { f.read_kspace_slice(4); }, p, "out of range");
  expect_user_error([&] { f.read_kspace_slice(-1); }, p, "out of range");
}

TEST(FastMri, MoveKeepsHandleValid) {
  fs::path p = temp_dir() / "move.h5";
  write_fastmri(p, sample_volume());
  FastMriFile a(p);
  FastMriFile b(std::move(a));
  EXPECT_EQ(b.read_kspace_slice(1).shape(), (Shape{2, 16, 12}));
}

TEST(FastMri, ConcurrentSliceReadsAreSafe) {
  fs::path p = temp_dir() / "threads.h5";
  FastMriVolume v = sample_volume(6, 2, 8, 8);
  write_fastmri(p, v);
  FastMriFile f(p);
  std::vector<Array<cfloat>> out(6);
  std::vector<std::thread> threads;
  for (int64_t s = 0; s < 6; ++s)
    threads.emplace_back([&, s] { out[s] = f.read_kspace_slice(s); });
  for (auto& t : threads) t.join();
  for (int64_t s = 0; s < 6; ++s)
    for (int64_t i = 0; i < out[s].size(); ++i) ASSERT_EQ(out[s][i], v.kspace(s)[i]);
}

TEST(FastMri, H5pyDtypeVariants) {
  // bool mask (h5py: enum {FALSE=0, TRUE=1} over int8), variable-length header string,
  // float64 mask/target, kspace stored as complex128.
  fs::path p = temp_dir() / "variants.h5";
  {
    RawFile r(p);
    std::vector<cdouble> k(1 * 1 * 2 * 4, cdouble(1.5, -0.5));
    h5::Id c128(H5Tcreate(H5T_COMPOUND, 16));
    H5Tinsert(c128, "r", 0, H5T_NATIVE_DOUBLE);
    H5Tinsert(c128, "i", 8, H5T_NATIVE_DOUBLE);
    r.dataset("kspace", c128, c128, {1, 1, 2, 4}, k.data());
    h5::Id b(H5Tenum_create(H5T_NATIVE_INT8));
    int8_t f0 = 0, f1 = 1;
    H5Tenum_insert(b, "FALSE", &f0);
    H5Tenum_insert(b, "TRUE", &f1);
    int8_t mask[4] = {1, 0, 0, 1};
    r.dataset("mask", b, b, {4}, mask);
    h5::Id vs(H5Tcopy(H5T_C_S1));
    H5Tset_size(vs, H5T_VARIABLE);
    std::string xml = make_ismrmrd_header(sample_info());
    const char* px = xml.c_str();
    r.dataset("ismrmrd_header", vs, vs, {}, &px);
    double t[2 * 3] = {1, 2, 3, 4, 5, 6};
    r.dataset("reconstruction_rss", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {1, 2, 3}, t);
  }
  FastMriFile f(p);
  EXPECT_EQ(f.read_mask(), (std::vector<float>{1, 0, 0, 1}));
  EXPECT_EQ(f.header().vendor, "SIEMENS");
  EXPECT_EQ(f.read_kspace()[3], cfloat(1.5f, -0.5f));
  EXPECT_EQ(f.read_target()[5], 6.f);

  fs::path p2 = temp_dir() / "variants2.h5";
  {
    RawFile r(p2);
    r.complex_dataset("kspace", {1, 1, 2, 3});
    uint8_t m[3] = {0, 1, 1};
    r.dataset("mask", H5T_STD_U8LE, H5T_NATIVE_UINT8, {3}, m);
  }
  EXPECT_EQ(FastMriFile(p2).read_mask(), (std::vector<float>{0, 1, 1}));
}

TEST(FastMri, ReconstructionRoundTrip) {
  fs::path p = temp_dir() / "recon.h5";
  Array<float> r({2, 5, 4});
  for (int64_t i = 0; i < r.size(); ++i) r[i] = 0.5f * static_cast<float>(i);
  write_reconstruction(p, r, "AXFLAIR");
  Array<float> back = read_reconstruction(p);
  EXPECT_EQ(back.shape(), r.shape());
  EXPECT_EQ(back.vec(), r.vec());
  expect_user_error([&] { read_reconstruction(p, "reconstruction_rss"); }, p,
                    "no 'reconstruction_rss'");
  // A reconstruction file is not a k-space file.
  expect_user_error([&] { FastMriFile f(p); }, p, "no 'kspace'");

  r[7] = std::nanf("");
  write_reconstruction(p, r);
  expect_user_error([&] { read_reconstruction(p); }, p, "non-finite");
  r[7] = INFINITY;
  write_reconstruction(p, r);
  expect_user_error([&] { read_reconstruction(p); }, p, "non-finite");
}

TEST(FastMri, NonFiniteTargetIsAnError) {
  fs::path p = temp_dir() / "nan_target.h5";
  FastMriVolume v = sample_volume();
  (*v.target)[70] = std::nanf("");  // slice 1
  write_fastmri(p, v);
  FastMriFile f(p);
  expect_user_error([&] { f.read_target(); }, p, "non-finite");
  expect_user_error([&] { f.read_target_slice(1); }, p, "non-finite");
  EXPECT_NO_THROW(f.read_target_slice(0));
}

TEST(FastMri, CheckFinite) {
  Array<float> a({3}, 1.f);
  EXPECT_NO_THROW(check_finite(a, "x"));
  a[2] = -INFINITY;
  try {
    check_finite(a, "myrecon");
    FAIL();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("myrecon"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("index 2"), std::string::npos);
  }
}

TEST(FastMri, NotHdf5AndTruncated) {
  fs::path txt = temp_dir() / "not_hdf5.h5";
  write_file_atomic(txt, "this is not an HDF5 file, just text\n");
  EXPECT_FALSE(is_hdf5(txt));
  expect_user_error([&] { FastMriFile f(txt); }, txt, "not an HDF5 file");
  expect_user_error([&] { read_reconstruction(txt); }, txt, "not an HDF5 file");
  fs::path none = temp_dir() / "does_not_exist.h5";
  expect_user_error([&] { FastMriFile f(none); }, none, "no such file");

  fs::path good = temp_dir() / "to_truncate.h5";
  write_fastmri(good, sample_volume(4, 2, 16, 12));
  std::string bytes = read_file(good);
  for (double frac : {0.5, 0.9, 0.02}) {
    fs::path cut = temp_dir() / ("truncated_" + std::to_string(int(frac * 100)) + ".h5");
    write_file_atomic(cut, bytes.substr(0, static_cast<size_t>(frac * bytes.size())));
    try {
      FastMriFile f(cut);
      f.read_all();
      FAIL() << "truncated file " << cut << " read without error";
    } catch (const UserError& e) {
      EXPECT_NE(std::string(e.what()).find(cut.string()), std::string::npos) << e.what();
    }
  }
  // Corrupt: scribble over the middle of a valid file.
  fs::path bad = temp_dir() / "corrupt.h5";
  std::string scribbled = bytes;
  for (size_t i = 100; i < 1200 && i < scribbled.size(); ++i) scribbled[i] = '\xff';
  write_file_atomic(bad, scribbled);
  try {
    FastMriFile f(bad);
    f.read_all();
    FAIL() << "corrupt file read without error";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find(bad.string()), std::string::npos) << e.what();
  }
}

TEST(FastMri, MalformedLayouts) {
  const fs::path d = temp_dir();
  {
    fs::path p = d / "float_kspace.h5";
    {
      RawFile r(p);
      std::vector<float> k(2 * 2 * 4 * 4, 1.f);
      r.dataset("kspace", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {2, 2, 4, 4}, k.data());
    }
    expect_user_error([&] { FastMriFile f(p); }, p, "dtype float32, expected complex64");
  }
  {
    fs::path p = d / "rank3_kspace.h5";
    { RawFile(p).complex_dataset("kspace", {2, 4, 4}); }
    expect_user_error([&] { FastMriFile f(p); }, p, "rank 3");
  }
  {
    fs::path p = d / "no_kspace.h5";
    {
      RawFile r(p);
      float x[4] = {};
      r.dataset("reconstruction_rss", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {1, 2, 2}, x);
    }
    expect_user_error([&] { FastMriFile f(p); }, p, "no 'kspace'");
  }
  {
    fs::path p = d / "mask_length.h5";
    {
      RawFile r(p);
      r.complex_dataset("kspace", {1, 2, 4, 6});
      float m[5] = {1, 1, 1, 1, 1};
      r.dataset("mask", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {5}, m);
    }
    expect_user_error([&] { FastMriFile f(p); }, p, "mask length must be W");
  }
  {
    fs::path p = d / "target_slices.h5";
    {
      RawFile r(p);
      r.complex_dataset("kspace", {2, 1, 4, 4});
      float t[3 * 2 * 2] = {};
      r.dataset("reconstruction_rss", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {3, 2, 2}, t);
    }
    expect_user_error([&] { FastMriFile f(p); }, p, "has 3 slices but 'kspace' has 2");
  }
  {
    fs::path p = d / "target_rank.h5";
    {
      RawFile r(p);
      r.complex_dataset("kspace", {2, 1, 4, 4});
      float t[4] = {};
      r.dataset("reconstruction_rss", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {2, 2}, t);
    }
    expect_user_error([&] { FastMriFile f(p); }, p, "rank 2");
  }
  {
    fs::path p = d / "target_dtype.h5";
    {
      RawFile r(p);
      r.complex_dataset("kspace", {1, 1, 4, 4});
      int32_t t[4] = {};
      r.dataset("reconstruction_rss", H5T_STD_I32LE, H5T_NATIVE_INT32, {1, 2, 2}, t);
    }
    expect_user_error([&] { FastMriFile f(p); }, p, "dtype int32, expected float32");
  }
  {
    fs::path p = d / "too_many_coils.h5";
    { RawFile(p).complex_dataset("kspace", {1, 257, 1, 2}); }
    expect_user_error([&] { FastMriFile f(p); }, p, "257 coils");
  }
  {
    fs::path p = d / "zero_dim.h5";
    { RawFile(p).complex_dataset("kspace", {0, 2, 4, 4}); }
    expect_user_error([&] { FastMriFile f(p); }, p, "every dimension");
  }
  {
    fs::path p = d / "bad_attr.h5";
    {
      RawFile r(p);
      r.complex_dataset("kspace", {1, 1, 2, 2});
      h5::Id space(H5Screate(H5S_SCALAR));
      h5::Id a(H5Acreate2(r.f, "acquisition", H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT));
      int32_t v = 3;
      H5Awrite(a, H5T_NATIVE_INT32, &v);
    }
    expect_user_error([&] { FastMriFile f(p); }, p, "expected a string");
  }
  {
    fs::path p = d / "bad_header.h5";
    FastMriVolume v = sample_volume(1, 1, 4, 4);
    v.header_xml = "<ismrmrdHeader><oops";
    write_fastmri(p, v);
    FastMriFile f(p);  // opening works; parsing the header is the error
    expect_user_error([&] { f.header(); }, p, "invalid ISMRMRD header");
  }
}

TEST(FastMri, ListDatasetsAndGroupsNamedLikeDatasets) {
  fs::path p = temp_dir() / "names.h5";
  write_fastmri(p, sample_volume(1, 1, 4, 4));
  EXPECT_EQ(list_datasets(p),
            (std::vector<std::string>{"ismrmrd_header", "kspace", "mask", "reconstruction_rss"}));
  fs::path g = temp_dir() / "group.h5";
  {
    RawFile r(g);
    h5::Id grp(H5Gcreate2(r.f, "kspace", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    ASSERT_TRUE(grp.valid());
  }
  expect_user_error([&] { FastMriFile f(g); }, g, "'kspace' is not a readable dataset");
  fs::path txt = temp_dir() / "names.txt";
  write_file_atomic(txt, "x");
  expect_user_error([&] { list_datasets(txt); }, txt, "not an HDF5 file");
}

TEST(FastMri, WriteValidatesShapes) {
  fs::path p = temp_dir() / "invalid_write.h5";
  FastMriVolume v = sample_volume();
  v.mask = std::vector<float>(5, 1.f);
  expect_user_error([&] { write_fastmri(p, v); }, p, "mask has length 5");
  v = sample_volume();
  v.target = Array<float>({2, 8, 8});
  expect_user_error([&] { write_fastmri(p, v); }, p, "target has shape");
  v = sample_volume();
  v.kspace = Array<cfloat>({2, 3, 4});
  expect_user_error([&] { write_fastmri(p, v); }, p, "expected (slices, coils, readout, phase)");
  EXPECT_FALSE(fs::exists(p));
  // No temporary files left behind.
  for (const auto& e : fs::directory_iterator(temp_dir()))
    EXPECT_EQ(e.path().string().find(".part-"), std::string::npos) << e.path();
}

TEST(FastMri, WriteReplacesAtomically) {
  fs::path p = temp_dir() / "replace.h5";
  write_fastmri(p, sample_volume(2, 1, 4, 4));
  write_fastmri(p, sample_volume(3, 1, 4, 4));
  EXPECT_EQ(FastMriFile(p).num_slices(), 3);
}

}  // namespace
