#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "reconbench/core/array.hpp"
#include "reconbench/core/fs.hpp"
#include "reconbench/core/parallel.hpp"

using namespace rb;

TEST(Array, ShapeIndexAndViews) {
  Array<float> a({2, 3, 4});
  for (int64_t i = 0; i < a.size(); ++i) a[i] = float(i);
  EXPECT_EQ(a.dim(-1), 4);
  EXPECT_EQ(a.at(1, 2, 3), 23.0f);
  auto v = a(1);
  EXPECT_EQ(v.shape(), (Shape{3, 4}));
  EXPECT_EQ(v.at(0, 1), 13.0f);
  EXPECT_EQ(shape_str(a.shape()), "(2, 3, 4)");
  EXPECT_THROW(a.reshape({5, 5}), InternalError);
}

TEST(Errors, CheckThrowsUserErrorWithMessage) {
  try {
    RB_CHECK(1 == 2, "file ", "x.h5", ": bad");
    FAIL();
  } catch (const UserError& e) {
    EXPECT_STREQ(e.what(), "file x.h5: bad");
  }
}

TEST(Parallel, DeterministicAndPropagatesErrors) {
  std::vector<int> out(1000);
  parallel_for(1000, [&](int64_t i) { out[i] = int(i * i % 97); }, 4);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(out[i], i * i % 97);
  EXPECT_THROW(parallel_for(10, [](int64_t i) { if (i == 5) throw UserError("x"); }, 3),
               UserError);
}

TEST(Fs, AtomicOutputRemovesUncommitted) {
  auto dir = std::filesystem::temp_directory_path() / "rb_test_fs";
  std::filesystem::create_directories(dir);
  auto p = dir / "a.txt";
  std::filesystem::remove(p);
  {
    AtomicOutput out(p);
    std::ofstream(out.tmp()) << "partial";
  }
  EXPECT_FALSE(std::filesystem::exists(p));
  write_file_atomic(p, "done");
  EXPECT_EQ(read_file(p), "done");
  EXPECT_THROW(list_inputs({(dir / "nope").string()}, ".h5"), UserError);
  std::filesystem::remove_all(dir);
}
