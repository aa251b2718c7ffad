// numpy.random.RandomState bit-exactness. Expected values were printed by Debian's numpy
// 1.24.2 (the live comparison over many more draws is tests/oracle/test_sampling_masks.py).
#include <gtest/gtest.h>

#include <random>

#include "reconbench/core/error.hpp"
#include "reconbench/sampling/masks.hpp"

using namespace rb;

TEST(RandomState, IntSeedIsInitGenrand) {
  // np.random.RandomState(0).randint(0, 2**32, dtype=np.uint64) x3
  RandomState r(0);
  EXPECT_EQ(r.next32(), 2357136044U);
  EXPECT_EQ(r.next32(), 2546248239U);
  EXPECT_EQ(r.next32(), 3071714933U);
  // init_genrand(s) is std::mt19937(s): compare a long stream across several reloads.
  for (uint32_t seed : {1U, 42U, 5489U, 4294967295U}) {
    RandomState a(seed);
    std::mt19937 b(seed);
    for (int i = 0; i < 3000; ++i) ASSERT_EQ(a.next32(), b()) << "seed " << seed << " i " << i;
  }
}

TEST(RandomState, UniformIs53BitDouble) {
  // np.random.RandomState(0).random_sample(3)
  RandomState r(0);
  EXPECT_EQ(r.uniform(), 0.5488135039273248);
  EXPECT_EQ(r.uniform(), 0.7151893663724195);
  EXPECT_EQ(r.uniform(), 0.6027633760716439);
  RandomState s(4294967295U);
  EXPECT_EQ(s.uniform(), 0.0976320289940138);
}

TEST(RandomState, TupleSeedIsInitByArrayNotSeedSeq) {
  // r = np.random.RandomState((102, 105, 108, 101)); r.randint(0, 1000, 5); r.random_sample()
  const std::vector<uint32_t> key{102, 105, 108, 101};
  RandomState r{std::span<const uint32_t>(key)};
  const int64_t expect[] = {667, 99, 358, 357, 400};
  for (int64_t e : expect) EXPECT_EQ(r.randint(0, 1000), e);
  EXPECT_EQ(r.uniform(), 0.24107851103424416);
  // reseeding the same object gives the same stream
  r.seed(std::span<const uint32_t>(key));
  EXPECT_EQ(r.randint(0, 1000), 667);
  // std::seed_seq would give a different state
  std::seed_seq sq(key.begin(), key.end());
  std::mt19937 m(sq);
  RandomState r2{std::span<const uint32_t>(key)};
  EXPECT_NE(r2.next32(), m());
  EXPECT_THROW(r.seed(std::span<const uint32_t>()), UserError);
}

TEST(RandomState, RandintMaskedRejectionAndNoDrawCase) {
  // r = np.random.RandomState(12345); r.randint(0, 7, 5); r.randint(3, 4);
  // r.randint(-5, 1000000, 3); r.randint(0, 2**40, 2)
  RandomState r(12345);
  const int64_t a[] = {2, 5, 5, 1, 4};
  for (int64_t e : a) EXPECT_EQ(r.randint(0, 7), e);
  // high - 1 - low == 0: returns low and consumes nothing
  const auto before = r.state();
  EXPECT_EQ(r.randint(3, 4), 3);
  EXPECT_EQ(r.state().mt, before.mt);
  EXPECT_EQ(r.state().pos, before.pos);
  const int64_t b[] = {896420, 921593, 86393};
  for (int64_t e : b) EXPECT_EQ(r.randint(-5, 1000000), e);
  EXPECT_EQ(r.randint(0, int64_t{1} << 40), 436076954146);
  EXPECT_EQ(r.randint(0, int64_t{1} << 40), 128661371649);
  EXPECT_THROW(r.randint(4, 4), UserError);
}

TEST(RandomState, StateRoundTrip) {
  RandomState r(7);
  for (int i = 0; i < 700; ++i) r.next32();  // cross a reload
  const auto s = r.state();
  EXPECT_EQ(s.mt.size(), 624u);
  std::vector<uint32_t> first;
  for (int i = 0; i < 1000; ++i) first.push_back(r.next32());
  r.set_state(s);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(r.next32(), first[i]);
  RandomState::State bad{std::vector<uint32_t>(10), 0};
  EXPECT_THROW(r.set_state(bad), UserError);
}

TEST(SeedFromFilename, OrdsOfTheBaseName) {
  const auto s = seed_from_filename("file_brain_AXT2_200_2000019.h5");
  const std::string name = "file_brain_AXT2_200_2000019.h5";
  const auto& v = std::get<std::vector<uint32_t>>(s);
  ASSERT_EQ(v.size(), name.size());
  for (size_t i = 0; i < name.size(); ++i) EXPECT_EQ(v[i], uint32_t(name[i]));
  EXPECT_EQ(seed_from_filename("/data/test/ab.h5"), seed_from_filename("ab.h5"));
  // Python decodes file names to code points: "é" (UTF-8 c3 a9) -> 233; an invalid byte b
  // becomes the surrogate escape U+DC00 + b.
  EXPECT_EQ(std::get<std::vector<uint32_t>>(seed_from_filename("\xc3\xa9x")),
            (std::vector<uint32_t>{233, 'x'}));
  EXPECT_EQ(std::get<std::vector<uint32_t>>(seed_from_filename("a\xff")),
            (std::vector<uint32_t>{'a', 0xdcff}));
  EXPECT_EQ(mask_seed_str(MaskSeed{std::vector<uint32_t>{97, 98}}), "(97, 98)");
  EXPECT_EQ(mask_seed_str(MaskSeed{uint32_t{5}}), "5");
  EXPECT_THROW(seed_from_filename("dir/"), UserError);
}
