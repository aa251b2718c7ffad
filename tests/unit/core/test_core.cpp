#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

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

// The pool behind parallel_for: every index runs exactly once, in many back-to-back short
// regions (as an iterative solver calls it), when nested inside a work item (the inner call
// cannot use the busy pool and starts its own threads), from two threads at once, and after
// a region that threw (the pool must be usable again).
TEST(Parallel, PoolRunsEveryIndexOnceNestedConcurrentAndAfterErrors) {
  for (int round = 0; round < 2000; ++round) {
    std::vector<std::atomic<int>> hits(37 + round % 50);
    parallel_for(static_cast<int64_t>(hits.size()), [&](int64_t i) { hits[i].fetch_add(1); }, 2 + round % 3);
    for (auto& h : hits) ASSERT_EQ(h.load(), 1) << "round " << round;
  }
  std::vector<std::atomic<int>> grid(64 * 64);
  parallel_for(64, [&](int64_t i) {
    parallel_for(64, [&](int64_t j) { grid[i * 64 + j].fetch_add(1); }, 2);
  }, 3);
  for (auto& h : grid) ASSERT_EQ(h.load(), 1);
  std::vector<std::atomic<int>> a(5000), b(5000);
  std::thread other([&] {
    for (int r = 0; r < 50; ++r) parallel_for(5000, [&](int64_t i) { a[i].fetch_add(1); }, 2);
  });
  for (int r = 0; r < 50; ++r) parallel_for(5000, [&](int64_t i) { b[i].fetch_add(1); }, 2);
  other.join();
  for (int i = 0; i < 5000; ++i) ASSERT_TRUE(a[i].load() == 50 && b[i].load() == 50) << i;
  for (int r = 0; r < 20; ++r)
    EXPECT_THROW(parallel_for(100, [](int64_t i) { if (i == 77) throw UserError("x"); }, 2), UserError);
  std::vector<int> out(1000);
  parallel_for(1000, [&](int64_t i) { out[i] = int(i); }, 2);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(out[i], i);
}

// An explicit chunk size (1, uneven, larger than n) still runs every index exactly once.
TEST(Parallel, ExplicitChunkSizesCoverEveryIndexOnce) {
  for (int64_t chunk : {1, 3, 7, 64, 1000}) {
    std::vector<std::atomic<int>> hits(101);
    parallel_for(101, [&](int64_t i) { hits[i].fetch_add(1); }, 2, chunk);
    for (size_t i = 0; i < hits.size(); ++i) ASSERT_EQ(hits[i].load(), 1) << chunk << " " << i;
  }
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
