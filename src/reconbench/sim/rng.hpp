// Deterministic random streams for the simulator.
//
// Every random quantity is drawn from its own std::mt19937_64 stream seeded from
// (global seed, file/subject index, slice, purpose) by SplitMix64 mixing, so results never
// depend on thread count or on the order in which volumes/slices are processed. Normal and
// uniform variates are computed here (not with <random> distributions, whose algorithms are
// implementation-defined) so that files are identical across standard libraries.
#pragma once

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <numbers>
#include <random>

namespace rb::sim {

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Seed of a stream identified by a list of integers (global seed, index, slice, purpose).
inline uint64_t stream_seed(std::initializer_list<uint64_t> ids) {
  uint64_t h = 0x5D1A2B3C4D5E6F70ull;
  for (uint64_t v : ids) h = splitmix64(h ^ splitmix64(v));
  return h;
}

// Purposes (the last id of a stream) so that distinct uses never share a stream.
enum Purpose : uint64_t {
  kSubject = 1, kCoils = 2, kNoise = 3, kContrast = 4, kLesion = 5, kPhase = 6, kPlan = 7,
  kScale = 8, kDeform = 9, kFine = 10, kB0 = 11,
};

class Rng {
 public:
  explicit Rng(uint64_t seed) : g_(seed) {}
  Rng(std::initializer_list<uint64_t> ids) : g_(stream_seed(ids)) {}
  // Uniform in [0, 1) with 53 bits.
  double uniform() { return static_cast<double>(g_() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Integer in [lo, hi] (inclusive).
  int64_t integer(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(uniform() * static_cast<double>(hi - lo + 1));
  }
  bool bernoulli(double p) { return uniform() < p; }
  // Standard normal (Box-Muller, both values used).
  double normal() {
    if (have_spare_) {
      have_spare_ = false;
      return spare_;
    }
    double u1 = uniform(), u2 = uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(2.0 * std::numbers::pi * u2);
    have_spare_ = true;
    return r * std::cos(2.0 * std::numbers::pi * u2);
  }
  double normal(double mean, double sd) { return mean + sd * normal(); }
  double lognormal(double median, double sigma) { return median * std::exp(sigma * normal()); }
  uint64_t bits() { return g_(); }

 private:
  std::mt19937_64 g_;
  double spare_ = 0;
  bool have_spare_ = false;
};

}  // namespace rb::sim
