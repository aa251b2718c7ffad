// fastMRI mask functions: golden values from fastMRI's own tests and issue #54, the exact
// 4X/8X counts of the 2020 challenge mask, temp_seed semantics, error cases, apply_mask.
// (tests/oracle/test_sampling_masks.py compares every mask type with numpy bit for bit.)
#include <gtest/gtest.h>

#include <cmath>

#include "reconbench/core/error.hpp"
#include "reconbench/sampling/masks.hpp"

using namespace rb;

namespace {
MaskFunc make(MaskType t, std::vector<double> cfs, std::vector<double> accs, uint32_t rng_seed = 0,
              bool any = false) {
  MaskFuncOptions o;
  o.type = t;
  o.center_fractions = std::move(cfs);
  o.accelerations = std::move(accs);
  o.rng_seed = rng_seed;
  o.allow_any_combination = any;
  return MaskFunc(o);
}
constexpr MaskType kAll[] = {MaskType::Random, MaskType::Equispaced,
                             MaskType::EquispacedFraction, MaskType::Magic,
                             MaskType::MagicFraction};
}  // namespace

TEST(MaskType, NamesRoundTrip) {
  for (MaskType t : kAll) EXPECT_EQ(parse_mask_type(mask_type_name(t)), t);
  EXPECT_EQ(mask_type_name(MaskType::EquispacedFraction), "equispaced_fraction");
  EXPECT_THROW(parse_mask_type("equispaced-fraction"), UserError);
}

TEST(ChooseAcceleration, FastMriGoldenValues) {
  // fastMRI tests/test_transforms.py::test_fraction_accel_sync (allow_any_combination=True):
  // MaskFunc([0.04, 0.08], [8, 4], seed=2) -> (0.04, 4); [16, 8, 4], seed=8 -> (0.08, 16).
  auto f1 = make(MaskType::Random, {0.04, 0.08}, {8, 4}, 2, true);
  const Mask m1 = f1(320);
  EXPECT_EQ(m1.center_fraction, 0.04);
  EXPECT_EQ(m1.acceleration, 4.0);
  auto f2 = make(MaskType::Random, {0.04, 0.08}, {16, 8, 4}, 8, true);
  const Mask m2 = f2(320);
  EXPECT_EQ(m2.center_fraction, 0.08);
  EXPECT_EQ(m2.acceleration, 16.0);
  // Without any-combination the pair is drawn by index and stays paired.
  auto f3 = make(MaskType::EquispacedFraction, {0.04, 0.08}, {8, 4}, 2);
  for (int i = 0; i < 50; ++i) {
    const Mask m = f3(320);
    EXPECT_EQ(m.center_fraction == 0.04, m.acceleration == 8.0);
  }
}

TEST(EquispacedFraction, Issue54Example) {
  // fastMRI issue #54: W = 372, 4X, cf 0.08, seed 0 -> 30 center lines, adjusted acceleration
  // 4 (30 - 372) / (30 * 4 - 372) = 5.428571..., offset 4, first lines 4, 9, 15, 20.
  auto f = make(MaskType::EquispacedFraction, {0.08}, {4});
  const Mask m = f(372, MaskSeed{uint32_t{0}});
  EXPECT_EQ(m.num_low_frequencies, 30);
  EXPECT_NEAR(m.adjusted_acceleration, 5.428571, 1e-6);
  EXPECT_EQ(m.adjusted_acceleration, 4.0 * (30 - 372) / (30.0 * 4 - 372));
  EXPECT_EQ(m.offset, 4);
  const auto idx = m.indices();
  ASSERT_GE(idx.size(), 4u);
  EXPECT_EQ((std::vector<int64_t>(idx.begin(), idx.begin() + 4)),
            (std::vector<int64_t>{4, 9, 15, 20}));
  // Not exactly equispaced (the rounding preserved "to match the public multicoil data").
  EXPECT_EQ(idx[1] - idx[0], 5);
  EXPECT_EQ(idx[2] - idx[1], 6);
}

TEST(EquispacedFraction, ExactChallengeRatesAtW320) {
  // The 2020 challenge's pseudo-equispaced mask samples exactly 80 / 40 of 320 columns at
  // 4X (cf 0.08 -> 26 center lines) / 8X (cf 0.04 -> 13): 4X for every seed; at 8X an outer
  // line can fall inside the centre for some offsets, and numpy 1.24 itself then gives 39
  // (seeds 12 and 32 of 0..39; checked with the oracle's reference implementation).
  auto f4 = make(MaskType::EquispacedFraction, {0.08}, {4});
  auto f8 = make(MaskType::EquispacedFraction, {0.04}, {8});
  for (uint32_t s = 0; s < 40; ++s) {
    const Mask m4 = f4(320, MaskSeed{s}), m8 = f8(320, MaskSeed{s});
    EXPECT_EQ(m4.num_low_frequencies, 26);
    EXPECT_EQ(m8.num_low_frequencies, 13);
    EXPECT_EQ(m4.num_sampled(), 80) << "seed " << s;
    EXPECT_EQ(m8.num_sampled(), (s == 12 || s == 32) ? 39 : 40) << "seed " << s;
  }
  // fastMRI's centre counts at other widths (design note: W 372 -> 30/15, W 368 -> 29/15)
  EXPECT_EQ(f4(372).num_low_frequencies, 30);
  EXPECT_EQ(f8(372).num_low_frequencies, 15);
  EXPECT_EQ(f4(368).num_low_frequencies, 29);  // 29.44
  EXPECT_EQ(f8(368).num_low_frequencies, 15);  // 14.72
}

