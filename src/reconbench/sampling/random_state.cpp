// numpy.random.RandomState (legacy seeding and draws), bit-exact: numpy/random/src/mt19937/
// (mt19937_seed = init_genrand, mt19937_init_by_array = Matsumoto & Nishimura's reference
// init_by_array), legacy random_sample (mt19937_next_double) and randint's masked rejection
// (random_bounded_uint64_fill with use_masked=true).
#include <algorithm>

#include "reconbench/core/error.hpp"
#include "reconbench/sampling/masks.hpp"

namespace rb {

namespace {
constexpr int kN = 624, kM = 397;
constexpr uint32_t kMatrixA = 0x9908b0dfU, kUpper = 0x80000000U, kLower = 0x7fffffffU;
}  // namespace

RandomState::RandomState(uint32_t s) { seed(s); }
RandomState::RandomState(std::span<const uint32_t> key) { seed(key); }

// init_genrand: mt[0] = s; mt[i] = 1812433253 * (mt[i-1] ^ (mt[i-1] >> 30)) + i.
void RandomState::seed(uint32_t s) {
  mt_[0] = s;
  for (int i = 1; i < kN; ++i) mt_[i] = 1812433253U * (mt_[i - 1] ^ (mt_[i - 1] >> 30)) + uint32_t(i);
  pos_ = kN;
}

// init_by_array (numpy seed(tuple)); numpy rejects an empty key ("Seed must be non-empty").
void RandomState::seed(std::span<const uint32_t> key) {
  RB_CHECK(!key.empty(), "RandomState seed: the seed tuple must be non-empty");
  seed(19650218U);
  const int len = static_cast<int>(key.size());
  int i = 1, j = 0;
  for (int k = std::max(kN, len); k > 0; --k) {
    mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1664525U)) + key[j] + uint32_t(j);
    ++i;
    ++j;
    if (i >= kN) {
      mt_[0] = mt_[kN - 1];
      i = 1;
    }
    if (j >= len) j = 0;
  }
  for (int k = kN - 1; k > 0; --k) {
    mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1566083941U)) - uint32_t(i);
    ++i;
    if (i >= kN) {
      mt_[0] = mt_[kN - 1];
      i = 1;
    }
  }
  mt_[0] = 0x80000000U;  // MSB set: non-zero initial state
  pos_ = kN;
}

void RandomState::reload() {
  auto twist = [](uint32_t a, uint32_t b) {
    const uint32_t y = (a & kUpper) | (b & kLower);
    return (y >> 1) ^ ((y & 1U) ? kMatrixA : 0U);
  };
  int i = 0;
  for (; i < kN - kM; ++i) mt_[i] = mt_[i + kM] ^ twist(mt_[i], mt_[i + 1]);
  for (; i < kN - 1; ++i) mt_[i] = mt_[i + (kM - kN)] ^ twist(mt_[i], mt_[i + 1]);
  mt_[kN - 1] = mt_[kM - 1] ^ twist(mt_[kN - 1], mt_[0]);
  pos_ = 0;
}

uint32_t RandomState::next32() {
  if (pos_ >= kN) reload();
  uint32_t y = mt_[pos_++];
  // tempering
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680U;
  y ^= (y << 15) & 0xefc60000U;
  y ^= y >> 18;
  return y;
}

// mt19937_next_double: a 53-bit double, (a * 2^26 + b) / 2^53 with a = 27 bits, b = 26 bits.
double RandomState::uniform() {
  const uint32_t a = next32() >> 5, b = next32() >> 6;
  return (a * 67108864.0 + b) / 9007199254740992.0;
}

// randint(low, high): rng = high - 1 - low; rng == 0 returns low without drawing; otherwise
// mask = smallest 2^k - 1 >= rng and draws (32-bit while rng < 2^32, else 64-bit = hi << 32 |
// lo) are rejected until (draw & mask) <= rng.
int64_t RandomState::randint(int64_t low, int64_t high) {
  RB_CHECK(low < high, "randint: low >= high (", low, " >= ", high, ")");
  const uint64_t rng = static_cast<uint64_t>(high) - 1U - static_cast<uint64_t>(low);
  if (rng == 0) return low;
  uint64_t mask = rng;
  mask |= mask >> 1;
  mask |= mask >> 2;
  mask |= mask >> 4;
  mask |= mask >> 8;
  mask |= mask >> 16;
  mask |= mask >> 32;
  uint64_t v;
  if (rng <= 0xffffffffULL) {
    const uint32_t m32 = static_cast<uint32_t>(mask);
    do v = next32() & m32;
    while (v > rng);
  } else {
    do {
      const uint64_t hi = next32();
      const uint64_t lo = next32();
      v = ((hi << 32) | lo) & mask;
    } while (v > rng);
  }
  return static_cast<int64_t>(static_cast<uint64_t>(low) + v);
}

RandomState::State RandomState::state() const {
  return State{std::vector<uint32_t>(mt_, mt_ + kN), pos_};
}

void RandomState::set_state(const State& s) {
  RB_CHECK(s.mt.size() == size_t(kN) && s.pos >= 0 && s.pos <= kN,
           "RandomState::set_state: state must have 624 words and 0 <= pos <= 624");
  std::copy(s.mt.begin(), s.mt.end(), mt_);
  pos_ = s.pos;
}

}  // namespace rb
