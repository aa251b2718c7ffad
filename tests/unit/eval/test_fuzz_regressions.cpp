// Regressions found by fuzz/fuzz_hdf5_layout (README "Fuzzing") in evaluation's reader.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <filesystem>

#include "reconbench/eval/evaluate.hpp"
#include "reconbench/io/fastmri.hpp"
#include "reconbench/io/hdf5.hpp"

namespace fs = std::filesystem;
using namespace rb;

// attrs['acceleration'] = 1e300: finite, whole, positive -- and cast to int64 with undefined
// behaviour (UBSan: "3.6e+237 is outside the range of representable values of type 'long'";
// on x86 the acceleration silently became INT64_MIN). Now refused with a UserError.
TEST(EvalFuzzRegression, HugeAccelerationAttributeIsRefused) {
  const fs::path dir = fs::temp_directory_path() / ("rb_test_eval_fuzzreg_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path p = dir / "recon.h5";
  write_reconstruction(p, Array<float>({1, 4, 4}));
  {
    auto guard = h5::lock();
    h5::Id f(H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT));
    h5::Id space(H5Screate(H5S_SCALAR));
    h5::Id a(H5Acreate2(f, "acceleration", H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT));
    const double v = 1e300;
    ASSERT_GE(H5Awrite(a, H5T_NATIVE_DOUBLE, &v), 0);
  }
  for (auto read : {+[](const fs::path& x) { (void)eval::read_eval_attrs(x); },
                    +[](const fs::path& x) { (void)eval::read_eval_input(x, {"reconstruction"}); }}) {
    try {
      read(p);
      ADD_FAILURE() << "no error";
    } catch (const UserError& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find(p.string()), std::string::npos) << m;
      EXPECT_NE(m.find("acceleration"), std::string::npos) << m;
    }
  }
  fs::remove_all(dir);
}