TEST(Masks, CenterIsContiguousAndCentredForAllTypes) {
  for (MaskType t : kAll) {
    for (int64_t w : {200, 201, 320, 333, 372}) {
      auto f = make(t, {0.08}, {4});
      const Mask m = f(w, MaskSeed{uint32_t(w)});
      ASSERT_EQ(static_cast<int64_t>(m.mask.size()), w);
      const int64_t nlf = m.num_low_frequencies, pad = (w - nlf + 1) / 2;
      for (int64_t i = pad; i < pad + nlf; ++i) EXPECT_EQ(m.mask[i], 1.0f) << mask_type_name(t);
      for (float v : m.mask) EXPECT_TRUE(v == 0.0f || v == 1.0f);
    }
  }
}

TEST(Masks, EquispacedHasExactSpacingOutsideTheCenter) {
  auto f = make(MaskType::Equispaced, {0.08}, {4});
  const Mask m = f(320, std::nullopt, int64_t{3});
  EXPECT_EQ(m.offset, 3);
  for (int64_t i = 0; i < 320; ++i) {
    const bool center = i >= 147 && i < 173;  // pad = (320 - 26 + 1) // 2 = 147
    EXPECT_EQ(m.mask[i] == 1.0f, center || i % 4 == 3) << i;
  }
}

TEST(Masks, MagicIsConjugateSymmetricallyOffset) {
  // Magic (Defazio 2019): the lines on the two halves are offset so that, mirrored through
  // the k-space centre, they interleave. Offset 0 at W = 320, acc 4: positive half (after the
  // fftshift, columns 160..319) holds 161, 165, ...; the negative half mirrors offset 2.
  auto f = make(MaskType::Magic, {0.0}, {4});
  const Mask m = f(320, std::nullopt, int64_t{0});
  EXPECT_EQ(m.num_low_frequencies, 0);
  for (int64_t i = 160; i < 320; ++i) EXPECT_EQ(m.mask[i] == 1.0f, (i - 160) % 4 == 1) << i;
  // negative half: neg[2::4] of length 160, flipped, placed at columns 0..159 after the shift
  for (int64_t i = 0; i < 160; ++i) {
    const int64_t k = 159 - i;  // index into neg
    EXPECT_EQ(m.mask[i] == 1.0f, k >= 2 && (k - 2) % 4 == 0) << i;
  }
}

TEST(Masks, MagicFractionBoundsAndAdjustment) {
  // W = 320, 4X, cf 0.08: target round(80) = 80, nlf 26, adjusted round(320 / 54) = 6.
  auto f = make(MaskType::MagicFraction, {0.08}, {4});
  const Mask m = f(320, MaskSeed{uint32_t{1}});
  EXPECT_EQ(m.num_low_frequencies, 26);
  EXPECT_EQ(m.adjusted_acceleration, 6.0);
  // nlf is bounded by round(W / acc): cf 0.5 at W 100, 8X -> min(50, 12) = 12 -> adj 0: raises
  auto g = make(MaskType::MagicFraction, {0.5}, {8});
  EXPECT_THROW(g(100), UserError);
  // round(W/acc) ties to even: W 10, acc 4 -> 2 (not 3); cf 0.1 -> nlf 1, adj round(10/1)
  auto h = make(MaskType::MagicFraction, {0.1}, {4});
  const Mask mh = h(10, std::nullopt, int64_t{0});
  EXPECT_EQ(mh.num_low_frequencies, 1);
  EXPECT_EQ(mh.adjusted_acceleration, 10.0);
}

TEST(Masks, PythonRoundTiesToEven) {
  // nlf = round(W * cf): 0.125 * 20 = 2.5 -> 2 and 0.125 * 28 = 3.5 -> 4 (not 3 and 4)
  auto f = make(MaskType::Random, {0.125}, {2});
  EXPECT_EQ(f(20).num_low_frequencies, 2);
  EXPECT_EQ(f(28).num_low_frequencies, 4);
}

TEST(Masks, TempSeedRestoresTheFunctionState) {
  // fastMRI temp_seed: a seeded call neither uses nor advances the function's own RNG.
  for (MaskType t : kAll) {
    auto a = make(t, {0.08, 0.04}, {4, 8}, 11);
    auto b = make(t, {0.08, 0.04}, {4, 8}, 11);
    const Mask a1 = a(333);
    const Mask seeded = a(333, MaskSeed{uint32_t{5}});
    const Mask a2 = a(333);
    const Mask b1 = b(333), b2 = b(333);
    EXPECT_EQ(a1.mask, b1.mask) << mask_type_name(t);
    EXPECT_EQ(a2.mask, b2.mask) << mask_type_name(t);
    // the same seed gives the same mask whatever the state
    auto c = make(t, {0.08, 0.04}, {4, 8}, 999);
    EXPECT_EQ(c(333, MaskSeed{uint32_t{5}}).mask, seeded.mask) << mask_type_name(t);
    // file-name seeds: every slice/call of a volume gets the same mask
    const MaskSeed fs = seed_from_filename("file_brain_AXT2_200_2000019.h5");
    EXPECT_EQ(c(333, fs).mask, a(333, fs).mask);
  }
  // restored even when the draw raises: g (seeded calls that throw) and h (none) then make
  // the same unseeded draws.
  auto g = make(MaskType::MagicFraction, {0.5, 0.08}, {8, 4}, 3);
  auto h = make(MaskType::MagicFraction, {0.5, 0.08}, {8, 4}, 3);
  int thrown = 0;
  for (uint32_t s = 0; s < 10; ++s) {
    try {
      g(100, MaskSeed{s});
    } catch (const UserError&) {
      ++thrown;
    }
  }
  EXPECT_GT(thrown, 0);
  auto draw = [](MaskFunc& f) {
    try {
      return f(100).mask;
    } catch (const UserError&) {
      return std::vector<float>{};
    }
  };
  int ok = 0;
  for (int i = 0; i < 10; ++i) {
    const auto mg = draw(g);
    EXPECT_EQ(mg, draw(h)) << i;
    ok += !mg.empty();
  }
  EXPECT_GT(ok, 0);
}

TEST(Masks, OptionErrorsAreUserErrors) {
  EXPECT_THROW(make(MaskType::Random, {0.08, 0.04}, {4}), UserError);
  EXPECT_NO_THROW(make(MaskType::Random, {0.08, 0.04}, {4}, 0, true));
  EXPECT_THROW(make(MaskType::Random, {}, {}), UserError);
  EXPECT_THROW(make(MaskType::Random, {1.5}, {4}), UserError);
  EXPECT_THROW(make(MaskType::Random, {0.08}, {0}), UserError);
  EXPECT_THROW(make(MaskType::Equispaced, {0.08}, {4.5}), UserError);
  EXPECT_THROW(make(MaskType::Magic, {0.08}, {2.5}), UserError);
  EXPECT_NO_THROW(make(MaskType::EquispacedFraction, {0.08}, {4.5}));
  auto f = make(MaskType::EquispacedFraction, {0.08}, {4});
  EXPECT_THROW(f(0), UserError);
  EXPECT_THROW(f(320, std::nullopt, int64_t{-1}), UserError);
  // 0.08 x 16 > 1: negative adjusted acceleration, numpy randint(0, round(a)) raises
  auto g = make(MaskType::EquispacedFraction, {0.08}, {16});
  EXPECT_THROW(g(320), UserError);
  // nlf * acc == W: division by zero in fastMRI
  auto h = make(MaskType::EquispacedFraction, {0.25}, {4});
  EXPECT_THROW(h(100), UserError);
  auto r = make(MaskType::Random, {1.0}, {4});
  EXPECT_THROW(r(100), UserError);
}

TEST(ApplyMask, NoNegativeZeroAndPaddingZeroed) {
  // [coil=2 read=3 phase=6], every value negative so x * 0 = -0.0 without the + 0.0.
  Array<cfloat> k({2, 3, 6});
  for (int64_t i = 0; i < k.size(); ++i)
    k[i] = cfloat(-1.0f - float(i), -0.5f - float(i));
  k[0] = cfloat(-0.0f, -0.0f);  // a sampled -0.0 also becomes +0.0 (x * 1 + 0.0)
  const Array<cfloat> orig = k;
  const std::vector<float> mask{1, 0, 1, 1, 0, 1};
  const auto applied = apply_mask_inplace(k.view(), mask, 1, 5);  // columns 0 and 5 padding
  EXPECT_EQ(applied, (std::vector<float>{0, 0, 1, 1, 0, 0}));
  for (int64_t r = 0; r < 6; ++r) {
    for (int64_t c = 0; c < 6; ++c) {
      const cfloat v = k[r * 6 + c], o = orig[r * 6 + c];
      if (applied[c] == 0.0f) {
        EXPECT_EQ(v, cfloat(0, 0));
        EXPECT_FALSE(std::signbit(v.real()));
        EXPECT_FALSE(std::signbit(v.imag()));
      } else {
        EXPECT_EQ(v, o);
      }
    }
  }
  EXPECT_FALSE(std::signbit(k[0].real()));
  // default padding: the whole width
  Array<cfloat> k2({1, 4}, cfloat(-2, -3));
  const auto a2 = apply_mask_inplace(k2.view(), std::vector<float>{0, 1, 0, 1});
  EXPECT_EQ(a2, (std::vector<float>{0, 1, 0, 1}));
  EXPECT_FALSE(std::signbit(k2[0].imag()));
  EXPECT_EQ(k2[1], cfloat(-2, -3));
  EXPECT_THROW(apply_mask_inplace(k2.view(), std::vector<float>{1, 1}), UserError);
  EXPECT_THROW(apply_mask_inplace(k2.view(), a2, 3, 2), UserError);
}
